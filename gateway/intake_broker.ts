/**
 * The `broker` intake (CONTRACT section 2): an mqtt.js client on an external broker (MQTT 5 or 3.1.1)
 * with a persistent session, subscribed to the route filters at QoS 1 (optionally as a shared
 * subscription `$share/<group>/<filter>`).
 *
 * A message's PUBACK leaves only after its events (or DLQ records) are stored in JetStream, yet many
 * messages are in flight at once. mqtt.js reads the next packet only after `handleMessage`'s callback
 * chain finishes, and that chain is what writes the PUBACK (`client._sendPacket({cmd: "puback"}, done)`).
 * So `handleMessage` starts the work and calls back at once, while `_sendPacket` is wrapped: the PUBACK
 * of a message in flight is parked in an `OrderedAcks` queue and `done` is called immediately, so the
 * parser moves on. PUBACKs leave in arrival order as their messages are stored, those of one tick
 * as one write (`puback_batch.ts`). When
 * `maxInFlight` messages are outstanding, the callback is delayed: mqtt.js stops reading the socket
 * and TCP pushes back on the broker. Works the same on MQTT 3.1.1 and 5 (both go through
 * `handleMessage`; `customHandleAcks` would only cover 5).
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { redactUrl, type Config } from "../core/config.ts";
import type { Clock } from "../core/clock.ts";
import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { IntakeError } from "./errors.ts";
import type { Intake, MessageHandler } from "./intake.ts";
import { OrderedAcks, type AckSlot } from "./ordered_acks.ts";
import { createPubackBatch, isPlainPuback, type PubackLike } from "./puback_batch.ts";

export interface BrokerIntakeOptions {
  url: string;
  protocolVersion: 4 | 5;
  clientId: string;
  username?: string;
  password?: string;
  /** false = persistent session (the broker keeps QoS 1 messages while the gateway is away). */
  clean: boolean;
  /** MQTT 5 session expiry, ms. */
  sessionExpiry: number;
  sharedGroup?: string;
  filters: string[];
  qos: 0 | 1;
  maxInFlight: number;
  reconnectPeriod: number;
  connectTimeout: number;
}

export const DEFAULT_BROKER_INTAKE_OPTIONS: Omit<BrokerIntakeOptions, "url" | "clientId" | "filters"> = {
  protocolVersion: 5,
  clean: false,
  sessionExpiry: 86_400_000,
  qos: 1,
  maxInFlight: 2000,
  reconnectPeriod: 1000,
  connectTimeout: 10_000,
};

/** Validates the config and derives the intake's options. */
export function brokerIntakeOptions(cfg: Config): BrokerIntakeOptions {
  if (!cfg.mqtt.url) throw new ConfigError("invalid config at mqtt.url: the broker intake needs a broker URL (set MQTT_URL)", "mqtt.url");
  if (cfg.mqtt.sharedGroup !== undefined && !/^[^/+#]+$/.test(cfg.mqtt.sharedGroup)) {
    throw new ConfigError("invalid config at mqtt.sharedGroup: a share name must not contain /, + or #", "mqtt.sharedGroup");
  }
  return {
    ...DEFAULT_BROKER_INTAKE_OPTIONS,
    url: cfg.mqtt.url,
    protocolVersion: cfg.mqtt.protocolVersion,
    clientId: cfg.mqtt.clientId ?? `fleetstream-${cfg.gatewayId}`,
    username: cfg.mqtt.username,
    password: cfg.mqtt.password,
    clean: cfg.mqtt.clean,
    sessionExpiry: cfg.mqtt.sessionExpiry,
    sharedGroup: cfg.mqtt.sharedGroup,
    filters: [...new Set(cfg.routes.map((r) => r.filter))],
    // QoS 2 buys nothing here: JetStream's duplicate window already makes redelivery harmless.
    qos: cfg.mqtt.qos === 0 ? 0 : 1,
    maxInFlight: cfg.gateway.maxInFlight,
  };
}

type SendPacket = (packet: PubackLike, cb?: (err?: Error) => void, cbStorePut?: unknown, noStore?: boolean) => void;

export interface BrokerIntakeDeps {
  handle: MessageHandler;
  log: Logger;
  clock: Clock;
  /** Called when a message arrives (metrics). */
  onReceive?: () => void;
}

/** @example const intake = createBrokerIntake({ handle, log, clock }, brokerIntakeOptions(cfg)); await intake.start(); */
export function createBrokerIntake(deps: BrokerIntakeDeps, options: Partial<BrokerIntakeOptions> & Pick<BrokerIntakeOptions, "url" | "clientId" | "filters">): Intake {
  const opts: BrokerIntakeOptions = { ...DEFAULT_BROKER_INTAKE_OPTIONS, ...options };
  const { handle, log, clock } = deps;
  const waiting: Array<() => void> = [];
  const acks = new OrderedAcks(() => {
    while (waiting.length > 0 && acks.outstanding < opts.maxInFlight) waiting.shift()!();
    if (acks.outstanding === 0) for (const w of drained.splice(0)) w();
  });
  const drained: Array<() => void> = [];
  let client: MqttClient | undefined;
  let stopping = false;
  let subscribed = false;
  // The slot whose handleMessage callback is running: its PUBACK is the one `_sendPacket` sees next.
  let current: AckSlot | undefined;

  async function storeUntilDone(topic: string, payload: Uint8Array, receivedAt: number): Promise<boolean> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        await handle(topic, payload, receivedAt);
        return true;
      } catch (e) {
        if (stopping) return false;
        log.error("storing a message failed; retrying (its PUBACK is held)", { topic, error: e });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  function onMessage(packet: IPublishPacket, callback: (err?: Error) => void): void {
    if (stopping) return; // never acknowledged: the broker redelivers it to the next session
    deps.onReceive?.();
    const slot = acks.open(packet.qos > 0);
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    void storeUntilDone(packet.topic, payload, clock.now()).then((ok) => {
      if (ok) acks.complete(slot);
    });
    const proceed = () => {
      current = slot;
      try {
        callback();
      } finally {
        current = undefined;
      }
    };
    if (acks.outstanding <= opts.maxInFlight) proceed();
    else waiting.push(proceed);
  }

  function wrapSendPacket(c: MqttClient): void {
    const target = c as unknown as { _sendPacket: SendPacket };
    const original = target._sendPacket.bind(c);
    let gen = 0;
    const pubacks = createPubackBatch((bytes) => {
      if (c.connected) c.stream.write(bytes);
    });
    c.on("close", () => {
      gen++;
      pubacks.discard();
      acks.abandon();
    });
    target._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (packet.cmd !== "puback" || current === undefined) return original(packet, cb, cbStorePut, noStore);
      const myGen = gen;
      acks.attach(current, () => {
        if (myGen !== gen || !c.connected) return;
        if (isPlainPuback(packet)) pubacks.add(packet.messageId);
        else {
          pubacks.flush();
          original(packet);
        }
      });
      cb?.();
    };
  }

  return {
    get inFlight() {
      return acks.outstanding;
    },
    notReady() {
      if (!client?.connected) return "mqtt broker not connected";
      if (!subscribed) return "mqtt not subscribed";
      return undefined;
    },
    async start() {
      if (client) throw new IntakeError("broker intake already started");
      const mqttOpts: IClientOptions = {
        protocolVersion: opts.protocolVersion,
        clientId: opts.clientId,
        username: opts.username,
        password: opts.password,
        clean: opts.clean,
        reconnectPeriod: opts.reconnectPeriod,
        connectTimeout: opts.connectTimeout,
        resubscribe: true,
        // mqtt.js stops reconnecting for good once a broker refuses a CONNECT (a CONNACK with an error
        // code); a broker restarting with its users not yet loaded would end ingestion silently.
        reconnectOnConnackError: true,
        // Without this, mqtt-packet pre-allocates a 2-byte Buffer for each of the 65,536 packet ids:
        // ~7 MB of heap in 65k objects the garbage collector walks forever, to save one tiny allocation per PUBACK.
        writeCache: false,
        properties: opts.protocolVersion === 5 ? { sessionExpiryInterval: Math.round(opts.sessionExpiry / 1000), receiveMaximum: 65535 } : undefined,
      };
      const c = mqtt.connect(opts.url, mqttOpts);
      client = c;
      c.handleMessage = onMessage;
      wrapSendPacket(c);
      c.on("error", (e) => log.warn("mqtt error", { error: e }));
      c.on("offline", () => log.warn("mqtt offline", { url: opts.url }));
      c.on("reconnect", () => log.info("mqtt reconnecting", { url: opts.url }));
      c.on("connect", (p) => log.info("mqtt connected", { url: opts.url, sessionPresent: p.sessionPresent }));
      // The first CONNECT refused is a setup error (later refusals are retried, see above).
      await new Promise<void>((resolve, reject) => {
        const refused = (e: Error & { code?: number }) => {
          if (typeof e.code !== "number" || !/^Connection refused/.test(e.message)) return;
          c.off("connect", connected);
          c.off("error", refused);
          c.end(true);
          reject(connackError(e, opts.url));
        };
        const connected = () => {
          c.off("error", refused);
          resolve();
        };
        c.once("connect", connected);
        c.on("error", refused);
      });
      const topics = opts.filters.map((f) => (opts.sharedGroup ? `$share/${opts.sharedGroup}/${f}` : f));
      const granted = await c.subscribeAsync(topics, { qos: opts.qos });
      const refused = granted.filter((g) => g.qos === 128 || g.qos > 2);
      if (refused.length) throw new IntakeError(`broker refused the subscription to ${refused.map((g) => g.topic).join(", ")}`);
      subscribed = true;
      log.info("mqtt subscribed", { topics, qos: opts.qos, clientId: opts.clientId });
    },
    async stop(timeoutMs = 10_000) {
      if (!client) return;
      stopping = true;
      if (acks.outstanding > 0) {
        await Promise.race([new Promise<void>((r) => drained.push(r)), new Promise((r) => setTimeout(r, timeoutMs))]);
      }
      const c = client;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => c.end(true, () => resolve()), 2000);
        c.end(false, () => {
          clearTimeout(t);
          resolve();
        });
      });
      subscribed = false;
    },
  };
}

/** CONNACK codes that refuse the credentials: MQTT 3.1.1 (4, 5) and 5.0 (0x86, 0x87, 0x8C). */
const AUTH_REFUSED = new Set([4, 5, 0x86, 0x87, 0x8c]);

/** The error for a broker that refused fleetstream's first CONNECT, with the fix. */
function connackError(e: Error & { code?: number }, url: string): Error {
  const where = `MQTT broker at ${redactUrl(url)} refused the connection (${e.message.replace(/^Connection refused: /, "")}, code ${e.code})`;
  if (AUTH_REFUSED.has(e.code!)) return new ConfigError(`${where}: check MQTT_USERNAME and MQTT_PASSWORD (mqtt.username, mqtt.password)`, "mqtt.username", { cause: e });
  return new IntakeError(`${where}: check mqtt.protocolVersion and mqtt.clientId against what the broker accepts`, { cause: e });
}
