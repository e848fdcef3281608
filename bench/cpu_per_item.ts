/**
 * The CPU micro-benchmarks' measuring loop and the readings they feed. The loop: one warm-up, then
 * 7 measurements of process CPU time, each after a full GC so that none pays for garbage of the one
 * before. Reports the median and the range: other load on the machine (it may be shared) only ever
 * adds time.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Runs `once` 8 times (`items` each) and prints `<name>: <median> ns CPU per <unit> (median of 7; min-max)`. */
export async function reportCpuPerItem(name: string, unit: string, items: number, once: () => void | Promise<void>): Promise<void> {
  await once();
  const per: number[] = [];
  for (let j = 0; j < 7; j++) {
    gc();
    const c0 = process.cpuUsage();
    await once();
    const c = process.cpuUsage(c0);
    per.push(((c.user + c.system) * 1000) / items);
  }
  per.sort((a, b) => a - b);
  process.stdout.write(`${name}: ${per[3]!.toFixed(0)} ns CPU per ${unit} (median of 7; ${per[0]!.toFixed(0)}-${per[6]!.toFixed(0)})\n`);
}

/**
 * The readings the CPU micro-benchmarks feed: 2000 canonical readings from 200 devices, received in
 * the same few milliseconds around `now`, as at high rates.
 */
export function sampleReadings(now: number): Array<{ topic: string; payload: Buffer }> {
  return Array.from({ length: 2000 }, (_, i) => ({
    topic: `devices/sensor-${i % 200}/telemetry`,
    payload: Buffer.from(JSON.stringify({ ts: now - 5 + (i % 3), seq: i, id: `r-${i}`, metrics: { temperature: 21.5 + i / 1000, humidity: 40.25 + (i % 7) } })),
  }));
}
