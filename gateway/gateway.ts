/**
 * The gateway: an intake (external broker or nats-server's MQTT listener) -> normalizer -> JetStream
 * (events and DLQ records), acknowledging each MQTT message only after all it produced is stored.
 * Embeddable: `fleetstream gateway` runs it alone, `fleetstream start` beside the processors.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { systemClock, type Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import { createJsPublisher, type JsPublisher } from "../core/js_publisher.ts";
import type { Logger } from "../core/logger.ts";
import { createRetentionWatch } from "../core/retention_watch.ts";
import type { Registry } from "../core/metrics.ts";
import { subjects } from "../core/subjects.ts";
import { GatewayStateError } from "./errors.ts";
import type { Intake } from "./intake.ts";
import { brokerIntakeOptions, createBrokerIntake } from "./intake_broker.ts";
import { createNatsIntake, natsIntakeOptions, type NatsIntakeOptions } from "./intake_nats.ts";
import { createGatewayMetrics } from "./metrics.ts";
import { createNormalizer } from "./normalizer.ts";
import { createEventStore } from "./store.ts";

export interface GatewayDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
  clock?: Clock;
}

export interface GatewayOptions {
  /** How long `stop()` waits for in-flight messages before leaving them unacknowledged. */
  drainTimeout: number;
  /** Overrides of the nats intake's options (e.g. `{ useMqttMsgs: false }` in benchmarks). */
  natsIntake?: Partial<NatsIntakeOptions>;
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = { drainTimeout: 10_000 };

export interface Gateway {
  /** Connects the intake and starts receiving; resolves once subscribed / consuming. */
  start(): Promise<void>;
  /** Drains: stops receiving, finishes and acknowledges in-flight messages; nothing acknowledged is lost. */
  stop(): Promise<void>;
  ready(): boolean;
  /** Why the gateway is not ready, for `/readyz`. */
  notReady(): string | undefined;
}

/**
 * @example
 * const gw = createGateway({ nc, cfg, log, registry });
 * await gw.start();
 * process.once("SIGTERM", () => gw.stop());
 */
export function createGateway(deps: GatewayDeps, options: Partial<GatewayOptions> = {}): Gateway {
  const opts = { ...DEFAULT_GATEWAY_OPTIONS, ...options };
  const { nc, cfg, registry } = deps;
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: "gateway", intake: cfg.intake });
  const metrics = createGatewayMetrics(registry);
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  const normalizer = createNormalizer({
    gatewayId: cfg.gatewayId,
    routes: cfg.routes,
    limits: cfg.limits,
    subjects: subj,
    // base64 grows by 4/3 and the record has a JSON frame: keep the original well inside max_payload.
    maxDlqOriginal: Math.floor(maxPayload * 0.7),
  });
  let pub: JsPublisher | undefined;
  let intake: Intake | undefined;
  let unwatch: (() => void) | undefined;
  let state: "new" | "running" | "stopped" = "new";
  // Bound once: prom-client hashes a label object on every call.
  const received = metrics.received.labels(cfg.intake);
  const onReceive = () => received.inc();
  const gauge = setInterval(() => metrics.inFlight.set(intake?.inFlight ?? 0), 1000);
  gauge.unref();

  const handle = (topic: string, payload: Uint8Array, receivedAt: number): Promise<void> => {
    try {
      return store!.store(normalizer.normalize(topic, payload, receivedAt), receivedAt);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  let store: ReturnType<typeof createEventStore> | undefined;

  // nats.js reconnects forever; while it does, the gateway is alive but not ready.
  let natsConnected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") natsConnected = false;
      else if (s.type === "reconnect") natsConnected = true;
    }
  })().catch(() => {});

  function notReady(): string | undefined {
    if (state !== "running") return `gateway ${state}`;
    if (nc.isClosed()) return "nats connection closed";
    if (!natsConnected) return "nats disconnected (reconnecting)";
    return intake?.notReady();
  }

  return {
    async start() {
      if (state !== "new") throw new GatewayStateError(`gateway cannot start: it is ${state}`);
      pub = createJsPublisher(nc, { maxInFlight: cfg.gateway.maxInFlight * 2, timeoutMs: cfg.gateway.publishTimeout });
      store = createEventStore({ pub, subjects: subj, metrics, log, clock });
      if (cfg.intake === "broker") intake = createBrokerIntake({ handle, log, clock, onReceive }, brokerIntakeOptions(cfg));
      else {
        const natsOpts = { ...natsIntakeOptions(cfg), ...opts.natsIntake };
        intake = createNatsIntake({ nc, handle, log, onReceive }, natsOpts);
        // The raw capture stream is bounded (streams.rawMaxAge); $MQTT_msgs keeps what is unacked.
        unwatch = createRetentionWatch(nc, registry, log).add(natsOpts.rawStream, natsOpts.durable);
      }
      state = "running";
      await intake.start();
      log.info("gateway started", { gatewayId: cfg.gatewayId, routes: cfg.routes.map((r) => r.filter) });
    },
    async stop() {
      if (state !== "running") {
        state = "stopped";
        clearInterval(gauge);
        return;
      }
      state = "stopped";
      unwatch?.();
      await intake?.stop(opts.drainTimeout);
      await pub?.close();
      clearInterval(gauge);
      metrics.inFlight.set(0);
      log.info("gateway stopped", { inFlightLeftUnacked: intake?.inFlight ?? 0 });
    },
    ready: () => notReady() === undefined,
    notReady,
  };
}
