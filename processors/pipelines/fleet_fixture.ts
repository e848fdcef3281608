/**
 * Test and benchmark support: a deterministic simulated fleet published straight into TELEMETRY
 * (CloudEvents binary mode, as the gateway writes it) with disorder, duplicates, seq gaps and late
 * events, plus readers for what the processor wrote to RESULTS and the DLQ.
 */
import { mulberry32 } from "../../core/random.ts";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config } from "../../core/config.ts";
import { rfc3339, toHeaders } from "../../core/envelope.ts";
import { createJsPublisher } from "../../core/js_publisher.ts";
import type { MetricAggregate, WindowAggregateData } from "../../core/results.ts";
import { subjects } from "../../core/subjects.ts";
import { oracleKey, type OracleEvent } from "./window_oracle.ts";

export interface FleetOptions {
  devices: number;
  readings: number;
  seed: number;
  /** Event-time spacing of one device's readings (ms). */
  stepMs: number;
  /** Event time jitter, +- (ms). */
  jitterMs: number;
  /** Share of adjacent swaps in publish order. */
  swapRate: number;
  /** Share of readings re-sent with a different Nats-Msg-Id (so JetStream keeps both). */
  dupRate: number;
  /** Share of readings that are late but within allowed lateness (event time - 20 s). */
  correctionRate: number;
  /** Share of readings beyond allowed lateness (event time - 10 min). */
  lateRate: number;
  /** Share of seqs that never arrive (devices with seq only). */
  gapRate: number;
  startTime: number;
}

export const DEFAULT_FLEET_OPTIONS: FleetOptions = {
  devices: 200,
  readings: 500,
  seed: 42,
  stepMs: 1000,
  jitterMs: 1500,
  swapRate: 0.2,
  dupRate: 0.02,
  correctionRate: 0.01,
  lateRate: 0.005,
  gapRate: 0.004,
  startTime: Date.parse("2026-01-01T00:00:00.000Z"),
};

const prng = mulberry32;

/** Every reading in publish order; `dup` marks a re-send. Even-numbered devices send seqs. */
export function buildFleet(options: Partial<FleetOptions> = {}): Array<OracleEvent & { dup: boolean }> {
  const o = { ...DEFAULT_FLEET_OPTIONS, ...options };
  const rnd = prng(o.seed);
  const perDevice: Array<Array<OracleEvent & { dup: boolean }>> = [];
  for (let d = 0; d < o.devices; d++) {
    const device = `dev-${d}`;
    const useSeq = d % 2 === 0;
    const evs: Array<OracleEvent & { dup: boolean }> = [];
    for (let i = 0; i < o.readings; i++) {
      if (useSeq && i > 0 && rnd() < o.gapRate) continue;
      let time = o.startTime + i * o.stepMs + Math.round((rnd() * 2 - 1) * o.jitterMs);
      const r = rnd();
      if (r < o.lateRate) time -= 600_000;
      else if (r < o.lateRate + o.correctionRate) time -= 20_000;
      const metrics: Record<string, number | boolean> = { temperature: Math.round((20 + 5 * Math.sin(i / 10) + rnd()) * 100) / 100 };
      if (i % 3 === 0) metrics.door_open = rnd() < 0.5;
      evs.push({ id: useSeq ? `${device}:s${i}` : `${device}:r${i}`, device, seq: useSeq ? i : undefined, time, metrics, dup: false });
    }
    for (let i = 2; i < evs.length; i++) if (rnd() < o.swapRate) [evs[i - 1], evs[i]] = [evs[i]!, evs[i - 1]!];
    const withDups: Array<OracleEvent & { dup: boolean }> = [];
    for (const e of evs) {
      withDups.push(e);
      if (rnd() < o.dupRate) withDups.push({ ...e, dup: true });
    }
    perDevice.push(withDups);
  }
  const out: Array<OracleEvent & { dup: boolean }> = [];
  const max = Math.max(...perDevice.map((p) => p.length));
  for (let i = 0; i < max; i++) for (const p of perDevice) if (i < p.length) out.push(p[i]!);
  return out;
}

/** Publishes readings to TELEMETRY as the gateway would (re-sends get a distinct Nats-Msg-Id). */
export async function publishFleet(nc: NatsConnection, cfg: Config, events: Array<OracleEvent & { dup?: boolean }>): Promise<void> {
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const pub = createJsPublisher(nc, { maxInFlight: 2000 });
  const ps: Promise<unknown>[] = [];
  let k = 0;
  for (const e of events) {
    const h = toHeaders({
      specversion: "1.0",
      id: e.id,
      source: "fleetstream/gateway/test",
      type: "SensorReadingRecorded",
      subject: e.device,
      time: rfc3339(e.time),
      seq: e.seq,
      timesource: "device",
      datacontenttype: "application/json",
      data: { metrics: e.metrics },
    });
    if (e.dup) h.set("Nats-Msg-Id", `${e.id}:resent${k++}`);
    ps.push(pub.publishDurably(subj.input("telemetry", e.device), JSON.stringify({ metrics: e.metrics }), h));
    if (ps.length >= 5000) await Promise.all(ps.splice(0));
  }
  await Promise.all(ps);
  await pub.close();
}

/** Every message on a subject filter of a stream, in order, as parsed JSON bodies plus their headers' ce-id. */
export async function readStream<T>(nc: NatsConnection, stream: string, filter: string): Promise<Array<{ id: string; data: T }>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: filter } as never);
  const total = Object.values((info.state as { subjects?: Record<string, number> }).subjects ?? {}).reduce((a, b) => a + b, 0);
  const out: Array<{ id: string; data: T }> = [];
  if (total === 0) return out;
  // A single filter_subject: nats-server 2.10 is slow with filter_subjects on large streams.
  const ci = await jsm.consumers.add(stream, { filter_subject: filter, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: nanos(30_000) });
  const c = await jetstream(nc).consumers.get(stream, ci.name);
  const iter = await c.consume({ max_messages: 2000 });
  for await (const m of iter) {
    out.push({ id: m.headers?.get("ce-id") ?? m.headers?.get("Nats-Msg-Id") ?? "", data: m.json<T>() });
    if (m.info.pending === 0) break;
  }
  iter.stop();
  await jsm.consumers.delete(stream, ci.name).catch(() => {});
  return out;
}

/** Latest revision of every window in RESULTS (superseded sessions, with no metrics, left out). */
export async function readLatestWindows(nc: NatsConnection, cfg: Config) {
  const msgs = await readStream<WindowAggregateData>(nc, streamNames(cfg).results, `${cfg.streams.subjectRoot}.results.window.>`);
  const latest = new Map<string, { end: number; revision: number; metrics: Record<string, MetricAggregate> }>();
  for (const { data: r } of msgs) {
    const k = oracleKey(r.device, r.window, r.start);
    const cur = latest.get(k);
    if (!cur || r.revision > cur.revision) latest.set(k, { end: r.end, revision: r.revision, metrics: r.metrics });
  }
  for (const [k, w] of latest) if (Object.keys(w.metrics).length === 0) latest.delete(k);
  return { latest, messages: msgs.length };
}

/** Resolves once every processor consumer of the config has delivered and had acked everything. */
export async function waitForDrained(nc: NatsConnection, cfg: Config, kinds: Array<"telemetry" | "location"> = ["telemetry"], timeoutMs = 60_000): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names = streamNames(cfg);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let busy = false;
    for (const kind of kinds) {
      for (let p = 0; p < cfg.streams.partitions; p++) {
        try {
          const ci = await jsm.consumers.info(kind === "telemetry" ? names.telemetry : names.location, `${cfg.streams.prefix}processor_${kind}_${p}`);
          if (ci.num_pending > 0 || ci.num_ack_pending > 0) busy = true;
        } catch {
          busy = true;
        }
      }
    }
    if (!busy) return;
    if (Date.now() > deadline) throw new Error("processor did not drain its input in time");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Resolves once RESULTS has taken no new message for `quietMs` (idle closes and reorder timeouts
 * arrive after the input is drained), or throws after `timeoutMs`.
 */
export async function waitForQuietResults(nc: NatsConnection, cfg: Config, quietMs: number, timeoutMs = 60_000): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = (await jsm.streams.info(streamNames(cfg).results)).state.messages;
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    if (Date.now() > deadline) throw new Error("RESULTS did not become quiet in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
