/** gateway: the public surface (MQTT in -> validate/decode -> CloudEvents -> JetStream + DLQ). */
export { createGateway, DEFAULT_GATEWAY_OPTIONS, type Gateway, type GatewayDeps, type GatewayOptions } from "./gateway.ts";
export { runGateway } from "./main.ts";
export { createNormalizer, DEFAULT_NORMALIZER_OPTIONS, type Normalized, type Normalizer, type NormalizerOptions, type OutEvent } from "./normalizer.ts";
export { createRouter, deviceIdOf, type ResolvedRoute, type Router } from "./routes.ts";
export { createEventStore, type EventStore, type EventStoreDeps } from "./store.ts";
export { createBrokerIntake, brokerIntakeOptions, DEFAULT_BROKER_INTAKE_OPTIONS, type BrokerIntakeOptions } from "./intake_broker.ts";
export { createNatsIntake, natsIntakeOptions, DEFAULT_NATS_INTAKE_OPTIONS, MQTT_MSGS_STREAM, type NatsIntakeOptions } from "./intake_nats.ts";
export type { Intake, MessageHandler } from "./intake.ts";
export { OrderedAcks, type AckSlot } from "./ordered_acks.ts";
export { createGatewayMetrics, type GatewayMetrics } from "./metrics.ts";
export * from "./decoders/mod.ts";
export { IntakeError, GatewayStateError } from "./errors.ts";
