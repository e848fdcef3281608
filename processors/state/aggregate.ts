/**
 * Running aggregates of one metric in one window: count, sum, min, max, mean, first, last and the
 * population standard deviation, updated one value at a time (Welford) and mergeable (Chan et al.),
 * so session windows can be joined without revisiting their values.
 */
import type { MetricAggregate } from "../../core/results.ts";

/** Mutable running state; `m2` is the sum of squared deviations from the mean. */
export interface RunningAggregate {
  n: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  firstT: number;
  /** Application order of the first value: breaks ties of equal event times. */
  firstO: number;
  first: number;
  lastT: number;
  lastO: number;
  last: number;
}

/** A fresh aggregate holding one value observed at event time `t`, applied as the `ord`-th value of its device. */
export function newAggregate(value: number, t: number, ord: number): RunningAggregate {
  return { n: 1, sum: value, min: value, max: value, mean: value, m2: 0, firstT: t, firstO: ord, first: value, lastT: t, lastO: ord, last: value };
}

/**
 * Adds one value. "first"/"last" go by event time; on a tie, by application order (`ord`), so the
 * result does not depend on how windows were merged.
 */
export function addValue(a: RunningAggregate, value: number, t: number, ord: number): void {
  a.n += 1;
  a.sum += value;
  if (value < a.min) a.min = value;
  if (value > a.max) a.max = value;
  const delta = value - a.mean;
  a.mean += delta / a.n;
  a.m2 += delta * (value - a.mean);
  if (t < a.firstT || (t === a.firstT && ord < a.firstO)) {
    a.firstT = t;
    a.firstO = ord;
    a.first = value;
  }
  if (t > a.lastT || (t === a.lastT && ord > a.lastO)) {
    a.lastT = t;
    a.lastO = ord;
    a.last = value;
  }
}

/** Merges `b` into `a` (session windows joined by an event between them). */
export function mergeInto(a: RunningAggregate, b: RunningAggregate): void {
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  a.m2 = a.m2 + b.m2 + (delta * delta * a.n * b.n) / n;
  a.mean = a.mean + (delta * b.n) / n;
  a.n = n;
  a.sum += b.sum;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  if (b.firstT < a.firstT || (b.firstT === a.firstT && b.firstO < a.firstO)) {
    a.firstT = b.firstT;
    a.firstO = b.firstO;
    a.first = b.first;
  }
  if (b.lastT > a.lastT || (b.lastT === a.lastT && b.lastO > a.lastO)) {
    a.lastT = b.lastT;
    a.lastO = b.lastO;
    a.last = b.last;
  }
}

/** The published form (CONTRACT section 6). */
export function toMetricAggregate(a: RunningAggregate): MetricAggregate {
  return {
    count: a.n,
    sum: a.sum,
    min: a.min,
    max: a.max,
    mean: a.mean,
    first: a.first,
    last: a.last,
    stddev: Math.sqrt(Math.max(0, a.m2) / a.n),
  };
}

/** Booleans count as 1/0; anything else that is not a finite number is skipped. */
export function metricValue(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "boolean") return v ? 1 : 0;
  return undefined;
}
