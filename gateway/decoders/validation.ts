/**
 * Shared validation for every decoder (CONTRACT section 2): timestamps, sequence numbers, idempotency
 * keys, metric names and values, coordinates. Each check throws a `RejectError` whose pointer is a
 * JSON pointer into the payload (e.g. `/metrics/temp`, `/2/lat`).
 */
import type { Config } from "../../core/config.ts";
import { MAX_IDEMPOTENCY_KEY } from "../../core/envelope.ts";
import { RejectError } from "../../core/errors.ts";

export const METRIC_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// Header values cannot carry control characters; ce-id travels in one.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

/** The limits validation needs, from `cfg.limits`. */
export type ValidationLimits = Pick<Config["limits"], "maxPast" | "maxFuture" | "maxMetrics">;

/** Escapes one JSON pointer token (RFC 6901). */
export function pointerToken(t: string | number): string {
  if (typeof t === "number") return String(t);
  // Hot path: nearly every token is a plain name.
  return t.includes("~") || t.includes("/") ? t.replace(/~/g, "~0").replace(/\//g, "~1") : t;
}

/** Joins a base pointer and tokens: `ptr("/2", "metrics", "t")` -> `/2/metrics/t`. */
export function ptr(base: string, ...tokens: Array<string | number>): string {
  // Built for every field of every reading and read only on a reject: plain concatenation, no arrays.
  let s = base;
  for (let i = 0; i < tokens.length; i++) s += "/" + pointerToken(tokens[i]!);
  return s;
}

/** Throws a `schema_violation` at the pointer. */
export function violation(pointer: string, message: string): never {
  throw new RejectError("schema_violation", `${pointer || "/"}: ${message}`, pointer);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A type name for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Event time from `ts` (epoch ms or RFC 3339), or the receive time when absent.
 * @throws RejectError `schema_violation` for a malformed value, `timestamp_out_of_range` beyond the limits
 */
export function eventTime(
  value: unknown,
  pointer: string,
  receivedAt: number,
  limits: ValidationLimits,
  unitMs = 1,
): { time: number; timesource: "device" | "gateway" } {
  if (value === undefined) return { time: receivedAt, timesource: "gateway" };
  let time: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) violation(pointer, "expected a finite epoch timestamp");
    time = Math.floor(value * unitMs);
  } else if (typeof value === "string") {
    if (!RFC3339_RE.test(value)) violation(pointer, `expected epoch milliseconds or an RFC 3339 time, got "${value.slice(0, 40)}"`);
    time = Date.parse(value.replace(" ", "T"));
    if (Number.isNaN(time)) violation(pointer, `"${value}" is not a valid RFC 3339 time`);
  } else {
    violation(pointer, `expected epoch milliseconds or an RFC 3339 string, got ${typeName(value)}`);
  }
  if (time < receivedAt - limits.maxPast || time > receivedAt + limits.maxFuture) {
    throw new RejectError(
      "timestamp_out_of_range",
      `${pointer}: ${Math.abs(time) < 8.64e15 ? new Date(time).toISOString() : String(time)} is more than ${limits.maxPast} ms in the past or ${limits.maxFuture} ms in the future of the receive time`,
      pointer,
    );
  }
  return { time, timesource: "device" };
}

/** Optional `seq`: an integer >= 0. */
export function optionalSeq(value: unknown, pointer: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) violation(pointer, "expected an integer >= 0");
  return value;
}

/** Optional `id`: a string of 1..128 characters without control characters. */
export function optionalId(value: unknown, pointer: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") violation(pointer, `expected a string, got ${typeName(value)}`);
  if (value.length < 1 || value.length > MAX_IDEMPOTENCY_KEY) violation(pointer, `expected 1..${MAX_IDEMPOTENCY_KEY} characters, got ${value.length}`);
  if (CONTROL_RE.test(value)) violation(pointer, "must not contain control characters");
  return value;
}

/** One metric value: a finite number or a boolean. */
export function metricValue(value: unknown, pointer: string): number | boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  violation(pointer, `expected a finite number or a boolean, got ${typeof value === "number" ? String(value) : typeName(value)}`);
}

/** Checks a metric name against `^[A-Za-z_][A-Za-z0-9_]{0,63}$`. */
export function metricName(name: string, pointer: string): void {
  if (!METRIC_NAME_RE.test(name)) violation(pointer, `metric name "${name.slice(0, 80)}" must match ${METRIC_NAME_RE.source}`);
}

/** Checks the number of metrics (1..maxMetrics). */
export function metricCount(n: number, pointer: string, limits: ValidationLimits): void {
  if (n < 1) violation(pointer, "expected at least one metric");
  if (n > limits.maxMetrics) violation(pointer, `expected at most ${limits.maxMetrics} metrics, got ${n}`);
}

/** A required finite number within [min, max]. */
export function numberIn(value: unknown, pointer: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) violation(pointer, `expected a number, got ${typeName(value)}`);
  if (value < min || value > max) violation(pointer, `expected a number in [${min}, ${max}], got ${value}`);
  return value;
}

/** An optional finite number within [min, max]. */
export function optionalNumberIn(value: unknown, pointer: string, min = -Infinity, max = Infinity): number | undefined {
  if (value === undefined || value === null) return undefined;
  return numberIn(value, pointer, min, max);
}
