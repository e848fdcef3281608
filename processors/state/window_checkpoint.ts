/**
 * The checkpointed form of DeviceWindows (see device_windows.ts) and its encoding: flat arrays,
 * with times and application orders stored as distances back from the newest, so that the
 * checkpoints, written often, stay small.
 */
import type { RunningAggregate } from "./aggregate.ts";
import { firstWindowStart, paneAggregate, type FixedSpec, type Pane, type Win } from "./window_panes.ts";

/** The checkpointed form of a tumbling or hopping spec (times and ords relative, see {@link DeviceWindowsState}). */
export interface FixedSpecState {
  /** Per window, in creation order: `T - start, emitted, O - seen` (0 before the first emission: seen is -1 then). */
  w: number[];
  /**
   * One flat array per pane: `[T - start, O - maxO, ...per metric: name, O - c, n, sum, min, max,
   * mean, m2, firstT - start, O - firstO, first, lastT - start, O - lastO, last]`.
   */
  p: Array<Array<number | string>>;
}

/**
 * The checkpointed form. Checkpoints are written often, so they are kept small: flat arrays, and
 * times and application orders as distances back from `maxT` (T) and `ord` (O).
 */
export interface DeviceWindowsState {
  maxT: number | null;
  ord: number;
  /**
   * Per spec: a tumbling or hopping spec as {@link FixedSpecState}; a session spec as one flat array
   * per window: `[T - start, end - start, emitted, dirty 0|1, ...per metric: name, n, sum, min, max,
   * mean, m2, firstT - start, O - firstO, first, lastT - start, O - lastO, last]`.
   */
  specs: Array<FixedSpecState | Array<Array<number | string>>>;
}

/** What checkpointed times and ords are relative to: `maxT` and `ord`. */
interface Base {
  t: number;
  o: number;
}

const AGG_FIELDS = 12;

function encodeAgg(out: Array<number | string>, a: RunningAggregate, start: number, b: Base): void {
  out.push(a.n, a.sum, a.min, a.max, a.mean, a.m2, a.firstT - start, b.o - a.firstO, a.first, a.lastT - start, b.o - a.lastO, a.last);
}

/** The aggregate encoded at `x[i]..x[i + AGG_FIELDS - 1]` by {@link encodeAgg}. */
function decodeAgg(x: Array<number | string>, i: number, start: number, b: Base): RunningAggregate {
  const n = (j: number) => x[i + j] as number;
  return {
    n: n(0), sum: n(1), min: n(2), max: n(3), mean: n(4), m2: n(5),
    firstT: start + n(6), firstO: b.o - n(7), first: n(8), lastT: start + n(9), lastO: b.o - n(10), last: n(11),
  };
}

export function encodeWin(w: Win, b: Base): Array<number | string> {
  const out: Array<number | string> = [b.t - w.start, w.end - w.start, w.emitted, w.dirty ? 1 : 0];
  for (const [m, a] of w.aggs) {
    out.push(m);
    encodeAgg(out, a, w.start, b);
  }
  return out;
}

export function decodeWin(x: Array<number | string>, b: Base): Win {
  const start = b.t - (x[0] as number);
  const w: Win = { start, end: start + (x[1] as number), emitted: x[2] as number, dirty: x[3] === 1, aggs: new Map() };
  for (let i = 4; i + AGG_FIELDS < x.length; i += AGG_FIELDS + 1) w.aggs.set(x[i] as string, decodeAgg(x, i + 1, start, b));
  return w;
}

export function encodeFixed(f: FixedSpec, b: Base): FixedSpecState {
  const w: number[] = [];
  for (const x of f.wins.values()) w.push(b.t - x.start, x.emitted, x.emitted > 0 ? b.o - x.seen : 0);
  const p: Array<Array<number | string>> = [];
  for (const pane of f.panes.values()) {
    const out: Array<number | string> = [b.t - pane.start, b.o - pane.maxO];
    pane.aggs.forEach((a, i) => {
      out.push(pane.names[i]!, b.o - a.c);
      encodeAgg(out, a, pane.start, b);
    });
    p.push(out);
  }
  return { w, p };
}

export function decodeFixed(x: FixedSpecState, f: FixedSpec, b: Base): void {
  for (let i = 0; i + 2 < x.w.length; i += 3) {
    const start = b.t - x.w[i]!;
    const emitted = x.w[i + 1]!;
    f.wins.set(start, { start, emitted, seen: emitted > 0 ? b.o - x.w[i + 2]! : -1 });
  }
  for (const y of x.p) {
    const start = b.t - (y[0] as number);
    const pane: Pane = { start, due: firstWindowStart(f, start) + f.size, maxO: b.o - (y[1] as number), names: [], aggs: [] };
    for (let i = 2; i + AGG_FIELDS + 1 < y.length; i += AGG_FIELDS + 2) {
      pane.names.push(y[i] as string);
      pane.aggs.push(paneAggregate(decodeAgg(y, i + 2, start, b), b.o - (y[i + 1] as number)));
    }
    f.panes.set(start, pane);
  }
}
