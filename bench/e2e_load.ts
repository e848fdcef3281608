/**
 * The device side of the end-to-end bench: the simulator (sensors only, no faults, QoS 1, MQTT 5) in a
 * process of its own, so its CPU is not the measured process's. Event time = scheduled send time.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createSimulator, fromConfig, type SimulatorSummary } from "../simulator/mod.ts";
import { spawnManaged } from "../testing/mod.ts";

/** One load step: `rate` readings/s in total for `durationMs`, spread over `devices` sensors. */
export interface LoadStep {
  mqttUrl: string;
  rate: number;
  /** Simulated time to run (readings are scheduled in real time)... */
  durationMs?: number;
  /** ...or a number of readings, sent as fast as PUBACKs come back when `rate` is above what the link does. */
  count?: number;
  devices: number;
  /** Device id prefix. */
  prefix: string;
  seed: number;
  /**
   * First `seq` of every device. A later step passes the previous step's `nextSeq`, so each device's
   * seqs run on without a gap (a gap would make the processors hold the device's readings for the
   * reorder timeout, waiting for the missing ones).
   */
  seqStart?: number;
}

export interface LoadResult extends SimulatorSummary {
  /** The seq each device would send next (duration steps only). */
  nextSeq?: number;
  /** CPU time of the generator process, seconds. */
  cpuSec?: number;
}

/** Runs one step in a child process and resolves with the simulator's summary. */
export async function runLoad(step: LoadStep): Promise<LoadResult> {
  const p = spawnManaged(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), JSON.stringify(step)]);
  const code = await new Promise<number | null>((r) => p.child.once("exit", (c) => r(c)));
  const line = p.output().split("\n").find((l) => l.startsWith("{\"summary\""));
  if (code !== 0 || !line) throw new Error(`load generator failed (exit ${code}): ${p.output().slice(-2000)}`);
  return (JSON.parse(line) as { summary: LoadResult }).summary;
}

async function main(step: LoadStep): Promise<void> {
  const rate = Math.min(1000, step.rate / step.devices);
  const sim = createSimulator(
    fromConfig({
      url: step.mqttUrl,
      sensors: step.devices,
      vehicles: 0,
      // The simulator caps a device at 1000 readings/s; above devices x 1000 it runs flat out.
      rate,
      duration: step.durationMs,
      count: step.count,
      seed: step.seed,
      seqStart: step.seqStart,
      prefix: step.prefix,
      qos: 1,
      protocolVersion: 5,
      maxInFlight: 1000,
      progressInterval: 0,
      write: () => {},
    }),
  );
  const summary: LoadResult = await sim.run();
  if (step.durationMs !== undefined && step.seqStart !== undefined) {
    // One reading per device per tick while tick * interval < duration (simulator/plan.ts).
    const interval = 1000 / rate;
    let ticks = 0;
    while (ticks * interval < step.durationMs) ticks++;
    summary.nextSeq = step.seqStart + ticks;
  }
  const cpu = process.cpuUsage();
  summary.cpuSec = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({ summary }) + "\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(JSON.parse(process.argv[2]!) as LoadStep);
  process.exit(0);
}
