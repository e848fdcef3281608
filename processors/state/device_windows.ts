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
 * - Emissions of one call come spec by spec (in `windows` order), and within a spec in the order
 *   the windows were created (earliest start first, unless an out-of-order event opened an
 *   earlier window after a later one).
 *
 * Tumbling and hopping windows are stored as panes of gcd(size, hop) ms: an event updates the
 * running aggregates of one pane, and a window's are merged from its panes when it is emitted.
 *
 * Pure and synchronous: the caller supplies processing time; `toJSON()`/constructor restore it.
 */
import type { WindowSpec } from "../../core/config.ts";
import { windowName } from "../../core/results.ts";
import type { MetricAggregate, SensorReadingData } from "../../core/results.ts";
import { addValue, mergeInto, metricValue, newAggregate, toMetricAggregate } from "./aggregate.ts";
import type { InputEvent, ProcessorItem } from "./events.ts";
import { decodeFixed, decodeWin, encodeFixed, encodeWin, type DeviceWindowsState } from "./window_checkpoint.ts";
import { addToPane, changed, gcd, paneAggregate, paneAt, type FixedSpec, type FixedWin, type PaneAggregate, type Win } from "./window_panes.ts";

export type { DeviceWindowsState, FixedSpecState } from "./window_checkpoint.ts";

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

export class DeviceWindows {
  private maxT = -Infinity;
  private ord = 0;
  /** Processing time of the last applied event. */
  lastSeen: number;
  /** Per spec: its panes and windows if it is tumbling or hopping, else undefined. */
  private readonly fixed: Array<FixedSpec | undefined>;
  /** Per spec: open and recently emitted sessions by start if it is a session spec, else undefined. */
  private readonly sessions: Array<Map<number, Win> | undefined>;
  private readonly names: string[];
  /**
   * The windows are scanned only when the watermark reaches this (or on a correction). A window is
   * due at its end (it may have changed: emit) and at its end + allowedLateness (evict); this is at
   * or below the lowest of those points (an open window counts at its end even if unchanged), so a
   * skipped scan would have done nothing. -Infinity after a restore: scan at the next advance.
   */
  private nextDue = -Infinity;

  constructor(
    readonly device: string,
    private readonly opts: WindowOptions,
    now: number,
    state?: DeviceWindowsState,
  ) {
    this.names = opts.windows.map(windowName);
    // After a restore the idle clock starts afresh: silence before the restart is unknown.
    this.lastSeen = now;
    this.fixed = opts.windows.map((spec) => {
      if (spec.type === "session") return undefined;
      const hop = spec.type === "hopping" ? spec.hop : spec.size;
      return { size: spec.size, hop, pane: gcd(spec.size, hop), wins: new Map(), panes: new Map(), last: undefined };
    });
    this.sessions = opts.windows.map((spec) => (spec.type === "session" ? new Map() : undefined));
    if (state) {
      this.maxT = state.maxT ?? -Infinity;
      this.ord = state.ord;
      const base = { t: this.maxT, o: this.ord };
      state.specs.forEach((x, k) => {
        const f = this.fixed[k];
        const sessions = this.sessions[k];
        if (f && !Array.isArray(x)) decodeFixed(x, f, base);
        else if (sessions && Array.isArray(x)) {
          for (const y of x) {
            const w = decodeWin(y, base);
            sessions.set(w.start, w);
          }
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
    for (const f of this.fixed) n += f?.wins.size ?? 0;
    for (const m of this.sessions) n += m?.size ?? 0;
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
      for (let k = 0; k < this.fixed.length; k++) {
        const f = this.fixed[k];
        if (!f) {
          const w = this.sessionFor(k, t, out);
          addAll(w, names, values, t, ord);
          if (w.end <= before) correction = true;
          if (w.end < this.nextDue) this.nextDue = w.end;
          continue;
        }
        let pane = f.last;
        if (pane === undefined || t < pane.start || t >= pane.start + f.pane) {
          pane = paneAt(f, t);
          if (pane === undefined) continue;
          f.last = pane;
        }
        addToPane(pane, names, values, t, ord);
        if (pane.due <= before) correction = true;
        if (pane.due < this.nextDue) this.nextDue = pane.due;
      }
    }
    if (t > this.maxT) this.maxT = t;
    if (correction || (this.watermark > before && this.watermark >= this.nextDue)) this.emitReady(out);
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
    // Fast path for a device that is still sending: the latest window of its latest pane.
    for (const f of this.fixed) {
      if (!f?.last) continue;
      const w = f.wins.get(Math.floor(f.last.start / f.hop) * f.hop);
      if (w && f.last.maxO > w.seen) return true;
    }
    for (const m of this.sessions) if (m) for (const w of m.values()) if (w.dirty) return true;
    for (const f of this.fixed) if (f) for (const w of f.wins.values()) if (changed(f, w)) return true;
    return false;
  }

  toJSON(): DeviceWindowsState {
    const base = { t: this.maxT, o: this.ord };
    return {
      maxT: Number.isFinite(this.maxT) ? this.maxT : null,
      ord: this.ord,
      specs: this.fixed.map((f, k) => (f ? encodeFixed(f, base) : [...this.sessions[k]!.values()].map((w) => encodeWin(w, base)))),
    };
  }

  /** The session of spec `k` that `t` joins, merging the sessions it bridges. */
  private sessionFor(k: number, t: number, out: ProcessorItem<SensorReadingData>[]): Win {
    const map = this.sessions[k]!;
    const gap = (this.opts.windows[k] as { gap: number }).gap;
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

  /** Emits the changed windows the watermark has reached, evicts those no accepted event can change, and sets `nextDue`. */
  private emitReady(out: ProcessorItem<SensorReadingData>[]): void {
    const wm = this.watermark;
    const lateness = this.opts.allowedLateness;
    const evictBefore = wm - lateness;
    let due = Infinity;
    for (let k = 0; k < this.fixed.length; k++) {
      const f = this.fixed[k];
      if (f) {
        for (const w of f.wins.values()) {
          const end = w.start + f.size;
          if (end > wm) {
            if (end < due) due = end;
            continue;
          }
          if (changed(f, w)) this.emitFixed(k, f, w, out);
          if (end <= evictBefore) f.wins.delete(w.start);
          else if (end + lateness < due) due = end + lateness;
        }
        // A pane goes with the last window that holds it.
        for (const p of f.panes.values()) {
          if (Math.floor(p.start / f.hop) * f.hop + f.size > evictBefore) continue;
          f.panes.delete(p.start);
          if (f.last === p) f.last = undefined;
        }
        continue;
      }
      const map = this.sessions[k]!;
      for (const w of map.values()) {
        if (w.end > wm) {
          if (w.end < due) due = w.end;
          continue;
        }
        if (w.dirty) this.emit(k, w, out);
        if (w.end <= evictBefore) map.delete(w.start);
        else if (w.end + lateness < due) due = w.end + lateness;
      }
    }
    this.nextDue = due;
  }

  private emitDirty(out: ProcessorItem<SensorReadingData>[]): void {
    for (let k = 0; k < this.fixed.length; k++) {
      const f = this.fixed[k];
      if (f) {
        for (const w of f.wins.values()) if (changed(f, w)) this.emitFixed(k, f, w, out);
      } else {
        for (const w of this.sessions[k]!.values()) if (w.dirty) this.emit(k, w, out);
      }
    }
  }

  /** Emits a session window. */
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

  /** Emits a tumbling or hopping window, merging a fresh copy of its panes in start order. */
  private emitFixed(k: number, f: FixedSpec, w: FixedWin, out: ProcessorItem<SensorReadingData>[]): void {
    const acc = new Map<string, { a: PaneAggregate; pos: number }>();
    let seen = w.seen;
    for (let s = w.start; s < w.start + f.size; s += f.pane) {
      const p = f.panes.get(s);
      if (!p) continue;
      if (p.maxO > seen) seen = p.maxO;
      p.aggs.forEach((a, pos) => {
        const m = p.names[pos]!;
        const cur = acc.get(m);
        if (!cur) acc.set(m, { a: paneAggregate(a, a.c), pos });
        else {
          mergeInto(cur.a, a);
          if (a.c < cur.a.c) {
            cur.a.c = a.c;
            cur.pos = pos;
          }
        }
      });
    }
    // Metrics in the order they first reached the window; the values of one event reach one pane together.
    const entries = [...acc].sort(([, x], [, y]) => x.a.c - y.a.c || x.pos - y.pos);
    const metrics: Record<string, MetricAggregate> = {};
    for (const [m, x] of entries) metrics[m] = toMetricAggregate(x.a);
    out.push({
      kind: "window",
      result: { device: this.device, window: this.names[k]!, start: w.start, end: w.start + f.size, revision: w.emitted, metrics },
    });
    w.emitted += 1;
    w.seen = seen;
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
