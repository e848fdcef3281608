/**
 * The `nats` intake (CONTRACT section 2): devices talk MQTT 3.1.1 to nats-server's own listener, the
 * raw stream (`<prefix>MQTT_RAW`, subjects from the route filters) captures their messages, and a
 * durable pull consumer feeds them to the normalizer. Each raw message is acked only after everything
 * it produced is stored; up to `maxInFlight` are processed at once (also the consumer's
 * `max_ack_pending`, so the server holds back the rest). An unacked message is redelivered after
 * `ackWait` and deduplicated by its events' `Nats-Msg-Id`.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { streamNames, type Config } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import { subjectToMqttTopic } from "../core/topics.ts";
import { IntakeError } from "./errors.ts";
import type { Intake, MessageHandler } from "./intake.ts";

export interface NatsIntakeOptions {
  /** The raw capture stream. */
  stream: string;
  /** Durable consumer name, shared by every gateway on the same stream (they split the load). */
  durable: string;
  maxInFlight: number;
  /** Redelivery delay of an unacked raw message, ms (keep it below the duplicate window). */
  ackWait: number;
  /** Messages per pull request. */
  batch: number;
}

export const DEFAULT_NATS_INTAKE_OPTIONS: Omit<NatsIntakeOptions, "stream"> = {
  durable: "fleetstream-gateway",
  maxInFlight: 2000,
  ackWait: 30_000,
  batch: 500,
};

/** Derives the intake's options from the config. */
export function natsIntakeOptions(cfg: Config): NatsIntakeOptions {
  return {
    ...DEFAULT_NATS_INTAKE_OPTIONS,
    stream: streamNames(cfg).raw,
    maxInFlight: cfg.gateway.maxInFlight,
    ackWait: Math.min(30_000, Math.max(1000, Math.floor(cfg.streams.duplicateWindow / 2))),
    batch: Math.max(1, Math.min(500, cfg.gateway.maxInFlight)),
  };
}

export interface NatsIntakeDeps {
  nc: NatsConnection;
  handle: MessageHandler;
  log: Logger;
  onReceive?: () => void;
}

/** @example const intake = createNatsIntake({ nc, handle, log }, natsIntakeOptions(cfg)); await intake.start(); */
export function createNatsIntake(deps: NatsIntakeDeps, options: Partial<NatsIntakeOptions> & Pick<NatsIntakeOptions, "stream">): Intake {
  const opts: NatsIntakeOptions = { ...DEFAULT_NATS_INTAKE_OPTIONS, ...options };
  const { nc, handle, log } = deps;
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;
  let inFlight = 0;
  let stopping = false;
  let running = false;
  const slotWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];

  function done(): void {
    inFlight--;
    slotWaiters.shift()?.();
    if (inFlight === 0) for (const w of idleWaiters.splice(0)) w();
  }

  async function process(m: JsMsg): Promise<void> {
    const topic = subjectToMqttTopic(m.subject);
    const receivedAt = Number(m.timestampNanos / 1_000_000n);
    try {
      await handle(topic, m.data, receivedAt);
      m.ack();
    } catch (e) {
      // Not stored: leave it to be redelivered (nak with a delay so a stuck store does not spin).
      if (!stopping) log.error("storing a raw message failed; it will be redelivered", { topic, error: e });
      try {
        m.nak(1000);
      } catch {
        // connection gone: ack_wait redelivers it
      }
    } finally {
      done();
    }
  }

  return {
    get inFlight() {
      return inFlight;
    },
    notReady() {
      if (nc.isClosed()) return "nats connection closed";
      if (!running) return "raw stream consumer not running";
      return undefined;
    },
    async start() {
      if (loop) throw new IntakeError("nats intake already started");
      const jsm = await jetstreamManager(nc);
      const config = {
        durable_name: opts.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(opts.ackWait),
        max_ack_pending: opts.maxInFlight,
        max_deliver: -1,
      };
      try {
        await jsm.consumers.add(opts.stream, config);
      } catch (e) {
        if (!/consumer already exists|consumer name already in use/i.test((e as Error).message)) {
          throw new IntakeError(`cannot create consumer ${opts.durable} on ${opts.stream}: ${(e as Error).message}`, { cause: e });
        }
        await jsm.consumers.update(opts.stream, opts.durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
      }
      const consumer = await jetstream(nc).consumers.get(opts.stream, opts.durable);
      messages = await consumer.consume({ max_messages: opts.batch });
      running = true;
      const it = messages;
      loop = (async () => {
        for await (const m of it) {
          if (stopping) break; // left unacked: redelivered to whoever consumes next
          deps.onReceive?.();
          inFlight++;
          void process(m);
          if (inFlight >= opts.maxInFlight) await new Promise<void>((r) => slotWaiters.push(r));
        }
      })().finally(() => {
        running = false;
      });
      log.info("consuming raw MQTT stream", { stream: opts.stream, durable: opts.durable });
    },
    async stop(timeoutMs = 10_000) {
      if (!messages) return;
      stopping = true;
      messages.stop();
      for (const w of slotWaiters.splice(0)) w();
      if (inFlight > 0) await Promise.race([new Promise<void>((r) => idleWaiters.push(r)), new Promise((r) => setTimeout(r, timeoutMs))]);
      await loop?.catch(() => {});
    },
  };
}
