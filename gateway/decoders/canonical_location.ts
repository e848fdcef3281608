/**
 * The canonical location (CONTRACT section 2):
 * `{"ts", "seq", "id", "lat", "lon", "alt"?, "speed"? (m/s), "heading"? (deg), "accuracy"? (m)}`.
 */
import type { LocationData } from "../../core/results.ts";
import type { Decoder } from "./decoder.ts";
import { eventTime, isPlainObject, numberIn, optionalId, optionalNumberIn, optionalSeq, ptr, typeName, violation } from "./validation.ts";

/** Decodes one canonical location into a `LocationUpdated` event. */
export const decodeCanonicalLocation: Decoder = (el, ctx) => {
  const p = ctx.pointer;
  if (!isPlainObject(el)) violation(p, `expected a location object, got ${typeName(el)}`);
  const data: LocationData = {
    lat: numberIn(el.lat, ptr(p, "lat"), -90, 90),
    lon: numberIn(el.lon, ptr(p, "lon"), -180, 180),
  };
  const alt = optionalNumberIn(el.alt, ptr(p, "alt"));
  const speed = optionalNumberIn(el.speed, ptr(p, "speed"), 0);
  const heading = optionalNumberIn(el.heading, ptr(p, "heading"), 0, 360);
  const accuracy = optionalNumberIn(el.accuracy, ptr(p, "accuracy"), 0);
  if (alt !== undefined) data.alt = alt;
  if (speed !== undefined) data.speed = speed;
  if (heading !== undefined) data.heading = heading;
  if (accuracy !== undefined) data.accuracy = accuracy;
  const seq = optionalSeq(el.seq, ptr(p, "seq"));
  const id = optionalId(el.id, ptr(p, "id"));
  const { time, timesource } = eventTime(el.ts, ptr(p, "ts"), ctx.receivedAt, ctx.limits);
  return { kind: "location", data, time, timesource, seq, id };
};
