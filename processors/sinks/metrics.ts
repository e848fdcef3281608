/** The sink's Prometheus metrics (`fleetstream_sink_*`), registered once per registry. */
import { Counter, Histogram, type Registry } from "../../core/metrics.ts";

export interface SinkMetrics {
  pointsWritten: Counter<"sink">;
  writeSeconds: Histogram<"sink">;
  writeErrors: Counter<"sink" | "kind">;
  batchesSplit: Counter<"sink">;
  /** Deletes of superseded session windows, by outcome (deleted, unsupported). */
  deletes: Counter<"sink" | "outcome">;
  dlq: Counter<"sink" | "reason">;
  /** Now minus the event time (`ce-time`), observed when a raw reading's point was stored. */
  eventLatency: Histogram<"sink">;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createSinkMetrics(registry: Registry): SinkMetrics {
  const registers = [registry];
  return {
    pointsWritten: reuse(registry, "fleetstream_sink_points_written_total", () => new Counter({ name: "fleetstream_sink_points_written_total", help: "Points the store accepted", labelNames: ["sink"], registers })),
    writeSeconds: reuse(registry, "fleetstream_sink_write_duration_seconds", () => new Histogram({ name: "fleetstream_sink_write_duration_seconds", help: "Latency of one write request", labelNames: ["sink"], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers })),
    writeErrors: reuse(registry, "fleetstream_sink_write_errors_total", () => new Counter({ name: "fleetstream_sink_write_errors_total", help: "Failed write requests by kind (retryable, rejected)", labelNames: ["sink", "kind"], registers })),
    batchesSplit: reuse(registry, "fleetstream_sink_batches_split_total", () => new Counter({ name: "fleetstream_sink_batches_split_total", help: "Batches split to isolate points the store rejected", labelNames: ["sink"], registers })),
    deletes: reuse(registry, "fleetstream_sink_deletes_total", () => new Counter({ name: "fleetstream_sink_deletes_total", help: "Deletes of superseded session windows by outcome (deleted, unsupported by the store)", labelNames: ["sink", "outcome"], registers })),
    dlq: reuse(registry, "fleetstream_sink_dlq_total", () => new Counter({ name: "fleetstream_sink_dlq_total", help: "Messages the sink sent to the DLQ, by reason", labelNames: ["sink", "reason"], registers })),
    eventLatency: reuse(registry, "fleetstream_sink_event_latency_seconds", () => new Histogram({ name: "fleetstream_sink_event_latency_seconds", help: "From a reading's event time to its raw point being stored", labelNames: ["sink"], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60], registers })),
  };
}
