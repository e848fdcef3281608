/** Sinks: InfluxDB points from RESULTS and TELEMETRY. */
export * from "./errors.ts";
export * from "./line_protocol.ts";
export * from "./points.ts";
export * from "./influx_write_api.ts";
export * from "./point_writer.ts";
export * from "./metrics.ts";
export * from "./influx_sink.ts";
