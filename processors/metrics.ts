/** The processors' Prometheus metrics (`fleetstream_processor_` prefix), registered on the process registry. */
import { Counter, Gauge, Histogram, type Registry } from "../core/metrics.ts";

export interface ProcessorMetrics {
  /** Messages left in the partition's consumer, as of the last delivery. Labels: stream, partition. */
  consumerLag: Gauge<"stream" | "partition">;
  /** Processing time minus the watermark of the device last applied. Labels: partition. */
  watermarkDelay: Gauge<"partition">;
  /** Processing time at emission minus window end. */
  windowEmitLatency: Histogram<"window">;
  lateEvents: Counter<never>;
  /** Location fixes older than the last applied one. */
  outOfOrder: Counter<"stream">;
  duplicates: Counter<"stream">;
  gaps: Counter<"stream">;
  /** Input messages by outcome: applied, replayed (already applied before a restart), failed. */
  messages: Counter<"stream" | "outcome">;
  results: Counter<"type">;
  dlq: Counter<"reason">;
  checkpointDuration: Histogram<never>;
  checkpointedDevices: Counter<never>;
}

/** @example const m = createProcessorMetrics(registry); m.lateEvents.inc(); */
export function createProcessorMetrics(registry: Registry): ProcessorMetrics {
  const p = "fleetstream_processor_";
  const registers = [registry];
  return {
    consumerLag: new Gauge({ name: `${p}consumer_lag_messages`, help: "Messages not yet delivered to the partition's consumer", labelNames: ["stream", "partition"], registers }),
    watermarkDelay: new Gauge({ name: `${p}watermark_delay_seconds`, help: "Wall clock minus the watermark of the last applied device", labelNames: ["partition"], registers }),
    windowEmitLatency: new Histogram({
      name: `${p}window_emit_latency_seconds`,
      help: "Wall clock at emission minus window end",
      labelNames: ["window"],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
      registers,
    }),
    lateEvents: new Counter({ name: `${p}late_events_total`, help: "Events beyond allowed lateness, sent to the DLQ", registers }),
    outOfOrder: new Counter({ name: `${p}out_of_order_total`, help: "Location fixes older than the last applied one", labelNames: ["stream"], registers }),
    duplicates: new Counter({ name: `${p}duplicates_total`, help: "Duplicate events dropped (same ce-id or seq already applied)", labelNames: ["stream"], registers }),
    gaps: new Counter({ name: `${p}sequence_gaps_total`, help: "Sequence gaps skipped after the reorder bound", labelNames: ["stream"], registers }),
    messages: new Counter({ name: `${p}messages_total`, help: "Input messages by outcome", labelNames: ["stream", "outcome"], registers }),
    results: new Counter({ name: `${p}results_total`, help: "Results published to RESULTS", labelNames: ["type"], registers }),
    dlq: new Counter({ name: `${p}dlq_total`, help: "Messages sent to the DLQ", labelNames: ["reason"], registers }),
    checkpointDuration: new Histogram({
      name: `${p}checkpoint_duration_seconds`,
      help: "Time to make a checkpoint durable (results published, state stored, input acked)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    checkpointedDevices: new Counter({ name: `${p}checkpointed_devices_total`, help: "Device states written to the checkpoint bucket", registers }),
  };
}
