/**
 * OwnTracks (https://owntracks.org/booklet/tech/json/): `_type: "location"` becomes `LocationUpdated`
 * (`tst` seconds, `vel` km/h -> m/s, `cog` -> heading, `acc` -> accuracy, `alt`); every other `_type`
 * (waypoint, transition, lwt, card, ...) is acknowledged and counted, not stored. The device id
 * `<user>-<device>` comes from the topic `owntracks/<user>/<device>`.
 */
import type { LocationData } from "../../core/results.ts";
import type { Decoder } from "./decoder.ts";
import { eventTime, isPlainObject, numberIn, optionalNumberIn, ptr, typeName, violation } from "./validation.ts";

/** Decodes one OwnTracks message. */
export const decodeOwnTracks: Decoder = (el, ctx) => {
  const p = ctx.pointer;
  if (!isPlainObject(el)) violation(p, `expected an OwnTracks object, got ${typeName(el)}`);
  const type = el._type;
  if (typeof type !== "string") violation(ptr(p, "_type"), type === undefined ? "required" : `expected a string, got ${typeName(type)}`);
  if (type !== "location") return { ignored: `owntracks_${/^[a-z]{1,20}$/.test(type) ? type : "other"}` };
  const data: LocationData = {
    lat: numberIn(el.lat, ptr(p, "lat"), -90, 90),
    lon: numberIn(el.lon, ptr(p, "lon"), -180, 180),
  };
  const alt = optionalNumberIn(el.alt, ptr(p, "alt"));
  const vel = optionalNumberIn(el.vel, ptr(p, "vel"), 0);
  const cog = optionalNumberIn(el.cog, ptr(p, "cog"), 0, 360);
  const acc = optionalNumberIn(el.acc, ptr(p, "acc"), 0);
  if (alt !== undefined) data.alt = alt;
  if (vel !== undefined) data.speed = vel / 3.6;
  if (cog !== undefined) data.heading = cog;
  if (acc !== undefined) data.accuracy = acc;
  if (el.tst !== undefined && typeof el.tst !== "number") violation(ptr(p, "tst"), `expected epoch seconds, got ${typeName(el.tst)}`);
  const { time, timesource } = eventTime(el.tst, ptr(p, "tst"), ctx.receivedAt, ctx.limits, 1000);
  return { kind: "location", data, time, timesource };
};
