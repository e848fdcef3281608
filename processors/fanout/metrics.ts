/** The fan-out's Prometheus metrics (`fleetstream_fanout_*`), registered once per registry. */
import { Counter, Histogram, type Registry } from "../../core/metrics.ts";

export interface FanoutMetrics {
  /** outcome: delivered, retried, failed (sent to the DLQ), unmatched. */
  deliveries: Counter<"rule" | "outcome">;
  deliverySeconds: Histogram<"rule">;
  dlq: Counter<"rule" | "reason">;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createFanoutMetrics(registry: Registry): FanoutMetrics {
  const registers = [registry];
  return {
    deliveries: reuse(registry, "fleetstream_fanout_deliveries_total", () => new Counter({ name: "fleetstream_fanout_deliveries_total", help: "Delivery attempts by rule and outcome (delivered, retried, failed, unmatched)", labelNames: ["rule", "outcome"], registers })),
    deliverySeconds: reuse(registry, "fleetstream_fanout_delivery_duration_seconds", () => new Histogram({ name: "fleetstream_fanout_delivery_duration_seconds", help: "Latency of one successful delivery attempt", labelNames: ["rule"], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers })),
    dlq: reuse(registry, "fleetstream_fanout_dlq_total", () => new Counter({ name: "fleetstream_fanout_dlq_total", help: "Events the fan-out sent to the DLQ, by reason", labelNames: ["rule", "reason"], registers })),
  };
}
