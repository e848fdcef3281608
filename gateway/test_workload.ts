/**
 * Test and benchmark helpers: a deterministic mixed device workload with the events and DLQ records
 * it must produce (computed independently of the gateway), an MQTT QoS 1 sender, a stream reader, and
 * a gateway rig for the outage tests.
 */
import { mulberry32 } from "../core/random.ts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import mqtt, { type MqttClient } from "mqtt";
import { dlqRecordId, toBase64, type DlqRecord } from "../core/dlq.ts";
import { eventId } from "../core/envelope.ts";
import type { DlqReason } from "../core/errors.ts";
import { streamNames, type Config } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { createGateway, type Gateway } from "./gateway.ts";

export interface WorkloadMessage {
  topic: string;
  payload: Buffer;
}

export interface Workload {
  messages: WorkloadMessage[];
  /** ce-ids TELEMETRY must hold. */
  telemetry: Set<string>;
  /** ce-ids LOCATION must hold. */
  location: Set<string>;
  /** DLQ record ids (`dlqRecordId`) the DLQ must hold, with their reasons. */
  dlq: Map<string, DlqReason>;
  /** OwnTracks non-location messages (acknowledged, not stored). */
  ignored: number;
}

/** Small deterministic PRNG (mulberry32). */
export const prng = mulberry32;

export interface WorkloadOptions {
  count: number;
  seed: number;
  /** Share of re-sent earlier messages (same topic and bytes). */
  duplicates: number;
  /** Share of each bad-input kind. */
  badEach: number;
  /** The gateway's `limits.maxPayload`; oversized payloads are made just above it. */
  maxPayload: number;
  devices: number;
  now: number;
  /** Prefix of device ids (so that runs against one server differ). */
  devicePrefix: string;
}

export const DEFAULT_WORKLOAD_OPTIONS: WorkloadOptions = {
  count: 10_000, seed: 1, duplicates: 0.05, badEach: 0.02, maxPayload: 4096, devices: 40, now: Date.now(), devicePrefix: "d",
};

/**
 * A mix of canonical readings (single and batches, some with a bad element), canonical locations,
 * OwnTracks (locations and ignored waypoints), Zigbee2MQTT states, re-sent duplicates and every bad
 * input kind the gateway can see: malformed_json, schema_violation, invalid_device_id,
 * payload_too_large, timestamp_out_of_range.
 */
export function buildWorkload(options: Partial<WorkloadOptions> = {}): Workload {
  const o = { ...DEFAULT_WORKLOAD_OPTIONS, ...options };
  const rnd = prng(o.seed);
  const w: Workload = { messages: [], telemetry: new Set(), location: new Set(), dlq: new Map(), ignored: 0 };
  const seqs = new Map<string, number>();
  const dev = () => `${o.devicePrefix}${Math.floor(rnd() * o.devices)}`;
  const nextSeq = (d: string) => {
    const s = (seqs.get(d) ?? 0) + 1;
    seqs.set(d, s);
    return s;
  };
  const ts = () => o.now - Math.floor(rnd() * 60_000);
  const reject = (reason: DlqReason, topic: string, original: string | Buffer, index?: number) => {
    const rec = { stage: "gateway", reason, topic, index, original: toBase64(original) } as DlqRecord;
    w.dlq.set(dlqRecordId(rec), reason);
  };
  const push = (topic: string, body: string | Buffer) => w.messages.push({ topic, payload: Buffer.isBuffer(body) ? body : Buffer.from(body) });
  let n = 0;
  const reading = (d: string, keyKind: number) => {
    const metrics = { temperature: Math.round(rnd() * 4000) / 100, humidity: Math.round(rnd() * 100), door_open: rnd() < 0.5 };
    if (keyKind === 0) return { el: { ts: ts(), id: `r-${n}-${Math.floor(rnd() * 1e9)}`, metrics }, key: "id" };
    if (keyKind === 1) return { el: { ts: ts(), seq: nextSeq(d), metrics }, key: "seq" };
    return { el: { ts: ts(), metrics, nonce: Math.floor(rnd() * 1e12) }, key: "hash" };
  };
  const idOf = (d: string, el: Record<string, unknown>, topic: string, bytes: string) =>
    eventId(d, { id: el.id as string | undefined, seq: el.seq as number | undefined, topic, bytes });

  while (w.messages.length < o.count) {
    n++;
    const r = rnd();
    const d = dev();
    const bad = o.badEach;
    if (r < o.duplicates && w.messages.length > 0) {
      const prev = w.messages[Math.floor(rnd() * w.messages.length)]!;
      w.messages.push(prev);
      continue;
    }
    let x = r - o.duplicates;
    const T = `devices/${d}/telemetry`;
    if ((x -= bad) < 0) {
      const body = `{"metrics": {"temperature": ${n}`;
      reject("malformed_json", T, body);
      push(T, body);
    } else if ((x -= bad) < 0) {
      const body = JSON.stringify({ seq: nextSeq(d), metrics: { temperature: `warm-${n}` } });
      reject("schema_violation", T, body);
      push(T, body);
    } else if ((x -= bad) < 0) {
      const topic = `devices/bad!${d}/telemetry`;
      const body = JSON.stringify({ id: `x${n}`, metrics: { a: 1 } });
      reject("invalid_device_id", topic, body);
      push(topic, body);
    } else if ((x -= bad) < 0) {
      const body = JSON.stringify({ id: `big${n}`, metrics: { a: 1 }, pad: "p".repeat(o.maxPayload) });
      reject("payload_too_large", T, body);
      push(T, body);
    } else if ((x -= bad) < 0) {
      const body = JSON.stringify({ ts: o.now - 8 * 86_400_000 - n, id: `old${n}`, metrics: { a: 1 } });
      reject("timestamp_out_of_range", T, body);
      push(T, body);
    } else {
      const kind = Math.floor(rnd() * 6);
      if (kind === 0) {
        const { el } = reading(d, Math.floor(rnd() * 3));
        const body = JSON.stringify(el);
        w.telemetry.add(idOf(d, el, T, body));
        push(T, body);
      } else if (kind === 1) {
        // A batch of 3-6, sometimes with one bad element.
        const size = 3 + Math.floor(rnd() * 4);
        const els: Record<string, unknown>[] = [];
        for (let i = 0; i < size; i++) els.push(reading(d, Math.floor(rnd() * 3)).el);
        const badAt = rnd() < 0.3 ? Math.floor(rnd() * size) : -1;
        if (badAt >= 0) els[badAt] = { seq: nextSeq(d), metrics: { "bad name": n } };
        els.forEach((el, i) => {
          const bytes = JSON.stringify(el);
          if (i === badAt) reject("schema_violation", T, bytes, i);
          else w.telemetry.add(idOf(d, el, T, bytes));
        });
        push(T, JSON.stringify(els));
      } else if (kind === 2) {
        const topic = `devices/${d}/location`;
        const el = { ts: ts(), seq: nextSeq(`${d}/loc`), lat: rnd() * 180 - 90, lon: rnd() * 360 - 180, speed: rnd() * 30, heading: rnd() * 359 };
        const body = JSON.stringify(el);
        w.location.add(idOf(d, el, topic, body));
        push(topic, body);
      } else if (kind === 3) {
        const user = `u${Math.floor(rnd() * 10)}`;
        const topic = `owntracks/${user}/phone`;
        if (rnd() < 0.2) {
          w.ignored++;
          push(topic, JSON.stringify({ _type: "waypoint", desc: `wp${n}`, tst: Math.floor(o.now / 1000) }));
        } else {
          const body = JSON.stringify({ _type: "location", lat: rnd() * 90, lon: rnd() * 90, tst: Math.floor(ts() / 1000), vel: Math.floor(rnd() * 100), cog: 90, acc: 5, n });
          w.location.add(eventId(`${user}-phone`, { topic, bytes: body }));
          push(topic, body);
        }
      } else {
        const topic = `zigbee2mqtt/${d}_z`;
        const body = JSON.stringify({ temperature: rnd() * 30, battery: 90, occupancy: rnd() < 0.5, state: "ON", linkquality: Math.floor(rnd() * 255), last_seen: new Date(ts()).toISOString(), n });
        w.telemetry.add(eventId(`${d}_z`, { topic, bytes: body }));
        push(topic, body);
      }
    }
  }
  // Every iteration pushes exactly one message, so the list has exactly `count` and every expectation
  // added belongs to a message in it (duplicates add none).
  return w;
}

/** Connects an MQTT client and waits for CONNACK. */
export async function connectMqtt(url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 500, ...opts });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", reject);
  });
  return c;
}

/**
 * Publishes messages at QoS 1 with up to `window` unacknowledged, resolving with the indexes the
 * broker acknowledged (PUBACK received).
 */
export async function sendQos1(c: MqttClient, messages: WorkloadMessage[], window = 500, onAck?: (i: number) => void): Promise<number> {
  let next = 0;
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    let active = 0;
    const pump = () => {
      while (active < window && next < messages.length) {
        const i = next++;
        active++;
        c.publish(messages[i]!.topic, messages[i]!.payload, { qos: 1 }, (err) => {
          active--;
          if (err) return reject(err);
          acked++;
          onAck?.(i);
          if (acked === messages.length) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  return acked;
}

export interface StoredMessage {
  subject: string;
  headers: Record<string, string>;
  data: Uint8Array;
}

/** Every message of a stream, read with an ordered consumer. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return [];
  const last = info.state.last_seq;
  const c = await jetstream(nc).consumers.get(stream);
  const it = await c.consume({ max_messages: 2000 });
  const out: StoredMessage[] = [];
  for await (const m of it) {
    const headers: Record<string, string> = {};
    for (const k of m.headers?.keys() ?? []) headers[k] = m.headers!.get(k);
    out.push({ subject: m.subject, headers, data: m.data });
    if (m.seq >= last) break;
  }
  await it.close();
  return out;
}

/** Waits until a stream holds at least `count` messages (or the timeout passes); returns the count. */
export async function waitForCount(nc: NatsConnection, stream: string, count: number, timeoutMs = 30_000): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = (await jsm.streams.info(stream)).state.messages;
    if (n >= count || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Publishes `total` QoS 1 readings at `rate`/s over `devices` devices (ids `<prefix><n % devices>`),
 * calls `outage` once, 2 s in, and resolves with the ce-ids the device got a PUBACK for, after
 * waiting (up to 30 s) for mqtt.js to resend what the outage left unacknowledged.
 */
export async function sendThroughOutage(
  dev: MqttClient,
  o: { total: number; rate: number; devices: number; prefix: string },
  outage: () => Promise<void>,
): Promise<Set<string>> {
  const acked = new Set<string>();
  const start = Date.now();
  let outageDone: Promise<void> | undefined;
  for (let i = 0; i < o.total; i++) {
    const due = start + (i * 1000) / o.rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    if (!outageDone && Date.now() - start > 2000) outageDone = outage();
    const device = `${o.prefix}${i % o.devices}`;
    const id = `m${i}`;
    dev.publish(`devices/${device}/telemetry`, JSON.stringify({ id, ts: Date.now(), metrics: { v: i } }), { qos: 1 }, (err) => {
      if (!err) acked.add(`${device}:${id}`);
    });
  }
  await outageDone;
  const deadline = Date.now() + 30_000;
  while (acked.size < o.total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return acked;
}

/** A gateway between one MQTT device and JetStream, for the outage tests; `close()` undoes it all. */
export interface GatewayRig {
  /** The test's own connection (it reconnects for as long as a server is down). */
  nc: NatsConnection;
  gw: Gateway;
  dev: MqttClient;
  close(): Promise<void>;
}

/** Streams, a started gateway and a device with a persistent session (`clean: false`). */
export async function startGatewayRig(cfg: Config, device: { url: string; protocolVersion: 4 | 5; clientId: string }): Promise<GatewayRig> {
  const undo: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const u of undo.splice(0).reverse()) await u();
  };
  try {
    const nc = await connect({ servers: cfg.nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    undo.push(() => nc.close());
    await ensureStreams(nc, cfg);
    const gwNc = await connectNats(cfg.nats, silentLogger, "gateway-test");
    undo.push(() => gwNc.close());
    const gw = createGateway({ nc: gwNc, cfg, log: silentLogger, registry: createRegistry() });
    await gw.start();
    undo.push(() => gw.stop());
    const dev = await connectMqtt(device.url, { protocolVersion: device.protocolVersion, clientId: device.clientId, clean: false, reconnectPeriod: 250 });
    undo.push(() => dev.endAsync(true));
    return { nc, gw, dev, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * {@link sendThroughOutage} with an outage of `downMs` (`down()`, then `up()`), noting whether the
 * gateway said it was not ready halfway through; then waits until TELEMETRY holds as many events as
 * were acknowledged, lets late writes land (1 s) and returns the ce-ids it holds, in stream order.
 */
export async function runThroughOutage(
  rig: GatewayRig,
  cfg: Config,
  load: { total: number; rate: number; devices: number; prefix: string },
  outage: { down(): Promise<void>; up(): Promise<void>; downMs: number },
): Promise<{ acked: Set<string>; readyDuringOutage: boolean | undefined; stored: string[] }> {
  let readyDuringOutage: boolean | undefined;
  const acked = await sendThroughOutage(rig.dev, load, async () => {
    await outage.down();
    await new Promise((r) => setTimeout(r, outage.downMs / 2));
    readyDuringOutage = rig.gw.ready();
    await new Promise((r) => setTimeout(r, outage.downMs / 2));
    await outage.up();
  });
  const telemetry = streamNames(cfg).telemetry;
  await waitForCount(rig.nc, telemetry, acked.size, 40_000);
  await new Promise((r) => setTimeout(r, 1000));
  const stored = (await readStream(rig.nc, telemetry)).map((m) => m.headers["ce-id"]!);
  return { acked, readyDuringOutage, stored };
}
