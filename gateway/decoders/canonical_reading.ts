/**
 * The canonical reading (CONTRACT section 2):
 * `{"ts": 1764528000000, "seq": 42, "id": "r-42", "metrics": {"temperature": 21.5, "door_open": false}}`.
 * Unknown top-level fields are ignored.
 */
import type { Decoder } from "./decoder.ts";
import { eventTime, isPlainObject, metricCount, metricName, metricValue, optionalId, optionalSeq, ptr, typeName, violation } from "./validation.ts";

/** Decodes one canonical reading into a `SensorReadingRecorded` event. */
export const decodeCanonicalReading: Decoder = (el, ctx) => {
  const p = ctx.pointer;
  if (!isPlainObject(el)) violation(p, `expected a reading object, got ${typeName(el)}`);
  const m = el.metrics;
  if (!isPlainObject(m)) violation(ptr(p, "metrics"), m === undefined ? "required" : `expected an object of metrics, got ${typeName(m)}`);
  const names = Object.keys(m);
  metricCount(names.length, ptr(p, "metrics"), ctx.limits);
  const metrics: Record<string, number | boolean> = {};
  for (const name of names) {
    const at = ptr(p, "metrics", name);
    metricName(name, at);
    metrics[name] = metricValue(m[name], at);
  }
  const seq = optionalSeq(el.seq, ptr(p, "seq"));
  const id = optionalId(el.id, ptr(p, "id"));
  const { time, timesource } = eventTime(el.ts, ptr(p, "ts"), ctx.receivedAt, ctx.limits);
  return { kind: "telemetry", data: { metrics }, time, timesource, seq, id };
};
