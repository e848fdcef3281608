/**
 * What the end-to-end bench reads from the outside: a process's memory and CPU from /proc, a
 * Prometheus histogram from `/metrics` (and quantiles of the difference of two scrapes), and how many
 * samples of a series VictoriaMetrics holds.
 */
import { readFileSync } from "node:fs";

/** Memory and CPU of a process from /proc (Linux). */
export interface ProcSample {
  /** Resident set size now. */
  rssBytes: number;
  /** Peak resident set size since the process started (VmHWM). */
  hwmBytes: number;
  /** User + system CPU time, seconds. */
  cpuSeconds: number;
}

const CLOCK_TICKS = 100;

/** Reads `/proc/<pid>/status` and `/proc/<pid>/stat`; undefined once the process is gone. */
export function procSample(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    // Fields after the command name, which sits in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpu = (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
    return { rssBytes: kb("VmRSS"), hwmBytes: kb("VmHWM"), cpuSeconds: cpu };
  } catch {
    return undefined;
  }
}

/** Starts counting a process's CPU time: the function returned gives the CPU seconds it has used since (0 when there is no such process). */
export function cpuClock(pid: number | undefined): () => number {
  const at = (fallback: number) => (pid === undefined ? fallback : (procSample(pid)?.cpuSeconds ?? fallback));
  const start = at(0);
  return () => at(start) - start;
}

/** The machine's CPU time so far (all cores, from `/proc/stat`): busy and total jiffies. */
export interface MachineCpu {
  busy: number;
  total: number;
}

export function machineCpu(): MachineCpu {
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
  const n = fields.slice(0, 8).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: total - n[3]! - n[4]!, total };
}

/** Share of all cores busy between two readings, in % (100 = every core busy). */
export function machineBusyPct(a: MachineCpu, b: MachineCpu): number {
  return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 : NaN;
}

/** A cumulative histogram as scraped: `le` upper bounds (ascending, last is +Inf) and their counts. */
export interface HistogramSnapshot {
  bounds: number[];
  counts: number[];
  count: number;
  sum: number;
}

/** The text of a Prometheus endpoint, to read several series from one scrape. */
export async function scrapeText(metricsUrl: string): Promise<string> {
  return (await fetch(metricsUrl)).text();
}

/** One histogram (series matching every label in `labels`) from a scrape's text. */
export function parseHistogram(text: string, name: string, labels: Record<string, string> = {}): HistogramSnapshot {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  const matches = (l: string) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`));
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || !m[1]!.startsWith(name) || !matches(m[2] ?? "")) continue;
    const value = Number(m[3]);
    if (m[1] === `${name}_bucket`) {
      const le = /le="([^"]+)"/.exec(m[2] ?? "")?.[1];
      if (le) buckets.set(le === "+Inf" ? Infinity : Number(le), value);
    } else if (m[1] === `${name}_count`) count = value;
    else if (m[1] === `${name}_sum`) sum = value;
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((b) => buckets.get(b)!), count, sum };
}

/** The first sample of `name` in a Prometheus exposition text; NaN when absent. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The observations made between two scrapes of the same histogram. */
export function histogramDelta(before: HistogramSnapshot, after: HistogramSnapshot): HistogramSnapshot {
  const prev = new Map(before.bounds.map((b, i) => [b, before.counts[i]!]));
  return { bounds: after.bounds, counts: after.counts.map((c, i) => c - (prev.get(after.bounds[i]!) ?? 0)), count: after.count - before.count, sum: after.sum - before.sum };
}

/**
 * The q-quantile of a histogram, interpolated linearly inside its bucket as Prometheus'
 * `histogram_quantile` does: only as precise as the bucket bounds. NaN when empty; a quantile in the
 * +Inf bucket returns the highest finite bound.
 */
export function histogramQuantile(h: HistogramSnapshot, q: number): number {
  const total = h.counts[h.counts.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < h.bounds.length; i++) {
    if (h.counts[i]! < rank) continue;
    const upper = h.bounds[i]!;
    if (upper === Infinity) return h.bounds[i - 1] ?? NaN;
    const lower = i > 0 ? h.bounds[i - 1]! : 0;
    const below = i > 0 ? h.counts[i - 1]! : 0;
    const inBucket = h.counts[i]! - below;
    return inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
  }
  return NaN;
}

/** Samples of `metric` (all series) VictoriaMetrics holds within the last `window`. */
export async function vmSampleCount(vmUrl: string, metric: string, window = "1h"): Promise<number> {
  const q = `sum(count_over_time(${metric}[${window}]))`;
  const r = await fetch(`${vmUrl}/api/v1/query?query=${encodeURIComponent(q)}&nocache=1`);
  if (!r.ok) throw new Error(`VictoriaMetrics query failed (${r.status}): ${await r.text()}`);
  const body = (await r.json()) as { data: { result: Array<{ value: [number, string] }> } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}
