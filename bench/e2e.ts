/**
 * `npm run bench` / `npm run bench -- e2e [--rates 2000,5000,...] [--step 30s] [--devices 200] [--max-in-flight N]`: the
 * end-to-end benchmark. Real nats-server, Mosquitto and VictoriaMetrics (the `/api/v2/write` store);
 * `fleetstream start` as a separate OS process (broker intake, processors, InfluxDB sink); simulated
 * sensors publishing QoS 1 at stepped rates from another process. Per step it prints the achieved
 * rate, whether every reading the broker acknowledged reached TELEMETRY and VictoriaMetrics, p50/p99
 * from a reading's event time (= its scheduled send time) to its raw point being stored, and the
 * fleetstream process's peak RSS and CPU; after the last step, whether every acknowledged reading was
 * stored in the end (a step's "missing" may only be late). Beside it, the raw MQTT -> JetStream
 * passthrough (the target's yardstick) and the same passthrough read back through one consumer, each
 * measured before and after it in the same run. Prints figures, never asserts.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "../core/config.ts";
import { startMosquitto, startNatsServer, startVictoriaMetrics } from "../testing/mod.ts";
import { startFleetstream, type FleetstreamProcess } from "./e2e_fleetstream.ts";
import { runLoad } from "./e2e_load.ts";
import { READER, startPassthrough } from "./e2e_passthrough.ts";
import { cpuClock, histogramDelta, histogramQuantile, machineBusyPct, machineCpu, metricValue, parseHistogram, procSample, scrapeText, vmSampleCount } from "./e2e_probe.ts";

const LATENCY = "fleetstream_sink_event_latency_seconds";
/** From the gateway receiving a reading to JetStream storing it: what each in-flight slot is held for. */
const STORE_LATENCY = "fleetstream_gateway_publish_latency_seconds";
/** A step kept up when everything it published was stored within this long after its last PUBACK. */
const KEEP_UP_MS = 5_000;
/** How long to wait for stragglers before calling them missing. */
const DRAIN_TIMEOUT_MS = 30_000;
/** After the last step, how long to wait for everything acknowledged before calling the rest lost. */
const SETTLE_TIMEOUT_MS = 180_000;
const MB = 1024 * 1024;
/** The rate the RSS target is stated at. */
const RSS_PROBE_RATE = 10_000;
/**
 * Mosquitto as shipped (deploy/mosquitto/mosquitto.conf), not as the tests run it: each autosave
 * writes every message queued for the gateway's persistent session, so the tests' 1 s interval made a
 * gateway that fell behind dearer to catch up than it is in a deployment.
 */
const BROKER = { autosaveInterval: shippedAutosaveInterval() };

function shippedAutosaveInterval(): number {
  const conf = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../deploy/mosquitto/mosquitto.conf"), "utf8");
  const m = /^autosave_interval\s+(\d+)/m.exec(conf);
  if (!m) throw new Error("deploy/mosquitto/mosquitto.conf has no autosave_interval");
  return Number(m[1]);
}

interface Step {
  target: number;
  achieved: number;
  acked: number;
  /** Readings acknowledged by the broker but not in VictoriaMetrics (or TELEMETRY) after the drain timeout. */
  missing: number;
  dlq: number;
  /** From the last PUBACK to everything stored; undefined when it never was. */
  drainMs?: number;
  /** From the last PUBACK to everything in TELEMETRY (the gateway's share of the drain). */
  jsDrainMs?: number;
  /** What the gateway sustained: readings over the step plus its JetStream drain. */
  ingest: number;
  p50: number;
  p99: number;
  /** Mean time from the gateway receiving a reading to JetStream storing it, over the step. */
  storeMs: number;
  peakRssMb: number;
  /** V8 heap (total) when the load ended, from the process's own /metrics. */
  heapMb: number;
  /** fleetstream's event-loop delay, p99, over the step (prom-client resets it at each scrape). */
  loopP99Ms: number;
  cpuPct: number;
  /** fleetstream CPU time per reading of the step (load-independent-ish: the machine is shared). */
  cpuUsPerMsg: number;
  /** nats-server's CPU time per reading over the step and its drain (it serves the whole pipeline). */
  natsUsPerMsg: number;
  /** Mosquitto's, over the same interval. */
  mosqUsPerMsg: number;
  /** The load generator's (the simulated devices), over its run. */
  genUsPerMsg: number;
  /** Every core of the machine (broker, nats-server, store, generator, fleetstream), % busy over the step and drain. */
  boxPct: number;
  status: string;
}

interface PassResult {
  /** Read back through one consumer, and timed until it has read everything. */
  reader: boolean;
  rate: number;
  generated: number;
  stored: number;
  peakRssMb: number;
  cpuUsPerMsg: number;
  natsUsPerMsg: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function streamCount(jsm: JetStreamManager, name: string): Promise<number> {
  return jsm.streams.info(name).then((i) => i.state.messages, () => 0);
}

/**
 * Messages a stream has stored since it was made (its last sequence): unlike its message count, not
 * lowered when its limits discard old ones (1 GiB of TELEMETRY is ~2.1M readings: a long step passes it).
 */
async function storedEver(jsm: JetStreamManager, name: string): Promise<number> {
  return jsm.streams.info(name).then((i) => i.state.last_seq, () => 0);
}

/** Samples a process's RSS every 250 ms; `stop()` returns the peak. */
function rssSampler(pid: number): { stop(): number } {
  let peak = procSample(pid)?.rssBytes ?? 0;
  const t = setInterval(() => (peak = Math.max(peak, procSample(pid)?.rssBytes ?? 0)), 250);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, procSample(pid)?.rssBytes ?? 0);
    },
  };
}

async function measurePassthrough(jsm: JetStreamManager, natsUrl: string, natsPid: number | undefined, mqttUrl: string, count: number, devices: number, reader: boolean): Promise<PassResult> {
  const pass = await startPassthrough({ natsUrl, mqttUrl, stream: "E2E_PASS", subject: "e2epass", reader });
  // With a reader, a message counts once it has been read back (delivered), not when stored.
  const progress = reader ? () => jsm.consumers.info("E2E_PASS", READER).then((i) => i.delivered.stream_seq, () => 0) : () => streamCount(jsm, "E2E_PASS");
  const rss = rssSampler(pass.pid);
  const passCpu = cpuClock(pass.pid);
  const natsCpu = cpuClock(natsPid);
  try {
    // Flat out: as fast as the generator gets PUBACKs with 1000 in flight.
    const samples: Array<{ t: number; n: number }> = [];
    let loading = true;
    const poll = (async () => {
      while (loading) {
        samples.push({ t: Date.now(), n: await progress() });
        await sleep(100);
      }
    })();
    const load = await runLoad({ mqttUrl, rate: devices * 1000, count, devices, prefix: "pass-", seed: 1 });
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (Date.now() < deadline && (samples[samples.length - 1]?.n ?? 0) < load.acked) await sleep(100);
    loading = false;
    await poll;
    const first = samples.find((s) => s.n > 0);
    const last = samples.find((s) => s.n >= load.acked) ?? samples[samples.length - 1]!;
    const rate = first && last.t > first.t ? (last.n - first.n) / ((last.t - first.t) / 1000) : 0;
    const n = Math.max(1, last.n);
    return { reader, rate, generated: load.acked, stored: last.n, peakRssMb: rss.stop() / MB, cpuUsPerMsg: (passCpu() / n) * 1e6, natsUsPerMsg: (natsCpu() / n) * 1e6 };
  } finally {
    rss.stop();
    await pass.stop();
    await jsm.streams.delete("E2E_PASS").catch(() => false);
  }
}

/** What became of every reading the broker acknowledged, once fleetstream had SETTLE_TIMEOUT_MS to catch up after the last step. */
interface Settled extends Drained {
  acked: number;
}

interface Drained {
  /** Acknowledged readings not in TELEMETRY or not in VictoriaMetrics when the wait ended. */
  missing: number;
  /** How long until TELEMETRY held them all; undefined when it never did. */
  jsMs?: number;
  /** How long until both held them all; undefined when they never did. */
  allMs?: number;
}

/** Waits, up to `timeoutMs` after `t0`, for TELEMETRY and VictoriaMetrics to hold `total` readings; times count from `t0`. */
async function awaitStored(jsm: JetStreamManager, vmUrl: string, total: number, timeoutMs: number, t0 = Date.now()): Promise<Drained> {
  let jsMs: number | undefined;
  for (;;) {
    const [telemetry, stored] = await Promise.all([storedEver(jsm, "TELEMETRY"), vmSampleCount(vmUrl, "sensor_reading_temperature")]);
    if (jsMs === undefined && telemetry >= total) jsMs = Date.now() - t0;
    const missing = Math.max(0, total - Math.min(telemetry, stored));
    if (missing === 0) return { missing, jsMs, allMs: Date.now() - t0 };
    if (Date.now() - t0 >= timeoutMs) return { missing, jsMs };
    await sleep(200);
  }
}

async function runStep(
  fs: FleetstreamProcess,
  natsPid: number | undefined,
  mosqPid: number | undefined,
  jsm: JetStreamManager,
  vmUrl: string,
  mqttUrl: string,
  target: number,
  stepMs: number,
  devices: number,
  ackedBefore: number,
  seq: { next: number },
): Promise<Step> {
  // Both histograms from one scrape, before and after, so each pair spans the same interval.
  const histograms = async () => {
    const text = await scrapeText(fs.metricsUrl);
    return { lat: parseHistogram(text, LATENCY, { sink: "raw" }), store: parseHistogram(text, STORE_LATENCY) };
  };
  const before = await histograms();
  const fsCpu = cpuClock(fs.pid);
  const natsCpu = cpuClock(natsPid);
  const mosqCpu = cpuClock(mosqPid);
  const box0 = machineCpu();
  const t0 = Date.now();
  const rss = rssSampler(fs.pid);
  const load = await runLoad({ mqttUrl, rate: target, durationMs: stepMs, devices, prefix: "e2e-", seed: 7, seqStart: seq.next });
  seq.next = load.nextSeq ?? seq.next;
  const tEnd = Date.now();
  // prom-client's event-loop figures cover the time since the previous scrape (the one before the step).
  const endText = await scrapeText(fs.metricsUrl).catch(() => "");
  const heap = metricValue(endText, "fleetstream_process_nodejs_heap_size_total_bytes");
  const loopP99 = metricValue(endText, "fleetstream_process_nodejs_eventloop_lag_p99_seconds");
  const { missing, jsMs: jsDrainMs, allMs: drainMs } = await awaitStored(jsm, vmUrl, ackedBefore + load.acked, DRAIN_TIMEOUT_MS, tEnd);
  const peakRss = rss.stop();
  const cpuSec = fsCpu();
  const natsSec = natsCpu();
  const mosqSec = mosqCpu();
  const cpuPct = (cpuSec / ((Date.now() - t0) / 1000)) * 100;
  const boxPct = machineBusyPct(box0, machineCpu());
  const after = await histograms();
  const lat = histogramDelta(before.lat, after.lat);
  const store = histogramDelta(before.store, after.store);
  const achieved = load.acked / (load.elapsedMs / 1000);
  const ingest = jsDrainMs === undefined ? NaN : load.acked / ((load.elapsedMs + jsDrainMs) / 1000);
  const dlq = await streamCount(jsm, "DLQ");
  let status = "ok";
  if (drainMs === undefined) status = `${missing} not stored within ${DRAIN_TIMEOUT_MS / 1000} s`;
  else if (drainMs > KEEP_UP_MS) status = "fell behind (stored, but late)";
  else if (load.errors > 0) status = `${load.errors} publish errors`;
  else if (achieved < 0.9 * target) status = "generator/broker limit";
  return {
    target,
    achieved,
    acked: load.acked,
    missing,
    dlq,
    drainMs,
    jsDrainMs,
    ingest,
    p50: histogramQuantile(lat, 0.5) * 1000,
    p99: histogramQuantile(lat, 0.99) * 1000,
    storeMs: store.count > 0 ? (store.sum / store.count) * 1000 : NaN,
    peakRssMb: peakRss / MB,
    heapMb: heap / MB,
    loopP99Ms: loopP99 * 1000,
    cpuPct,
    cpuUsPerMsg: (cpuSec / Math.max(1, load.acked)) * 1e6,
    natsUsPerMsg: (natsSec / Math.max(1, load.acked)) * 1e6,
    mosqUsPerMsg: (mosqSec / Math.max(1, load.acked)) * 1e6,
    genUsPerMsg: ((load.cpuSec ?? NaN) / Math.max(1, load.acked)) * 1e6,
    boxPct,
    status,
  };
}

function printReport(steps: Step[], passes: PassResult[], settled: Settled | undefined, idleRssMb: number, hwmMb: number, stepMs: number, devices: number): void {
  const w = (s: string) => process.stdout.write(s + "\n");
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "-");
  w("");
  w(`end-to-end benchmark: ${devices} simulated sensors -> Mosquitto (QoS 1, MQTT 5) -> fleetstream start (broker intake, processors, sink) -> JetStream + VictoriaMetrics`);
  w(`steps of ${stepMs / 1000} s; "ok" = every reading the broker acknowledged is in TELEMETRY and in VictoriaMetrics within ${KEEP_UP_MS / 1000} s of the last PUBACK`);
  w("");
  w(`${"target/s".padStart(9)} ${"achieved/s".padStart(10)} ${"acked".padStart(8)} ${"missing".padStart(8)} ${"dlq".padStart(4)} ${"JS drain".padStart(8)} ${"ingest/s".padStart(8)} ${"drain s".padStart(8)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"store ms".padStart(8)} ${"peak RSS MB".padStart(11)} ${"heap MB".padStart(7)} ${"loop p99".padStart(8)} ${"CPU %".padStart(6)} ${"CPU us/msg".padStart(10)} ${"nats us/msg".padStart(11)} ${"mosq us/msg".padStart(11)} ${"gen us/msg".padStart(10)} ${"box %".padStart(5)}  status`);
  for (const s of steps) {
    w(
      `${String(s.target).padStart(9)} ${f(s.achieved).padStart(10)} ${String(s.acked).padStart(8)} ${String(s.missing).padStart(8)} ${String(s.dlq).padStart(4)} ${(s.jsDrainMs === undefined ? "-" : f(s.jsDrainMs / 1000, 1)).padStart(8)} ${f(s.ingest).padStart(8)} ${(s.drainMs === undefined ? "-" : f(s.drainMs / 1000, 1)).padStart(8)} ${f(s.p50).padStart(7)} ${f(s.p99).padStart(7)} ${f(s.storeMs, 1).padStart(8)} ${f(s.peakRssMb).padStart(11)} ${f(s.heapMb).padStart(7)} ${f(s.loopP99Ms, 1).padStart(8)} ${f(s.cpuPct).padStart(6)} ${f(s.cpuUsPerMsg).padStart(10)} ${f(s.natsUsPerMsg).padStart(11)} ${f(s.mosqUsPerMsg).padStart(11)} ${f(s.genUsPerMsg).padStart(10)} ${f(s.boxPct).padStart(5)}  ${s.status}`,
    );
  }
  const ok = steps.filter((s) => s.status === "ok" || s.status === "generator/broker limit");
  const best = ok.reduce<Step | undefined>((b, s) => (!b || s.achieved > b.achieved ? s : b), undefined);
  const at10k = steps.find((s) => s.target === RSS_PROBE_RATE);
  w("");
  w(`highest zero-loss rate:  ${best ? `${f(best.achieved)} msgs/s (step ${best.target}/s)` : "none"}`);
  const sustained = Math.max(...steps.map((s) => s.ingest).filter(Number.isFinite));
  if (Number.isFinite(sustained)) w(`highest ingest/s:        ${f(sustained)} msgs/s  (the most the gateway took in over any step and its JetStream drain)`);
  const plain = passes.filter((p) => !p.reader);
  const read = passes.filter((p) => p.reader);
  const mean = (ps: PassResult[], k: "rate" | "cpuUsPerMsg" | "natsUsPerMsg") => ps.reduce((a, p) => a + p[k], 0) / ps.length;
  const describe = (ps: PassResult[], unit: string) => {
    const each = ps.map((p) => `${f(p.rate)} (${p.stored}/${p.generated} ${unit}, peak RSS ${f(p.peakRssMb)} MB, ${f(p.cpuUsPerMsg)} CPU us/msg, nats-server ${f(p.natsUsPerMsg)})`);
    return ps.length > 1 ? `before fleetstream: ${each[0]}; after: ${each[1]}` : each[0];
  };
  if (plain.length > 0) {
    const pass = { rate: mean(plain, "rate"), cpuUsPerMsg: mean(plain, "cpuUsPerMsg") };
    w(`passthrough (same run):  ${f(pass.rate)} msgs/s${plain.length > 1 ? " mean" : ""}  (raw MQTT -> JetStream, no validation, PUBACK not held)`);
    w(`                         ${describe(plain, "stored")}`);
    if (best && pass.rate > 0) {
      const ratio = best.achieved / pass.rate;
      w(`ratio vs passthrough:    ${ratio.toFixed(2)}  (target >= 0.60: ${ratio >= 0.6 ? "met" : "NOT met"})`);
      if (Number.isFinite(sustained)) {
        // The stricter reading: both sides as rates actually stored, with no drain allowance.
        const strict = sustained / pass.rate;
        w(`sustained ratio:         ${strict.toFixed(2)}  (highest ingest/s over the passthrough; target >= 0.60: ${strict >= 0.6 ? "met" : "NOT met"})`);
      }
      const okCost = ok.filter((s) => Number.isFinite(s.cpuUsPerMsg)).map((s) => s.cpuUsPerMsg);
      if (okCost.length && pass.cpuUsPerMsg > 0) {
        const cost = Math.min(...okCost);
        w(`CPU cost ratio:          ${(pass.cpuUsPerMsg / cost).toFixed(2)}  (passthrough CPU/msg over fleetstream's cheapest ok step; what the ratio would tend to if CPU were the only limit)`);
      }
    }
  }
  if (read.length > 0) {
    // Not the target's yardstick: it shows how much of the gap any reader of the stream opens in nats-server.
    const rate = mean(read, "rate");
    w(`passthrough + reader:    ${f(rate)} msgs/s${read.length > 1 ? " mean" : ""}  (the same, read back through one durable consumer; nats-server ${f(mean(read, "natsUsPerMsg"))} us/msg against ${f(mean(plain, "natsUsPerMsg"))} unread)`);
    w(`                         ${describe(read, "read")}`);
    if (best && rate > 0) w(`ratio vs that:           ${(best.achieved / rate).toFixed(2)} zero-loss, ${Number.isFinite(sustained) ? (sustained / rate).toFixed(2) : "-"} sustained  (fleetstream reads each reading twice: processors and raw sink)`);
  }
  if (settled) {
    w(
      settled.missing === 0
        ? `in the end:              all ${settled.acked} readings the broker acknowledged were stored (${f((settled.allMs ?? 0) / 1000, 1)} s after the last step's drain)`
        : `in the end:              ${settled.missing} of ${settled.acked} acknowledged readings NOT stored ${SETTLE_TIMEOUT_MS / 1000} s after the last step's drain`,
    );
  }
  if (at10k) w(`RSS at ~10k msgs/s:      ${f(at10k.peakRssMb)} MB peak  (target < 100 MB: ${at10k.peakRssMb < 100 ? "met" : "NOT met"})`);
  w(`fleetstream RSS:         ${f(idleRssMb)} MB idle after start, ${f(hwmMb)} MB peak over the run (VmHWM)`);
  w("");
  w("latency: event time (the simulator's scheduled send time) -> raw sensor_reading point accepted by the store, from the sink's");
  w(`${LATENCY} histogram (difference of /metrics scrapes around each step; interpolated inside buckets`);
  w("0.01/0.025/0.05/0.1/0.25/0.5/0.75/1/1.5/2/3/5/10/30/60 s, so only bucket-resolution). Includes the sink's batching (fetch");
  w("of up to influx.batchSize (1000) readings or 1 s). RSS and CPU: /proc of the fleetstream process (peak VmRSS sampled every 250 ms; CPU % of one core,");
  w("CPU us/msg: the process's CPU time over the step and its drain divided by the readings; nats us/msg and mosq us/msg: the same for nats-server and Mosquitto; gen us/msg: the load generator's over its run). box %: every core of the machine busy over the");
  w("step and its drain (broker, nats-server, store, generator and fleetstream together; near 100 the machine, not fleetstream, is the limit).");
  w("loop p99: fleetstream's event-loop delay over the step, 99th percentile (prom-client's monitor, 10 ms resolution): how long a ready callback, such as a JetStream ack, can wait.");
  w("store ms: mean time from the gateway receiving a reading to JetStream storing it (fleetstream_gateway_publish_latency_seconds). The gateway");
  w("holds at most gateway.maxInFlight readings (default 100), so it takes in at most maxInFlight / store ms readings per second.");
  w("The machine may be shared: figures are under its load.");
  w("The ratio compares a stepped, loss-checked rate with the passthrough's flat-out rate. A step passes with up to");
  w(`${KEEP_UP_MS / 1000} s of drain, so a rate slightly above what fleetstream sustains can pass; ingest/s (readings over the step plus the`);
  w("JetStream drain) is the rate the gateway actually sustained in that step.");
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      // 1k apart from 6k to 16k, where this class of machine tops out, so the step does not hide the limit.
      rates: { type: "string", default: "2000,4000,6000,7000,8000,9000,10000,11000,12000,13000,14000,15000,16000,17500,20000,22500,25000,30000,35000,40000" },
      // A step passes with up to KEEP_UP_MS of drain: over 10 s that lets through a rate 1.5x what is
      // sustained, over 30 s at most 1.17x, so the zero-loss rate is close to what fleetstream keeps up with.
      step: { type: "string", default: "30s" },
      devices: { type: "string", default: "200" },
      "pass-count": { type: "string", default: "100000" },
      "skip-passthrough": { type: "boolean", default: false },
      /** Node flags for the fleetstream process, space separated (e.g. "--max-old-space-size=64"). */
      "node-args": { type: "string", default: "" },
      /** `gateway.maxInFlight` for the fleetstream process (its default when not given). */
      "max-in-flight": { type: "string" },
    },
    strict: true,
  });
  const rates = values.rates!.split(",").map(Number);
  const stepMs = parseDuration(values.step!);
  const devices = Number(values.devices);
  const log = (s: string) => process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

  let [ns, mq, vm] = await Promise.all([startNatsServer(), startMosquitto(BROKER), startVictoriaMetrics()]);
  let nc = await connect({ servers: ns.url, noAsyncTraces: true });
  let jsm = await jetstreamManager(nc);
  let fs: FleetstreamProcess | undefined;
  const steps: Step[] = [];
  const passes: PassResult[] = [];
  let idleRssMb = NaN;
  let hwmMb = NaN;
  let settled: Settled | undefined;
  try {
    const measurePass = async (when: string) => {
      if (values["skip-passthrough"]) return;
      for (const reader of [false, true]) {
        const what = `passthrough${reader ? " + reader" : ""} ${when}`;
        log(`${what}: generator flat out`);
        const p = await measurePassthrough(jsm, ns.url, ns.pid, mq.url, Number(values["pass-count"]), devices, reader);
        passes.push(p);
        log(`${what}: ${p.rate.toFixed(0)} msgs/s`);
      }
    };
    await measurePass("before");
    fs = await startFleetstream({ natsUrl: ns.url, mqttUrl: mq.url, influxUrl: vm.url, gatewayId: "bench-e2e", nodeArgs: values["node-args"]!.split(" ").filter(Boolean), maxInFlight: values["max-in-flight"] ? Number(values["max-in-flight"]) : undefined });
    await sleep(1000);
    idleRssMb = (procSample(fs.pid)?.rssBytes ?? NaN) / MB;
    let acked = 0;
    // Every step's devices are the same 200; their seqs run on from step to step.
    const seq = { next: 0 };
    for (const target of rates) {
      log(`step ${target}/s`);
      const s = await runStep(fs, ns.pid, mq.pid, jsm, vm.url, mq.url, target, stepMs, devices, acked, seq);
      acked += s.acked;
      steps.push(s);
      log(`step ${target}/s: achieved ${s.achieved.toFixed(0)}/s, ${s.status}`);
      if (s.status !== "ok") break;
    }
    if (!steps.some((s) => s.target === RSS_PROBE_RATE)) {
      // The ladder stopped below 10k/s: still load 10k/s once for the RSS figure, after the backlog drained.
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      while (Date.now() < deadline && (await vmSampleCount(vm.url, "sensor_reading_temperature")) < acked) await sleep(500);
      log(`RSS probe: ${RSS_PROBE_RATE}/s`);
      const s = await runStep(fs, ns.pid, mq.pid, jsm, vm.url, mq.url, RSS_PROBE_RATE, stepMs, devices, acked, seq);
      acked += s.acked;
      steps.push({ ...s, status: `RSS probe beyond the ladder: ${s.status}` });
    }
    hwmMb = (procSample(fs.pid)?.hwmBytes ?? NaN) / MB;
    // A step's "missing" are late or lost: give fleetstream time to catch up and tell which.
    settled = { acked, ...(await awaitStored(jsm, vm.url, acked, SETTLE_TIMEOUT_MS)) };
    // Again once fleetstream is gone: the yardstick drifts with the machine, and the two show by how much.
    await fs.stop();
    fs = undefined;
    // On fresh servers, as before: the gateway's persistent MQTT session outlives it, and Mosquitto
    // would queue (and autosave) every passthrough message for it, on top of nats-server holding the
    // run's streams; measured so, the "after" passthrough ran 7-28 % slower and flattered the ratio.
    await nc.close();
    await Promise.all([ns.cleanup(), mq.cleanup()]);
    [ns, mq] = await Promise.all([startNatsServer(), startMosquitto(BROKER)]);
    nc = await connect({ servers: ns.url, noAsyncTraces: true });
    jsm = await jetstreamManager(nc);
    await measurePass("after");
  } catch (e) {
    // Print what was measured; a dead fleetstream is a result too.
    const died = fs?.exited();
    log(`stopped: ${(e as Error).message}${died ? `\nfleetstream ${died}; its last output:\n${fs!.output().slice(-3000)}` : ""}`);
  } finally {
    await fs?.stop();
    await nc.close();
    await Promise.all([ns.cleanup(), mq.cleanup(), vm.cleanup()]);
  }
  printReport(steps, passes, settled, idleRssMb, hwmMb, stepMs, devices);
}
