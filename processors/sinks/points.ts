/**
 * Events to InfluxDB points (CONTRACT section 7).
 *
 * | ce-type                   | measurement      | tags                     | fields                                   | time         |
 * |---------------------------|------------------|--------------------------|------------------------------------------|--------------|
 * | `WindowAggregateComputed` | `sensor_window`  | device, metric, window   | count (integer), sum, min, max, mean, first, last, stddev | window start |
 * | `LocationEnriched`        | `location`       | device                   | lat, lon, alt, accuracy, heading, speed_mps, distance_m (as present) | event time |
 * | `SensorReadingRecorded`   | `sensor_reading` | device                   | one float field per metric; booleans as 1.0/0.0 | event time |
 *
 * Raw metric values are always floats: a metric that is sometimes `true` and sometimes `1` (or
 * `3` and `3.5`) then never causes a field type conflict. Other event types make no points.
 * A later revision of a window has the same measurement, tags and time, so it overwrites. A session
 * window that a merge superseded comes again with no metrics: its earlier points are deleted
 * ({@link supersededWindow}).
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import { readEvent, type CloudEvent } from "../../core/envelope.ts";
import type { LocationEnrichedData, SensorReadingData, WindowAggregateData } from "../../core/results.ts";
import { PointMappingError } from "./errors.ts";
import type { PointDeletion } from "./influx_write_api.ts";
import type { InfluxPoint } from "./line_protocol.ts";

const AGG_FIELDS = ["count", "sum", "min", "max", "mean", "first", "last", "stddev"] as const;
const LOCATION_FIELDS = ["lat", "lon", "alt", "accuracy", "heading", "speed_mps", "distance_m"] as const;
const COUNT_INT = ["count"] as const;

function num(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new PointMappingError(`${where}: expected a finite number, got ${JSON.stringify(v)}`);
  return v;
}

/** Points of one decoded event; `raw` = false drops `sensor_reading`. `eventTime`: `ce-time` parsed, when the caller has it. */
export function eventToPoints(ev: CloudEvent, raw = true, eventTime = Date.parse(ev.time)): InfluxPoint[] {
  switch (ev.type) {
    case "WindowAggregateComputed": {
      const d = ev.data as WindowAggregateData;
      if (!d || typeof d.metrics !== "object" || typeof d.window !== "string") throw new PointMappingError("WindowAggregateComputed: data lacks window or metrics");
      const device = d.device ?? ev.subject;
      const time = num(d.start, "data.start");
      return Object.entries(d.metrics).map(([metric, a]) => {
        const fields: Record<string, number> = {};
        for (const f of AGG_FIELDS) fields[f] = num(a[f], `data.metrics.${metric}.${f}`);
        return { measurement: "sensor_window", tags: { device, metric, window: d.window }, fields, ints: COUNT_INT, time };
      });
    }
    case "LocationEnriched": {
      const d = ev.data as LocationEnrichedData;
      const fields: Record<string, number> = {};
      for (const f of LOCATION_FIELDS) if (d?.[f] !== undefined && d[f] !== null) fields[f] = num(d[f], `data.${f}`);
      if (fields.lat === undefined || fields.lon === undefined) throw new PointMappingError("LocationEnriched: data lacks lat or lon");
      const time = d.ts !== undefined ? num(d.ts, "data.ts") : eventTime;
      return [{ measurement: "location", tags: { device: d.device ?? ev.subject }, fields, time }];
    }
    case "SensorReadingRecorded": {
      if (!raw) return [];
      const d = ev.data as SensorReadingData;
      if (!d || typeof d.metrics !== "object" || d.metrics === null) throw new PointMappingError("SensorReadingRecorded: data lacks metrics");
      const fields: Record<string, number> = {};
      for (const [k, v] of Object.entries(d.metrics)) fields[k] = typeof v === "boolean" ? (v ? 1 : 0) : num(v, `data.metrics.${k}`);
      if (Object.keys(fields).length === 0) return [];
      if (!Number.isFinite(eventTime)) throw new PointMappingError(`ce-time ${JSON.stringify(ev.time)} is not a time`);
      return [{ measurement: "sensor_reading", tags: { device: ev.subject }, fields, time: eventTime }];
    }
    default:
      return [];
  }
}

/** The points a superseded session window (a window result without metrics) leaves behind, to delete. */
export function supersededWindow(ev: CloudEvent): PointDeletion | undefined {
  if (ev.type !== "WindowAggregateComputed") return undefined;
  const d = ev.data as WindowAggregateData;
  if (!d || typeof d.metrics !== "object" || d.metrics === null || typeof d.window !== "string") return undefined;
  for (const _ in d.metrics) return undefined;
  return { measurement: "sensor_window", tags: { device: d.device ?? ev.subject, window: d.window }, time: num(d.start, "data.start") };
}

/** Decodes a stored message for {@link eventToPoints}; throws `PointMappingError` when it is not a CloudEvent. */
export function decodeEvent(msg: { headers?: MsgHdrs; data: Uint8Array }): CloudEvent {
  try {
    return readEvent(msg);
  } catch (e) {
    throw new PointMappingError(`not a CloudEvent: ${(e as Error).message}`, { cause: e });
  }
}
