/** core: the public surface shared by gateway and processors. */
export * from "./config.ts";
export * from "./errors.ts";
export * from "./clock.ts";
export * from "./logger.ts";
export * from "./metrics.ts";
export * from "./subjects.ts";
export * from "./topics.ts";
export * from "./envelope.ts";
export * from "./nats.ts";
export * from "./js_publisher.ts";
export * from "./streams.ts";
export * from "./dlq.ts";
export * from "./results.ts";
export * from "./fast_headers.ts";
export * from "./shutdown.ts";
