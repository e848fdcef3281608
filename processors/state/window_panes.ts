/**
 * The pane machinery of tumbling and hopping windows (see device_windows.ts): a fixed spec keeps
 * its events in panes of gcd(size, hop) ms, and a window's aggregates are merged from its panes
 * when it is emitted. Also the session window type, so that the checkpoint encoding need not
 * import device_windows.ts.
 */
import { addValue, newAggregate, type RunningAggregate } from "./aggregate.ts";

/** A session window. */
export interface Win {
  start: number;
  /** Exclusive; its last event + gap. */
  end: number;
  /** Revisions emitted so far. */
  emitted: number;
  /** Changed since the last emission. */
  dirty: boolean;
  aggs: Map<string, RunningAggregate>;
}

export interface PaneAggregate extends RunningAggregate {
  /** Application order of the value that created it: a window lists its metrics in the order they first reached it. */
  c: number;
}

/** `pane` ms of a fixed spec: the unit its windows are merged from. */
export interface Pane {
  start: number;
  /** End of the earliest window holding the pane: where the watermark closes a window it changed. */
  due: number;
  /** Application order of the last value added. */
  maxO: number;
  /** Metric names and their aggregates, in the order the metrics reached the pane (few: a scan beats a Map). */
  names: string[];
  aggs: PaneAggregate[];
}

/** A tumbling or hopping window: its aggregates live in its panes. */
export interface FixedWin {
  start: number;
  /** Revisions emitted so far. */
  emitted: number;
  /** The highest `maxO` of its panes at its last emission (-1 before the first): it changed if one is higher now. */
  seen: number;
}

export interface FixedSpec {
  size: number;
  hop: number;
  pane: number;
  /** Open and recently emitted windows by start, in creation order (the emission order). */
  wins: Map<number, FixedWin>;
  panes: Map<number, Pane>;
  /** The pane of the last event: the next one most likely falls into it too. */
  last: Pane | undefined;
}

/** A copy of `a` with creation order `c`; a literal, so every pane aggregate has one shape (a spread would not). */
export function paneAggregate(a: RunningAggregate, c: number): PaneAggregate {
  return {
    n: a.n, sum: a.sum, min: a.min, max: a.max, mean: a.mean, m2: a.m2,
    firstT: a.firstT, firstO: a.firstO, first: a.first, lastT: a.lastT, lastO: a.lastO, last: a.last, c,
  };
}

export function gcd(a: number, b: number): number {
  while (b > 0) [a, b] = [b, a % b];
  return a;
}

/** Start of the earliest window of `f` that holds time `t` (greater than `t` when none does: hop > size). */
export function firstWindowStart(f: FixedSpec, t: number): number {
  return (Math.floor((t - f.size) / f.hop) + 1) * f.hop;
}

/** The pane of `f` holding `t`, created (with the windows it opens) if new; undefined if no window holds `t`. */
export function paneAt(f: FixedSpec, t: number): Pane | undefined {
  const start = Math.floor(t / f.pane) * f.pane;
  const p = f.panes.get(start);
  if (p) return p;
  const first = firstWindowStart(f, start);
  // `!(<=)`: a zero size or hop gives NaN, and no window, as it always has
  if (!(first <= start)) return undefined;
  for (let s = first; s <= start; s += f.hop) if (!f.wins.has(s)) f.wins.set(s, { start: s, emitted: 0, seen: -1 });
  const pane: Pane = { start, due: first + f.size, maxO: -1, names: [], aggs: [] };
  f.panes.set(start, pane);
  return pane;
}

export function addToPane(p: Pane, names: string[], values: number[], t: number, ord: number): void {
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    // Devices mostly send the same metrics in the same order: try the same position first.
    const j = p.names[i] === name ? i : p.names.indexOf(name);
    if (j >= 0) addValue(p.aggs[j]!, values[i]!, t, ord);
    else {
      p.names.push(name);
      p.aggs.push(paneAggregate(newAggregate(values[i]!, t, ord), ord));
    }
  }
  p.maxO = ord;
}

/** Whether a value reached `w` since its last emission. */
export function changed(f: FixedSpec, w: FixedWin): boolean {
  for (let s = w.start; s < w.start + f.size; s += f.pane) {
    const p = f.panes.get(s);
    if (p && p.maxO > w.seen) return true;
  }
  return false;
}
