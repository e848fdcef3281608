/** Fan-out: EventBridge-style rules from RESULTS to JetStream, webhook and MQTT targets. */
export * from "./errors.ts";
export * from "./pattern.ts";
export * from "./target.ts";
export * from "./webhook_target.ts";
export * from "./jetstream_target.ts";
export * from "./mqtt_target.ts";
export * from "./rules.ts";
export * from "./delivery.ts";
export * from "./metrics.ts";
export * from "./rule_consumer.ts";
export * from "./fanout.ts";
