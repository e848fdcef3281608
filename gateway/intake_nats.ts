/**
 * The `nats` intake (CONTRACT section 2): devices talk MQTT 3.1.1 to nats-server's own listener and
 * the gateway reads their messages from JetStream, acking each only after everything it produced is
 * stored; up to `maxInFlight` are processed at once (also each consumer's `max_ack_pending`).
 *
 * Where from, and why two streams: nats-server sends a QoS 1 PUBACK after storing the message in its
 * own `$MQTT_msgs` stream (`$MQTT.msgs.<subject>`), while the capture of the plain subject into our raw
 * stream (`<prefix>MQTT_RAW`) happens asynchronously. Measured: stopping nats-server mid-run lost
 * PUBACKed messages from the raw stream (7 of 6,000), never from `$MQTT_msgs`. So:
 * - QoS 1/2 messages are read from `$MQTT_msgs` with a durable consumer (interest retention keeps
 *   them until we ack). That stream only exists after the first MQTT connection, so the consumer is
 *   created as soon as it appears.
 * - The raw stream still carries QoS 0 messages (header `Nmqtt-Pub: 0`), plain NATS publishes, and
 *   QoS 1/2 messages from before the `$MQTT_msgs` consumer existed; everything else is acked unread.
 * Messages that arrive both ways produce identical event ids, so JetStream's duplicate window keeps one.
 * An unacked message is redelivered after `ackWait`.
 */
import { readHeaders } from "../core/fast_headers.ts";
import { AckPolicy, DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { streamNames, type Config } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import { mqttFilterToSubject, subjectToMqttTopic } from "../core/topics.ts";
import { IntakeError } from "./errors.ts";
import type { Intake, MessageHandler } from "./intake.ts";
import { jsAdmin } from "../core/streams.ts";

/** nats-server's stream of QoS 1/2 MQTT messages, and the prefix of its subjects. */
export const MQTT_MSGS_STREAM = "$MQTT_msgs";
export const MQTT_MSGS_PREFIX = "$MQTT.msgs.";
/** Header nats-server puts on messages from MQTT publishers; its first character is the QoS. */
const MQTT_PUB_HEADER = "Nmqtt-Pub";

export interface NatsIntakeOptions {
  /** The raw capture stream. */
  rawStream: string;
  /** NATS subjects of the route filters (`devices.*.telemetry`). */
  subjects: string[];
  /** Also read QoS 1/2 messages from `$MQTT_msgs` (see the module comment). false = raw stream only. */
  useMqttMsgs: boolean;
  /** Durable consumer name, shared by every gateway reading the same streams (they split the load). */
  durable: string;
  maxInFlight: number;
  /** Redelivery delay of an unacked message, ms (keep it below the duplicate window). */
  ackWait: number;
  /** Messages per pull request. */
  batch: number;
  /** How often to look for `$MQTT_msgs` until it exists, ms. */
  pollInterval: number;
}

export const DEFAULT_NATS_INTAKE_OPTIONS: Omit<NatsIntakeOptions, "rawStream" | "subjects"> = {
  useMqttMsgs: true,
  durable: "fleetstream-gateway",
  maxInFlight: 2000,
  ackWait: 30_000,
  batch: 500,
  pollInterval: 1000,
};

/** Derives the intake's options from the config. */
export function natsIntakeOptions(cfg: Config): NatsIntakeOptions {
  return {
    ...DEFAULT_NATS_INTAKE_OPTIONS,
    rawStream: streamNames(cfg).raw,
    // $MQTT_msgs is server-wide: the prefix keeps tenants' (and tests') consumers apart.
    durable: `${cfg.streams.prefix}fleetstream-gateway`,
    subjects: [...new Set(cfg.routes.map((r) => mqttFilterToSubject(r.filter)))],
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

function filterOf(subjects: string[]): { filter_subject?: string; filter_subjects?: string[] } {
  if (subjects.length === 0) return {};
  return subjects.length === 1 ? { filter_subject: subjects[0] } : { filter_subjects: subjects };
}

/** @example const intake = createNatsIntake({ nc, handle, log }, natsIntakeOptions(cfg)); await intake.start(); */
export function createNatsIntake(
  deps: NatsIntakeDeps,
  options: Partial<NatsIntakeOptions> & Pick<NatsIntakeOptions, "rawStream" | "subjects">,
): Intake {
  const opts: NatsIntakeOptions = { ...DEFAULT_NATS_INTAKE_OPTIONS, ...options };
  const { nc, handle, log } = deps;
  const iterators: ConsumerMessages[] = [];
  const loops: Promise<void>[] = [];
  let inFlight = 0;
  let stopping = false;
  let rawRunning = false;
  let poller: ReturnType<typeof setTimeout> | undefined;
  /** When the `$MQTT_msgs` consumer was created (server time, ms); QoS 1/2 from then on come from it. */
  let mqttMsgsSince = Infinity;
  const slotWaiters: Array<() => void> = [];
  const idleWaiters: Array<() => void> = [];

  function done(): void {
    inFlight--;
    slotWaiters.shift()?.();
    if (inFlight === 0) for (const w of idleWaiters.splice(0)) w();
  }

  async function process(m: JsMsg, prefix: string): Promise<void> {
    const topic = subjectToMqttTopic(prefix ? m.subject.slice(prefix.length) : m.subject);
    const receivedAt = Number(m.timestampNanos / 1_000_000n);
    try {
      await handle(topic, m.data, receivedAt);
      m.ack();
    } catch (e) {
      // Not stored: leave it to be redelivered (nak with a delay so a stuck store does not spin).
      if (!stopping) log.error("storing a message failed; it will be redelivered", { topic, error: e });
      try {
        m.nak(1000);
      } catch {
        // connection gone: ack_wait redelivers it
      }
    } finally {
      done();
    }
  }

  /** Raw-stream messages that `$MQTT_msgs` already delivers are acked unread. */
  function rawNeeded(m: JsMsg): boolean {
    const qos = readHeaders(m)?.[MQTT_PUB_HEADER]?.charAt(0);
    if (!qos || qos === "0") return true;
    // A second of margin: a message near the consumer's creation may be read both ways (deduplicated).
    return Number(m.timestampNanos / 1_000_000n) < mqttMsgsSince + 1000;
  }

  async function ensureConsumer(jsm: JetStreamManager, stream: string, subjects: string[]): Promise<number> {
    const config = {
      durable_name: opts.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(opts.ackWait),
      max_ack_pending: opts.maxInFlight,
      max_deliver: -1,
      ...filterOf(subjects),
    };
    try {
      const ci = await jsm.consumers.info(stream, opts.durable);
      await jsm.consumers.update(stream, opts.durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending, ...filterOf(subjects) });
      return Date.parse(ci.created);
    } catch (e) {
      if (!/consumer not found/i.test((e as Error).message)) throw e;
    }
    const ci = await jsm.consumers.add(stream, config);
    return Date.parse(ci.created);
  }

  async function consume(stream: string, prefix: string, wanted: (m: JsMsg) => boolean): Promise<void> {
    const consumer = await jetstream(nc).consumers.get(stream, opts.durable);
    const it = await consumer.consume({ max_messages: opts.batch });
    iterators.push(it);
    loops.push(
      (async () => {
        for await (const m of it) {
          if (stopping) break; // left unacked: redelivered to whoever consumes next
          if (!wanted(m)) {
            m.ack();
            continue;
          }
          deps.onReceive?.();
          inFlight++;
          void process(m, prefix);
          if (inFlight >= opts.maxInFlight) await new Promise<void>((r) => slotWaiters.push(r));
        }
      })(),
    );
  }

  async function startMqttMsgs(jsm: JetStreamManager): Promise<boolean> {
    try {
      await jsm.streams.info(MQTT_MSGS_STREAM);
    } catch (e) {
      if (/stream not found/i.test((e as Error).message)) return false;
      throw e;
    }
    mqttMsgsSince = await ensureConsumer(jsm, MQTT_MSGS_STREAM, opts.subjects.map((s) => MQTT_MSGS_PREFIX + s));
    await consume(MQTT_MSGS_STREAM, MQTT_MSGS_PREFIX, () => true);
    log.info("consuming QoS 1/2 MQTT messages", { stream: MQTT_MSGS_STREAM, since: new Date(mqttMsgsSince).toISOString() });
    return true;
  }

  return {
    get inFlight() {
      return inFlight;
    },
    notReady() {
      if (nc.isClosed()) return "nats connection closed";
      if (!rawRunning) return "raw stream consumer not running";
      return undefined;
    },
    async start() {
      if (rawRunning) throw new IntakeError("nats intake already started");
      const jsm = await jsAdmin(nc);
      try {
        if (opts.useMqttMsgs && !(await startMqttMsgs(jsm))) {
          // nats-server creates $MQTT_msgs on the first MQTT connection; until then the raw stream has it all.
          const poll = async () => {
            if (stopping) return;
            try {
              if (await startMqttMsgs(jsm)) return;
            } catch (e) {
              log.warn("cannot consume $MQTT_msgs yet", { error: e });
            }
            poller = setTimeout(poll, opts.pollInterval);
          };
          poller = setTimeout(poll, opts.pollInterval);
        }
        await ensureConsumer(jsm, opts.rawStream, []);
        await consume(opts.rawStream, "", opts.useMqttMsgs ? rawNeeded : () => true);
      } catch (e) {
        throw new IntakeError(`cannot consume ${opts.rawStream}: ${(e as Error).message}`, { cause: e });
      }
      rawRunning = true;
      log.info("consuming raw MQTT stream", { stream: opts.rawStream, durable: opts.durable });
    },
    async stop(timeoutMs = 10_000) {
      stopping = true;
      clearTimeout(poller);
      for (const it of iterators) it.stop();
      for (const w of slotWaiters.splice(0)) w();
      if (inFlight > 0) await Promise.race([new Promise<void>((r) => idleWaiters.push(r)), new Promise((r) => setTimeout(r, timeoutMs))]);
      await Promise.all(loops.map((l) => l.catch(() => {})));
      rawRunning = false;
    },
  };
}
