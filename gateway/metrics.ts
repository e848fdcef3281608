/** The gateway's Prometheus metrics (`fleetstream_gateway_` prefix), registered on the process registry. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface GatewayMetrics {
  received: Counter<"intake">;
  published: Counter<"kind">;
  rejected: Counter<"reason">;
  duplicates: Counter;
  ignored: Counter<"reason">;
  /** Receive to JetStream ack, per stored event or DLQ record. */
  publishLatency: Histogram;
  inFlight: Gauge;
}

/** Creates the metrics on `registry`, or returns the ones already there (one gateway per registry). */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    received: get("fleetstream_gateway_received_total", () => new Counter({ name: "fleetstream_gateway_received_total", help: "MQTT messages received", labelNames: ["intake"], registers: [registry] })),
    published: get("fleetstream_gateway_published_total", () => new Counter({ name: "fleetstream_gateway_published_total", help: "Events stored in JetStream (not counting duplicates)", labelNames: ["kind"], registers: [registry] })),
    rejected: get("fleetstream_gateway_rejected_total", () => new Counter({ name: "fleetstream_gateway_rejected_total", help: "Rejected messages or batch elements, stored in the DLQ", labelNames: ["reason"], registers: [registry] })),
    duplicates: get("fleetstream_gateway_duplicates_total", () => new Counter({ name: "fleetstream_gateway_duplicates_total", help: "Events JetStream reported as duplicates (re-sent or redelivered input)", registers: [registry] })),
    ignored: get("fleetstream_gateway_ignored_total", () => new Counter({ name: "fleetstream_gateway_ignored_total", help: "Elements acknowledged but not stored (e.g. OwnTracks non-location)", labelNames: ["reason"], registers: [registry] })),
    publishLatency: get("fleetstream_gateway_publish_latency_seconds", () => new Histogram({
      name: "fleetstream_gateway_publish_latency_seconds",
      help: "From receiving a message to JetStream storing its event",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })),
    inFlight: get("fleetstream_gateway_in_flight", () => new Gauge({ name: "fleetstream_gateway_in_flight", help: "Messages received but not yet acknowledged", registers: [registry] })),
  };
}
