/**
 * Line protocol of the contract's InfluxDB schema (CONTRACT section 7) computed straight from a
 * simulator plan, without the pipeline: raw `sensor_reading`s, `location`s with distance and speed,
 * and tumbling `sensor_window`s. Dashboards tests load it to check that every panel finds data.
 */
import { windowName } from "../core/results.ts";
import { distanceM } from "../simulator/geo.ts";
import type { PlannedMessage } from "../simulator/plan.ts";

const esc = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`);
const float = (v: number) => {
  const s = String(v);
  return /[.eE]/.test(s) ? s : `${s}.0`;
};
const line = (measurement: string, tags: Record<string, string>, fields: Record<string, number>, time: number, ints: string[] = []) =>
  `${measurement}${Object.keys(tags)
    .sort()
    .map((k) => `,${esc(k)}=${esc(tags[k]!)}`)
    .join("")} ${Object.entries(fields)
    .map(([k, v]) => `${esc(k)}=${ints.includes(k) ? `${Math.trunc(v)}i` : float(v)}`)
    .join(",")} ${Math.trunc(time)}`;

/**
 * Points for every distinct event of a plan. Events without a device time (zigbee2mqtt) get the time
 * they were due to be sent; windows are tumbling, of `windowMs` (default 1 minute, tag `tumbling_1m` from core's `windowName`).
 * @example const lines = samplePoints(plan, startTs); await writeLines(url, "x", lines.join("\n"))
 */
export function samplePoints(plan: readonly PlannedMessage[], startTs: number, windowMs = 60_000): string[] {
  const out: string[] = [];
  const windowTag = windowName({ type: "tumbling", size: windowMs });
  const windows = new Map<string, { device: string; metric: string; start: number; values: Array<{ ts: number; v: number }> }>();
  const fixes = new Map<string, Array<{ ts: number; lat: number; lon: number; alt: number; speed: number; heading: number; accuracy: number }>>();
  for (const m of plan) {
    for (const e of m.events) {
      const ts = e.ts ?? startTs + m.at;
      if (e.metrics) {
        const fields = Object.fromEntries(Object.entries(e.metrics).map(([k, v]) => [k, typeof v === "boolean" ? (v ? 1 : 0) : v]));
        out.push(line("sensor_reading", { device: e.device }, fields, ts));
        const start = Math.floor(ts / windowMs) * windowMs;
        for (const [metric, v] of Object.entries(fields)) {
          const k = `${e.device}\n${metric}\n${start}`;
          let w = windows.get(k);
          if (!w) windows.set(k, (w = { device: e.device, metric, start, values: [] }));
          w.values.push({ ts, v });
        }
      }
      if (e.location) {
        let list = fixes.get(e.device);
        if (!list) fixes.set(e.device, (list = []));
        list.push({ ts, ...e.location });
      }
    }
  }
  for (const w of windows.values()) {
    const vs = w.values.sort((a, b) => a.ts - b.ts).map((x) => x.v);
    const sum = vs.reduce((a, b) => a + b, 0);
    const mean = sum / vs.length;
    const stddev = Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length);
    out.push(
      line(
        "sensor_window",
        { device: w.device, metric: w.metric, window: windowTag },
        { count: vs.length, sum, min: Math.min(...vs), max: Math.max(...vs), mean, first: vs[0]!, last: vs.at(-1)!, stddev },
        w.start,
        ["count"],
      ),
    );
  }
  for (const [device, list] of fixes) {
    list.sort((a, b) => a.ts - b.ts);
    list.forEach((f, i) => {
      const prev = list[i - 1];
      const distance = prev ? distanceM(prev, f) : 0;
      out.push(line("location", { device }, { lat: f.lat, lon: f.lon, alt: f.alt, accuracy: f.accuracy, heading: f.heading, speed_mps: f.speed, distance_m: distance }, f.ts));
    });
  }
  return out;
}
