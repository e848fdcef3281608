/**
 * `npm run bench -- processor [--devices 1000] [--readings 600] [--rounds 2] [--max-ack-pending N] [--gap-rate 0]`:
 * windowed-aggregation throughput from a pre-filled TELEMETRY stream, beside the plain durable
 * consume + ack rate of the same partitions in the same run (alternating, round by round), and peak
 * RSS. Prints figures; asserts nothing.
 *
 * The processor's time runs until its consumers have nothing pending and nothing unacknowledged, so
 * it includes the wait for the last checkpoint (every `checkpointInterval`, 1 s): the run is long
 * enough (600k readings by default) that this tail is a small part of it; it is printed apart.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig, streamNames, type Config } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { subjects } from "../core/subjects.ts";
import { buildFleet, publishFleet, waitForDrained } from "../processors/pipelines/fleet_fixture.ts";
import { createProcessor } from "../processors/processor.ts";
import { startNatsServer } from "../testing/nats_server.ts";
import { procSample } from "./e2e_probe.ts";

const cpuSecs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const perMsg = (cpuSeconds: number, n: number) => ((cpuSeconds * 1e6) / n).toFixed(1);

function rssSampler() {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return {
    stop: () => {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

async function plainConsume(cfg: Config, nc: Awaited<ReturnType<typeof connectNats>>, total: number, round: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const stream = streamNames(cfg).telemetry;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: cfg.streams.partitions }, async (_, p) => {
      const name = `plain_${round}_${p}`;
      await jsm.consumers.add(stream, { durable_name: name, filter_subject: subj.inputPartition("telemetry", p), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 5000 });
      const info = await jsm.consumers.info(stream, name);
      let left = info.num_pending;
      if (left === 0) return;
      const iter = await (await js.consumers.get(stream, name)).consume({ max_messages: 1000 });
      for await (const m of iter) {
        m.json();
        m.ack();
        done++;
        if (--left === 0) break;
      }
      iter.stop();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  if (done !== total) process.stdout.write(`  (plain consume saw ${done} of ${total})\n`);
  await Promise.all(Array.from({ length: cfg.streams.partitions }, (_, p) => jsm.consumers.delete(stream, `plain_${round}_${p}`).catch(() => {})));
  return done / secs;
}

/** Seconds from `t0` until the processor's consumers have delivered everything (acks may still be pending). */
async function untilDelivered(nc: Awaited<ReturnType<typeof connectNats>>, cfg: Config, t0: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const stream = streamNames(cfg).telemetry;
  for (;;) {
    let pending = 0;
    for (let p = 0; p < cfg.streams.partitions; p++) {
      pending += await jsm.consumers.info(stream, `${cfg.streams.prefix}processor_telemetry_${p}`).then((i) => i.num_pending, () => 1);
    }
    if (pending === 0) return (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes what a processor run left (consumers, checkpoints, results) so the next round starts cold. */
async function resetProcessor(cfg: Config, nc: Awaited<ReturnType<typeof connectNats>>): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names = streamNames(cfg);
  for (let p = 0; p < cfg.streams.partitions; p++) await jsm.consumers.delete(names.telemetry, `${cfg.streams.prefix}processor_telemetry_${p}`).catch(() => {});
  await jsm.streams.delete(`KV_${cfg.streams.prefix}fleetstream_processor`).catch(() => {});
  await jsm.streams.purge(names.results).catch(() => {});
  await jsm.streams.purge(names.dlq).catch(() => {});
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { devices: { type: "string" }, readings: { type: "string" }, rounds: { type: "string" }, "max-ack-pending": { type: "string" }, "gap-rate": { type: "string" } }, strict: false });
  const devices = Number(values.devices ?? 1000);
  const readings = Number(values.readings ?? 600);
  const rounds = Number(values.rounds ?? 2);
  const ns = await startNatsServer();
  try {
    const cfg = loadConfig({
      env: {},
      overrides: {
        nats: { url: ns.url },
        intake: "broker",
        mqtt: { url: "mqtt://127.0.0.1:1" },
        streams: { prefix: "B_", subjectRoot: "b", partitions: 8 },
        processor: {
          windows: [{ type: "tumbling", size: "1m" }, { type: "hopping", size: "5m", hop: "1m" }, { type: "session", gap: "30s" }],
          idleTimeout: "2s",
          ...(values["max-ack-pending"] ? { maxAckPending: Number(values["max-ack-pending"]) } : {}),
        },
      },
    });
    const nc = await connectNats(cfg.nats, silentLogger, "bench");
    await ensureStreams(nc, cfg);
    let fleet: ReturnType<typeof buildFleet> | undefined = buildFleet({ devices, readings, dupRate: 0.01, lateRate: 0.001, correctionRate: 0.005, gapRate: Number(values["gap-rate"] ?? 0) });
    const tp = performance.now();
    await publishFleet(nc, cfg, fleet);
    const total = fleet.length;
    fleet = undefined;
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write(`processor bench (shared 2-core machine: figures drift with other load)\n`);
    process.stdout.write(`  pre-filled TELEMETRY: ${total} readings, ${devices} devices, 8 partitions (${Math.round(total / ((performance.now() - tp) / 1000))} msgs/s publish)\n`);
    process.stdout.write(`  windows: tumbling_1m, hopping_5m_1m, session_30s; 1-2 metrics per reading; gap rate ${values["gap-rate"] ?? 0}\n`);

    // Alternate plain and processor runs: on a shared machine the load drifts between runs.
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const serverCpu = () => procSample(ns.pid!)?.cpuSeconds ?? NaN;
      let cpu = process.cpuUsage();
      let srv = serverCpu();
      const plain = await plainConsume(cfg, nc, total, round);
      const plainCpu = cpuSecs(process.cpuUsage(cpu));
      process.stdout.write(`  round ${round}: plain durable consume + ack (8 partitions):    ${Math.round(plain).toLocaleString("en")} msgs/s, ${perMsg(plainCpu, total)} µs client CPU/msg, ${perMsg(serverCpu() - srv, total)} µs server\n`);
      await resetProcessor(cfg, nc);
      const rss = rssSampler();
      const rss0 = process.memoryUsage().rss;
      const registry = createRegistry();
      const proc = createProcessor({ nc, cfg, log: silentLogger, registry }, { kinds: ["telemetry"] });
      const t0 = performance.now();
      cpu = process.cpuUsage();
      srv = serverCpu();
      await proc.start();
      const delivered = await untilDelivered(nc, cfg, t0);
      await waitForDrained(nc, cfg, ["telemetry"], 300_000);
      const secs = (performance.now() - t0) / 1000;
      const procCpu = cpuSecs(process.cpuUsage(cpu));
      const procSrv = serverCpu() - srv;
      await proc.stop();
      const peak = rss.stop();
      const rate = total / secs;
      ratios.push(rate / plain);
      cpuRatios.push(plainCpu / procCpu);
      process.stdout.write(`  round ${round}: windowed aggregation (processor, 8 partitions): ${Math.round(rate).toLocaleString("en")} msgs/s  (${(rate / plain).toFixed(2)} x plain), ${perMsg(procCpu, total)} µs client CPU/msg (${(plainCpu / procCpu).toFixed(2)} x plain per CPU-second), ${perMsg(procSrv, total)} µs server\n`);
      const m = await registry.getSingleMetricAsString("fleetstream_processor_checkpoint_duration_seconds");
      const sum = /_sum (\S+)/.exec(m)?.[1];
      const count = /_count (\S+)/.exec(m)?.[1];
      const cps = sum && count ? `; ${count} checkpoints, mean ${((Number(sum) / Number(count)) * 1000).toFixed(0)} ms` : "";
      process.stdout.write(`           last input delivered after ${delivered.toFixed(1)} s, all acknowledged after ${secs.toFixed(1)} s; peak RSS ${Math.round(peak / 2 ** 20)} MiB (${Math.round(rss0 / 2 ** 20)} MiB before)${cps}\n`);
    }
    process.stdout.write(`  processor / plain, wall clock: ${ratios.map((r) => r.toFixed(2)).join(", ")}; per client CPU-second: ${cpuRatios.map((r) => r.toFixed(2)).join(", ")} (load average ${loadavg().map((x) => x.toFixed(1)).join(" ")})\n`);
    await nc.close();
  } finally {
    await ns.cleanup();
  }
}
