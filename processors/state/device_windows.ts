/**
 * Event-time windows of one device (CONTRACT section 6): tumbling, hopping and session windows,
 * several specs at once, over a per-device watermark (max event time - `maxOutOfOrder`).
 *
 * - A window is emitted when the watermark reaches its end (revision 0).
 * - An event no older than `watermark - allowedLateness` is applied; if its window was already
 *   emitted, the corrected window is emitted at once with revision + 1.
 * - An older event is returned as `late` (the caller dead-letters it).
 * - `idle(now)`: a device silent for `idleTimeout` (processing time) gets its windows emitted even
 *   though its watermark has not passed them.
 * - A session that merges into an earlier one is re-emitted once with no metrics (superseded), so
 *   the latest revision of every window id stays true.
 *
 * Pure and synchronous: the caller supplies processing time; `toJSON()`/constructor restore it.
 */
import type { WindowSpec } from "../../core/config.ts";
import { windowName } from "../../core/results.ts";
import type { MetricAggregate, SensorReadingData } from "../../core/results.ts";
import { addValue, mergeInto, metricValue, newAggregate, toMetricAggregate, type RunningAggregate } from "./aggregate.ts";
import type { InputEvent, ProcessorItem } from "./events.ts";

export interface WindowOptions {
  windows: WindowSpec[];
  /** The watermark trails the newest event time by this much (ms). */
  maxOutOfOrder: number;
  /** Events up to this far behind the watermark still correct their windows (ms). */
  allowedLateness: number;
  /** Processing time (ms) after which a silent device's windows are emitted. */
  idleTimeout: number;
}

export const DEFAULT_WINDOW_OPTIONS: WindowOptions = {
  windows: [{ type: "tumbling", size: 60_000 }],
  maxOutOfOrder: 5000,
  allowedLateness: 60_000,
  idleTimeout: 30_000,
};

interface Win {
  start: number;
  /** Exclusive; for a session, its last event + gap. */
  end: number;
  /** Revisions emitted so far. */
  emitted: number;
  /** Changed since the last emission. */
  dirty: boolean;
  aggs: Map<string, RunningAggregate>;
}

/** The checkpointed form. */
export interface DeviceWindowsState {
  maxT: number | null;
  ord: number;
  /**
   * Per spec, one flat array per window (checkpoints are written often, so they are kept small):
   * `[start, end - start, emitted, dirty 0|1, ...per metric: name, n, sum, min, max, mean, m2,
   * firstT - start, firstO, first, lastT - start, lastO, last]`.
   */
  specs: Array<Array<Array<number | string>>>;
}

const AGG_FIELDS = 12;

function encodeWin(w: Win): Array<number | string> {
  const out: Array<number | string> = [w.start, w.end - w.start, w.emitted, w.dirty ? 1 : 0];
  for (const [m, a] of w.aggs) out.push(m, a.n, a.sum, a.min, a.max, a.mean, a.m2, a.firstT - w.start, a.firstO, a.first, a.lastT - w.start, a.lastO, a.last);
  return out;
}

function decodeWin(x: Array<number | string>): Win {
  const n = (i: number) => x[i] as number;
  const start = n(0);
  const w: Win = { start, end: start + n(1), emitted: n(2), dirty: n(3) === 1, aggs: new Map() };
  for (let i = 4; i + AGG_FIELDS < x.length; i += AGG_FIELDS + 1) {
    w.aggs.set(x[i] as string, {
      n: n(i + 1), sum: n(i + 2), min: n(i + 3), max: n(i + 4), mean: n(i + 5), m2: n(i + 6),
      firstT: start + n(i + 7), firstO: n(i + 8), first: n(i + 9), lastT: start + n(i + 10), lastO: n(i + 11), last: n(i + 12),
    });
  }
  return w;
}

export class DeviceWindows {
  private maxT = -Infinity;
  private ord = 0;
  /** Processing time of the last applied event. */
  lastSeen: number;
  /** Per spec: open and recently emitted windows by start (sessions: kept sorted by start). */
  private readonly wins: Array<Map<number, Win>>;
  private readonly names: string[];

  constructor(
    readonly device: string,
    private readonly opts: WindowOptions,
    now: number,
    state?: DeviceWindowsState,
  ) {
    this.names = opts.windows.map(windowName);
    // After a restore the idle clock starts afresh: silence before the restart is unknown.
    this.lastSeen = now;
    this.wins = opts.windows.map(() => new Map());
    if (state) {
      this.maxT = state.maxT ?? -Infinity;
      this.ord = state.ord;
      state.specs.forEach((list, k) => {
        if (k >= this.wins.length) return;
        for (const x of list) {
          const w = decodeWin(x);
          this.wins[k]!.set(w.start, w);
        }
      });
    }
  }

  /** Max event time seen minus `maxOutOfOrder` (-Infinity before the first event). */
  get watermark(): number {
    return this.maxT - this.opts.maxOutOfOrder;
  }

  /** Windows held (open, or emitted and still correctable). */
  get size(): number {
    let n = 0;
    for (const m of this.wins) n += m.size;
    return n;
  }

  /** Applies one in-order reading; pushes window emissions, or `late` for an event beyond allowed lateness. */
  apply(ev: InputEvent<SensorReadingData>, now: number, out: ProcessorItem<SensorReadingData>[] = []): ProcessorItem<SensorReadingData>[] {
    this.lastSeen = now;
    const before = this.watermark;
    const t = ev.time;
    if (t < before - this.opts.allowedLateness) {
      out.push({ kind: "late", ev, watermark: before });
      return out;
    }
    const names: string[] = [];
    const values: number[] = [];
    const metrics = ev.data?.metrics ?? {};
    for (const name in metrics) {
      const v = metricValue(metrics[name]);
      if (v !== undefined) {
        names.push(name);
        values.push(v);
      }
    }
    const ord = this.ord++;
    let correction = false;
    if (values.length > 0) {
      const specs = this.opts.windows;
      for (let k = 0; k < specs.length; k++) {
        const spec = specs[k]!;
        const map = this.wins[k]!;
        if (spec.type === "session") {
          const w = this.sessionFor(k, spec.gap, t, out);
          addAll(w, names, values, t, ord);
          if (w.end <= before) correction = true;
          continue;
        }
        const size = spec.size;
        const hop = spec.type === "hopping" ? spec.hop : spec.size;
        // Every window [s, s + size) with s a multiple of hop that holds t, earliest first.
        for (let s = (Math.floor((t - size) / hop) + 1) * hop; s <= t; s += hop) {
          let w = map.get(s);
          if (!w) {
            w = { start: s, end: s + size, emitted: 0, dirty: false, aggs: new Map() };
            map.set(s, w);
          }
          addAll(w, names, values, t, ord);
          if (w.end <= before) correction = true;
        }
      }
    }
    if (t > this.maxT) this.maxT = t;
    if (correction || this.watermark > before) this.emitReady(out);
    return out;
  }

  /** Emits every changed window if the device has been silent for `idleTimeout`. */
  idle(now: number, out: ProcessorItem<SensorReadingData>[] = []): ProcessorItem<SensorReadingData>[] {
    if (now - this.lastSeen >= this.opts.idleTimeout) this.emitDirty(out);
    return out;
  }

  /** Emits every changed window (end of input). */
  flush(out: ProcessorItem<SensorReadingData>[] = []): ProcessorItem<SensorReadingData>[] {
    this.emitDirty(out);
    return out;
  }

  /** True when some window has changes not yet emitted. */
  get hasDirty(): boolean {
    for (const m of this.wins) for (const w of m.values()) if (w.dirty) return true;
    return false;
  }

  toJSON(): DeviceWindowsState {
    return {
      maxT: Number.isFinite(this.maxT) ? this.maxT : null,
      ord: this.ord,
      specs: this.wins.map((m) => [...m.values()].map(encodeWin)),
    };
  }

  /** The session of spec `k` that `t` joins, merging the sessions it bridges. */
  private sessionFor(k: number, gap: number, t: number, out: ProcessorItem<SensorReadingData>[]): Win {
    const map = this.wins[k]!;
    let only: Win | undefined;
    let hits: Win[] | undefined;
    for (const w of map.values()) {
      if (!(t < w.end && t + gap > w.start)) continue;
      if (!only) only = w;
      else (hits ??= [only]).push(w);
    }
    // The common case: the event falls inside one session and does not move its start.
    if (only && !hits && t >= only.start) {
      if (t + gap > only.end) only.end = t + gap;
      only.dirty = true;
      return only;
    }
    hits ??= only ? [only] : [];
    if (hits.length === 0) {
      const w: Win = { start: t, end: t + gap, emitted: 0, dirty: false, aggs: new Map() };
      map.set(t, w);
      return w;
    }
    hits.sort((a, b) => a.start - b.start);
    const keep = hits[0]!;
    const start = Math.min(keep.start, t);
    let end = Math.max(keep.end, t + gap);
    for (const w of hits.slice(1)) {
      end = Math.max(end, w.end);
      for (const [m, a] of w.aggs) {
        const cur = keep.aggs.get(m);
        if (cur) mergeInto(cur, a);
        else keep.aggs.set(m, { ...a });
      }
      map.delete(w.start);
      if (w.emitted > 0) this.emit(k, { ...w, aggs: new Map(), dirty: true }, out);
    }
    if (start !== keep.start) {
      map.delete(keep.start);
      if (keep.emitted > 0) this.emit(k, { ...keep, aggs: new Map(), dirty: true }, out);
      keep.start = start;
      keep.emitted = 0;
      map.set(start, keep);
    }
    keep.end = end;
    keep.dirty = true;
    return keep;
  }

  private emitReady(out: ProcessorItem<SensorReadingData>[]): void {
    const wm = this.watermark;
    const evictBefore = wm - this.opts.allowedLateness;
    this.wins.forEach((map, k) => {
      for (const w of map.values()) {
        if (w.end > wm) continue;
        if (w.dirty) this.emit(k, w, out);
        if (w.end <= evictBefore) map.delete(w.start);
      }
    });
  }

  private emitDirty(out: ProcessorItem<SensorReadingData>[]): void {
    this.wins.forEach((map, k) => {
      for (const w of map.values()) if (w.dirty) this.emit(k, w, out);
    });
  }

  private emit(k: number, w: Win, out: ProcessorItem<SensorReadingData>[]): void {
    const metrics: Record<string, MetricAggregate> = {};
    for (const [m, a] of w.aggs) metrics[m] = toMetricAggregate(a);
    out.push({
      kind: "window",
      result: { device: this.device, window: this.names[k]!, start: w.start, end: w.end, revision: w.emitted, metrics },
    });
    w.emitted += 1;
    w.dirty = false;
  }
}

function addAll(w: Win, names: string[], values: number[], t: number, ord: number): void {
  for (let i = 0; i < names.length; i++) {
    const a = w.aggs.get(names[i]!);
    if (a) addValue(a, values[i]!, t, ord);
    else w.aggs.set(names[i]!, newAggregate(values[i]!, t, ord));
  }
  w.dirty = true;
}
