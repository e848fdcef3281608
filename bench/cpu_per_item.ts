/**
 * The measuring loop of the CPU micro-benchmarks: one warm-up, then 7 measurements of process CPU
 * time, each after a full GC so that none pays for garbage of the one before. Reports the median
 * and the range: other load on the machine (it may be shared) only ever adds time.
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
