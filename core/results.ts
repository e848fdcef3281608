/**
 * The data of the events processors publish to RESULTS, shared by processors (writers) and sinks
 * and fan-out (readers). Every one travels in the CloudEvents envelope of envelope.ts.
 *
 * | ce-type                   | subject                              | ce-time      | ce-id / Nats-Msg-Id                          |
 * |---------------------------|--------------------------------------|--------------|----------------------------------------------|
 * | `WindowAggregateComputed` | `<root>.results.window.<deviceId>`   | window start | `<device>:w:<window>:<startMs>:r<revision>`  |
 * | `LocationEnriched`        | `<root>.results.location.<deviceId>` | event time   | `<input ce-id>:loc`                          |
 * | `SequenceGapDetected`     | `<root>.events.SequenceGapDetected.<deviceId>` | time of detection's last event | `<device>:gap:<from>-<to>` |
 */
import type { WindowSpec } from "./config.ts";

/** Aggregates of one metric within one window (CONTRACT section 6). `stddev` is the population one. */
export interface MetricAggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  first: number;
  last: number;
  stddev: number;
}

/** Data of `WindowAggregateComputed`: all metrics of one device in one window. */
export interface WindowAggregateData {
  device: string;
  /** The window tag, e.g. `tumbling_1m`, `hopping_5m_1m`, `session_30s` (see `windowName`). */
  window: string;
  /** Window start and end, epoch ms (end exclusive; a session's end is its last event + gap). */
  start: number;
  end: number;
  /** 0 for the first emission; each correction within allowed lateness emits revision + 1. */
  revision: number;
  metrics: Record<string, MetricAggregate>;
}

/** Data of `LocationEnriched`. `distance_m`/`speed_mps` are absent for an out-of-order fix. */
export interface LocationEnrichedData {
  device: string;
  /** Event time, epoch ms. */
  ts: number;
  lat: number;
  lon: number;
  alt?: number;
  accuracy?: number;
  heading?: number;
  speed_mps?: number;
  distance_m?: number;
  /** True when the fix is older than the last applied one (stored, not used for distance/speed). */
  outOfOrder: boolean;
}

/** Data of `SequenceGapDetected`: seqs `from`..`to` (inclusive) never arrived within the reorder bound. */
export interface SequenceGapData {
  device: string;
  from: number;
  to: number;
  missing: number;
}

/** Data of `SensorReadingRecorded` (TELEMETRY): booleans are kept as booleans (written as 1/0). */
export interface SensorReadingData {
  metrics: Record<string, number | boolean>;
}

/** Data of `LocationUpdated` (LOCATION); speed in m/s, heading in degrees, accuracy and alt in m. */
export interface LocationData {
  lat: number;
  lon: number;
  alt?: number;
  speed?: number;
  heading?: number;
  accuracy?: number;
}

/** Compact duration for tags: 60000 -> "1m", 30000 -> "30s", 1500 -> "1500ms", 3600000 -> "1h". */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * The `window` tag of a window spec.
 * @example windowName({ type: "hopping", size: 300000, hop: 60000 }) // => "hopping_5m_1m"
 */
export function windowName(w: WindowSpec): string {
  switch (w.type) {
    case "tumbling":
      return `tumbling_${formatDuration(w.size)}`;
    case "hopping":
      return `hopping_${formatDuration(w.size)}_${formatDuration(w.hop)}`;
    case "session":
      return `session_${formatDuration(w.gap)}`;
  }
}
