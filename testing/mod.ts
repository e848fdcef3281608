/** Test helpers that start real services on free ports and clean them up. */
export * from "./process.ts";
export * from "./binaries.ts";
export * from "./nats_server.ts";
export * from "./nats_cluster.ts";
export * from "./mosquitto.ts";
export * from "./influx_stores.ts";
export * from "./prometheus.ts";
export * from "./metric_names.ts";
