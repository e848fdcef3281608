/**
 * A brute-force oracle of CONTRACT section 6 for tests: given every input event in arrival order,
 * the final content of every window. Written independently of the operators (no incremental state,
 * no merging): order and de-duplicate per device, replay the watermark to find late events, then
 * group the accepted events into windows and aggregate each from scratch.
 */
import type { WindowSpec } from "../../core/config.ts";
import { windowName, type MetricAggregate } from "../../core/results.ts";

export interface OracleEvent {
  id: string;
  device: string;
  seq?: number;
  time: number;
  metrics: Record<string, number | boolean>;
}

export interface OracleOptions {
  windows: WindowSpec[];
  maxOutOfOrder: number;
  allowedLateness: number;
}

export interface OracleWindow {
  device: string;
  window: string;
  start: number;
  end: number;
  metrics: Record<string, MetricAggregate>;
}

export interface OracleResult {
  /** Key `device|window|start`. */
  windows: Map<string, OracleWindow>;
  late: number;
  duplicates: number;
}

export const oracleKey = (device: string, window: string, start: number) => `${device}|${window}|${start}`;

export function windowOracle(events: OracleEvent[], opts: OracleOptions): OracleResult {
  const byDevice = new Map<string, OracleEvent[]>();
  for (const e of events) {
    if (!byDevice.has(e.device)) byDevice.set(e.device, []);
    byDevice.get(e.device)!.push(e);
  }
  const windows = new Map<string, OracleWindow>();
  let late = 0;
  let duplicates = 0;
  for (const [device, evs] of byDevice) {
    // 1. de-duplicate (first arrival wins), then order: by seq when the device sends seqs.
    const ids = new Set<string>();
    const seqs = new Set<number>();
    const unique: OracleEvent[] = [];
    for (const e of evs) {
      if (ids.has(e.id) || (e.seq !== undefined && seqs.has(e.seq))) {
        duplicates++;
        continue;
      }
      ids.add(e.id);
      if (e.seq !== undefined) seqs.add(e.seq);
      unique.push(e);
    }
    const ordered = unique.every((e) => e.seq !== undefined) ? [...unique].sort((a, b) => a.seq! - b.seq!) : unique;
    // 2. replay the watermark.
    let maxT = -Infinity;
    const accepted: Array<{ t: number; ord: number; values: Array<[string, number]> }> = [];
    for (const e of ordered) {
      const wm = maxT - opts.maxOutOfOrder;
      if (e.time < wm - opts.allowedLateness) {
        late++;
        continue;
      }
      maxT = Math.max(maxT, e.time);
      const values = Object.entries(e.metrics).map(([k, v]) => [k, typeof v === "boolean" ? (v ? 1 : 0) : v] as [string, number]);
      accepted.push({ t: e.time, ord: accepted.length, values });
    }
    // 3. windows from scratch.
    for (const spec of opts.windows) {
      const name = windowName(spec);
      const groups = new Map<number, { end: number; members: typeof accepted }>();
      if (spec.type === "session") {
        const sorted = [...accepted].sort((a, b) => a.t - b.t || a.ord - b.ord);
        let cur: { start: number; last: number; members: typeof accepted } | undefined;
        for (const a of sorted) {
          if (cur && a.t - cur.last < spec.gap) {
            cur.members.push(a);
            cur.last = a.t;
          } else {
            if (cur) groups.set(cur.start, { end: cur.last + spec.gap, members: cur.members });
            cur = { start: a.t, last: a.t, members: [a] };
          }
        }
        if (cur) groups.set(cur.start, { end: cur.last + spec.gap, members: cur.members });
      } else {
        const size = spec.size;
        const hop = spec.type === "hopping" ? spec.hop : spec.size;
        for (const a of accepted) {
          for (let k = Math.floor(a.t / hop); k * hop > a.t - size; k--) {
            const start = k * hop;
            if (!groups.has(start)) groups.set(start, { end: start + size, members: [] });
            groups.get(start)!.members.push(a);
          }
        }
      }
      for (const [start, g] of groups) {
        const metrics: Record<string, MetricAggregate> = {};
        const names = new Set(g.members.flatMap((m) => m.values.map(([k]) => k)));
        for (const metric of names) {
          const pts = g.members.flatMap((m) => m.values.filter(([k]) => k === metric).map(([, v]) => ({ t: m.t, ord: m.ord, v })));
          const vs = pts.map((p) => p.v);
          const sum = vs.reduce((x, y) => x + y, 0);
          const mean = sum / vs.length;
          const first = pts.reduce((x, y) => (y.t < x.t || (y.t === x.t && y.ord < x.ord) ? y : x));
          const last = pts.reduce((x, y) => (y.t > x.t || (y.t === x.t && y.ord > x.ord) ? y : x));
          metrics[metric] = {
            count: vs.length,
            sum,
            min: Math.min(...vs),
            max: Math.max(...vs),
            mean,
            first: first.v,
            last: last.v,
            stddev: Math.sqrt(vs.reduce((x, y) => x + (y - mean) ** 2, 0) / vs.length),
          };
        }
        if (Object.keys(metrics).length) windows.set(oracleKey(device, name, start), { device, window: name, start, end: g.end, metrics });
      }
    }
  }
  return { windows, late, duplicates };
}

/** Differences between engine results (latest revision per window) and the oracle; empty when equal. */
export function diffWindows(
  got: Map<string, { end: number; metrics: Record<string, MetricAggregate> }>,
  want: Map<string, OracleWindow>,
  tolerance = 1e-9,
): string[] {
  const out: string[] = [];
  const close = (a: number, b: number) => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
  for (const [k, w] of want) {
    const g = got.get(k);
    if (!g) {
      out.push(`missing ${k}`);
      continue;
    }
    if (g.end !== w.end) out.push(`${k}: end ${g.end} != ${w.end}`);
    for (const [m, a] of Object.entries(w.metrics)) {
      const b = g.metrics[m];
      if (!b) {
        out.push(`${k}: metric ${m} missing`);
        continue;
      }
      for (const f of ["count", "min", "max", "first", "last"] as const) if (a[f] !== b[f]) out.push(`${k}.${m}.${f}: ${b[f]} != ${a[f]}`);
      for (const f of ["sum", "mean", "stddev"] as const) if (!close(a[f], b[f])) out.push(`${k}.${m}.${f}: ${b[f]} != ${a[f]}`);
    }
    if (Object.keys(g.metrics).length !== Object.keys(w.metrics).length) out.push(`${k}: metric sets differ`);
  }
  for (const k of got.keys()) if (!want.has(k)) out.push(`unexpected ${k}`);
  return out;
}
