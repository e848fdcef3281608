/**
 * Zigbee2MQTT device state (`zigbee2mqtt/<friendly_name>`): a flat object whose numbers and booleans
 * become metrics; strings, nulls and nested objects (`update`, `color`) are ignored. `last_seen`
 * (ISO 8601 or epoch ms, depending on Zigbee2MQTT's `last_seen` setting) or `time` gives the event time.
 */
import type { Decoder } from "./decoder.ts";
import { eventTime, isPlainObject, metricCount, metricName, ptr, typeName, violation } from "./validation.ts";

const TIME_FIELDS = new Set(["last_seen", "time"]);

/** Decodes one Zigbee2MQTT state message into a `SensorReadingRecorded` event. */
export const decodeZigbee2Mqtt: Decoder = (el, ctx) => {
  const p = ctx.pointer;
  if (!isPlainObject(el)) violation(p, `expected a Zigbee2MQTT state object, got ${typeName(el)}`);
  const metrics: Record<string, number | boolean> = {};
  let n = 0;
  for (const [name, v] of Object.entries(el)) {
    if (TIME_FIELDS.has(name)) continue;
    if (typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) {
      metricName(name, ptr(p, name));
      metrics[name] = v;
      n++;
    }
  }
  metricCount(n, p, ctx.limits);
  const tsField = el.last_seen !== undefined ? "last_seen" : "time";
  const { time, timesource } = eventTime(el[tsField], ptr(p, tsField), ctx.receivedAt, ctx.limits);
  return { kind: "telemetry", data: { metrics }, time, timesource };
};
