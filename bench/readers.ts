/**
 * `npm run bench -- readers [--rate 7000] [--count 200000] [--rounds 2] [--devices 200] [--burst-ms 10]`: what each
 * reader of TELEMETRY costs nats-server, per stored reading. The e2e bench shows nats-server spending
 * about three times as much per reading behind fleetstream as behind the passthrough; this takes the
 * gateway, processors and sink out of it and leaves the stream and who reads it:
 *
 * - `store only`: gateway-shaped events (the real normalizer's headers and body, one `Nats-Msg-Id`
 *   each) published at a fixed rate (what is due every `--burst-ms`), nobody reading;
 * - `2 whole-stream readers`: the same, read back by two unfiltered consumers;
 * - `fleetstream`: the same, read by what `fleetstream start` reads it with: one consumer per
 *   partition (`iot.telemetry.<p>.>`) and the raw sink's consumer on the whole stream, polled as
 *   they are (`jetStreamSource`, see processors/sources/pull_poller.ts);
 * - `fleetstream, consume()`: the same consumers read through nats.js's `consume`, which keeps a
 *   pull request waiting on the server (how the processors read until 2026-12-02).
 *
 * Readers ack cumulatively (the newest message every 200 messages or 50 ms) and do nothing else.
 * Each layout gets a fresh nats-server; layouts alternate round by round, so the machine's drift
 * lands on all of them. Prints figures; asserts nothing.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect, type Msg } from "@nats-io/transport-node";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { loadConfig, streamNames } from "../core/config.ts";
import { createJsPublisher } from "../core/js_publisher.ts";
import { ensureStreams } from "../core/streams.ts";
import { subjects } from "../core/subjects.ts";
import { createNormalizer, type OutEvent } from "../gateway/normalizer.ts";
import { ackAll, DEFAULT_JETSTREAM_SOURCE_OPTIONS, jetStreamSource } from "../processors/sources/jetstream_source.ts";
import { startNatsServer } from "../testing/nats_server.ts";
import { cpuClock } from "./e2e_probe.ts";

type Layout = "store only" | "2 whole-stream readers" | "fleetstream" | "fleetstream, consume()";
const LAYOUTS: Layout[] = ["store only", "2 whole-stream readers", "fleetstream", "fleetstream, consume()"];

/** The durable consumers (name, filter; undefined = whole stream) a layout reads TELEMETRY with. */
function readersOf(layout: Layout, root: string, partitions: number): Array<[string, string | undefined]> {
  if (layout === "store only") return [];
  if (layout === "2 whole-stream readers") return [["whole_a", undefined], ["whole_b", undefined]];
  return [...Array.from({ length: partitions }, (_, p): [string, string] => [`part_${p}`, `${root}.telemetry.${p}.>`]), ["raw", `${root}.telemetry.>`]];
}

/** Acks the newest message every 200 messages or 50 ms, as the processors ack (cumulatively). */
function cumulativeAcks<M>(ackOne: (m: M) => void): { seen(m: M): void; stop(): void } {
  let newest: M | undefined;
  let since = 0;
  const ack = () => {
    if (newest !== undefined) ackOne(newest);
    newest = undefined;
    since = 0;
  };
  const t = setInterval(ack, 50);
  return {
    seen(m) {
      newest = m;
      if (++since === 200) ack();
    },
    stop: () => clearInterval(t),
  };
}

interface Measured {
  natsUsPerMsg: number;
  clientUsPerMsg: number;
  rate: number;
  /** Readings a reader had not received when the wait for them ended (its cost is then undercounted). */
  unread: number;
}

async function measure(layout: Layout, o: { rate: number; count: number; devices: number; burstMs: number }): Promise<Measured> {
  const ns = await startNatsServer();
  const nc = await connect({ servers: ns.url, noAsyncTraces: true });
  const stops: Array<() => void> = [];
  try {
    const cfg = loadConfig({ env: {}, overrides: {} });
    await ensureStreams(nc, cfg);
    const stream = streamNames(cfg).telemetry;
    const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    let delivered = 0;
    for (const [name, filter] of readersOf(layout, cfg.streams.subjectRoot, cfg.streams.partitions)) {
      await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.All, max_ack_pending: 5000, ...(filter ? { filter_subject: filter } : {}) });
      if (layout === "fleetstream") {
        const acks = cumulativeAcks<Msg>((m) => ackAll(nc, m));
        const sub = jetStreamSource(nc, { ...DEFAULT_JETSTREAM_SOURCE_OPTIONS, stream, durable: name, filterSubject: filter ?? "" }).subscribe((m) => {
          delivered++;
          acks.seen(m);
        });
        stops.push(acks.stop, () => sub.unsubscribe());
        continue;
      }
      const acks = cumulativeAcks<JsMsg>((m) => m.ack());
      const iter = await (await js.consumers.get(stream, name)).consume({ max_messages: 1000 });
      stops.push(acks.stop, () => iter.stop());
      void (async () => {
        for await (const m of iter) {
          delivered++;
          acks.seen(m);
        }
      })();
    }

    // What the gateway would store for each device's reading: the real normalizer's output.
    const normalizer = createNormalizer({ gatewayId: "bench", routes: cfg.routes, limits: cfg.limits, subjects: subj });
    const event = (i: number): OutEvent => {
      const payload = Buffer.from(JSON.stringify({ seq: i, ts: Date.now(), metrics: { temperature: 21.5 + (i % 100) / 10, humidity: 40 + (i % 7) } }));
      return normalizer.normalize(`devices/sensor-${i % o.devices}/telemetry`, payload, Date.now()).events[0]!;
    };
    const pub = createJsPublisher(nc, { maxInFlight: 300 });
    const natsCpu = cpuClock(ns.pid);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    while (sent < o.count) {
      const due = Math.min(o.count, Math.floor(((performance.now() - t0) / 1000) * o.rate));
      const work: Promise<unknown>[] = [];
      for (; sent < due; sent++) {
        const ev = event(sent);
        work.push(pub.publishDurably(ev.subject, ev.body, ev.headers));
      }
      await Promise.all(work);
      await sleep(o.burstMs);
    }
    const elapsed = (performance.now() - t0) / 1000;
    // Let the readers finish what was published, so their cost is all counted.
    // Every layout with readers reads each reading twice (the partition consumers share it out).
    const want = layout === "store only" ? 0 : 2 * sent;
    for (const deadline = Date.now() + 30_000; delivered < want && Date.now() < deadline; ) await sleep(50);
    const nats = natsCpu();
    const cpu = process.cpuUsage(cpu0);
    return { natsUsPerMsg: (nats * 1e6) / sent, clientUsPerMsg: (cpu.user + cpu.system) / sent, rate: sent / elapsed, unread: want - delivered };
  } finally {
    for (const s of stops) s();
    await nc.close();
    await ns.cleanup();
  }
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rate: { type: "string", default: "7000" },
      count: { type: "string", default: "200000" },
      rounds: { type: "string", default: "2" },
      devices: { type: "string", default: "200" },
      // The gateway publishes as MQTT messages come (a few ms apart at 7k/s); how bursty the
      // publisher is changes what a waiting reader costs nats-server.
      "burst-ms": { type: "string", default: "10" },
    },
    strict: true,
  });
  const o = { rate: Number(values.rate), count: Number(values.count), devices: Number(values.devices), burstMs: Number(values["burst-ms"]) };
  const rounds = Number(values.rounds);
  const results = new Map<Layout, Measured[]>(LAYOUTS.map((l) => [l, []]));
  for (let r = 0; r < rounds; r++) {
    for (const layout of LAYOUTS) {
      process.stderr.write(`[readers] round ${r + 1}/${rounds}: ${layout}\n`);
      results.get(layout)!.push(await measure(layout, o));
    }
  }
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`\nnats-server CPU per stored reading, by who reads TELEMETRY: ${o.count} fleetstream-shaped events at ${o.rate}/s from ${o.devices} devices, published every ${o.burstMs} ms, ${rounds} round(s), a fresh nats-server each`);
  w(`${"layout".padEnd(24)} ${"nats us/msg".padStart(12)} ${"client us/msg".padStart(14)} ${"rate/s".padStart(8)}  (one figure per round)`);
  for (const [layout, ms] of results) {
    const col = (f: (m: Measured) => number, d = 1) => ms.map((m) => f(m).toFixed(d)).join("/");
    w(`${layout.padEnd(24)} ${col((m) => m.natsUsPerMsg).padStart(12)} ${col((m) => m.clientUsPerMsg).padStart(14)} ${col((m) => m.rate, 0).padStart(8)}`);
  }
  const unread = [...results].flatMap(([layout, ms]) => ms.filter((m) => m.unread > 0).map((m) => `${layout}: ${m.unread}`));
  if (unread.length) w(`NOT all read back within 30 s, so those rounds undercount the readers' cost (${unread.join("; ")})`);
  w("client: this process (publisher and readers together). The readers only count and ack: what each");
  w("reading costs nats-server beyond `store only` is what reading it back costs, before any processing.");
}
