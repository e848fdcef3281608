/**
 * Runs a simulated device fleet against an MQTT broker: sends the seed's plan (see plan.ts) in real
 * time, bounds the publishes awaiting their PUBACK, reports progress every second and returns a summary.
 */
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import { systemClock, type Clock } from "../core/clock.ts";
import { redactUrl } from "../core/config.ts";
import { SimulatorConnectError } from "./errors.ts";
import type { SimulatorOptions } from "./options.ts";
import { generateMessages, type PlannedMessage } from "./plan.ts";

/** What a run did. `sent` counts MQTT messages handed to the client; `acked` those the broker confirmed. */
export interface SimulatorSummary {
  seed: number;
  /** Event time of the first reading (pass it back as `startTs` to reproduce the run). */
  startTs: number;
  sent: number;
  acked: number;
  errors: number;
  /** Valid events carried (a batch carries several). */
  events: number;
  batches: number;
  duplicates: number;
  malformed: number;
  delayed: number;
  buffered: number;
  elapsedMs: number;
  /** Messages acknowledged per second of the run. */
  rate: number;
  /** True when `stop()` ended the run before its bounds. */
  stopped: boolean;
}

export interface Simulator {
  /** Connects, sends until `duration`, `count` or `stop()`, waits for the outstanding PUBACKs, disconnects. */
  run(): Promise<SimulatorSummary>;
  /** Ends the run early; `run()` then resolves with what was done. */
  stop(): void;
  /** The counts so far (a copy); all zero before `run()`. */
  stats(): SimulatorSummary;
}

/** Dependencies a test may replace: the clock that picks `startTs` and the MQTT connect function. */
export interface SimulatorDeps {
  clock?: Clock;
  connect?: (url: string, opts: IClientOptions) => Promise<MqttClient>;
}

/**
 * Creates a simulator. Options come complete from `fromConfig`.
 * @example
 * const sim = createSimulator(fromConfig({ url, sensors: 5, rate: 10, duration: 30_000, seed: 7 }));
 * const summary = await sim.run();
 */
export function createSimulator(opts: SimulatorOptions, deps: SimulatorDeps = {}): Simulator {
  const clock = deps.clock ?? systemClock;
  const connect = deps.connect ?? connectAsync;
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  let stopped = false;
  let wake: (() => void) | undefined;
  let onAck: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });

  const empty = (startTs: number): SimulatorSummary => ({ seed: opts.seed, startTs, sent: 0, acked: 0, errors: 0, events: 0, batches: 0, duplicates: 0, malformed: 0, delayed: 0, buffered: 0, elapsedMs: 0, rate: 0, stopped: false });
  let current = empty(opts.startTs ?? 0);
  let startedAt: number | undefined;

  async function run(): Promise<SimulatorSummary> {
    const startTs = opts.startTs ?? clock.now();
    const s = (current = empty(startTs));
    let client: MqttClient;
    try {
      client = await connect(opts.url, {
        protocolVersion: opts.protocolVersion,
        clientId: opts.clientId ?? `fleetstream-sim-${opts.seed}-${process.pid}-${Math.floor(Math.random() * 1e6)}`,
        username: opts.username,
        password: opts.password,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        writeCache: false, // see gateway/intake_broker.ts
      });
    } catch (e) {
      throw new SimulatorConnectError(`cannot connect to the MQTT broker at ${redactUrl(opts.url)}: ${(e as Error).message}: start a broker there, or give its URL with --url (or MQTT_URL)`, { cause: e });
    }
    let lastError: string | undefined;
    client.on("error", (e) => void (lastError = e.message));

    let inFlight = 0;
    const t0 = performance.now();
    startedAt = t0;
    let lastTick = { t: t0, acked: 0 };
    const progress = () => {
      const now = performance.now();
      const rate = ((s.acked - lastTick.acked) * 1000) / Math.max(1, now - lastTick.t);
      lastTick = { t: now, acked: s.acked };
      write(`simulate: sent=${s.sent} acked=${s.acked} errors=${s.errors} inflight=${inFlight} rate=${rate.toFixed(0)}/s${lastError ? ` last_error="${lastError}"` : ""}`);
    };
    const timer = opts.progressInterval > 0 ? setInterval(progress, opts.progressInterval) : undefined;

    const count = (m: PlannedMessage) => {
      s.sent++;
      s.events += m.events.length;
      if (m.kind === "batch") s.batches++;
      if (m.kind === "duplicate") s.duplicates++;
      if (m.kind === "malformed") s.malformed++;
      if (m.delayed && m.kind !== "duplicate") s.delayed++;
      if (m.buffered && m.kind !== "duplicate") s.buffered++;
    };

    try {
      let sinceYield = 0;
      for (const m of generateMessages({ ...opts, startTs })) {
        if (stopped) break;
        const due = t0 + m.at - performance.now();
        if (due > 2) {
          await sleep(due);
          sinceYield = 0;
        } else if (++sinceYield >= 500) {
          // Let PUBACKs and timers in when running behind schedule.
          await new Promise((r) => setImmediate(r));
          sinceYield = 0;
        }
        while (inFlight >= opts.maxInFlight && !stopped) await new Promise<void>((r) => (onAck = r));
        if (stopped) break;
        inFlight++;
        count(m);
        client.publish(m.topic, m.payload, { qos: opts.qos }, (err) => {
          inFlight--;
          if (err) {
            s.errors++;
            lastError = err.message;
          } else s.acked++;
          const f = onAck;
          onAck = undefined;
          f?.();
        });
      }
      // Outstanding PUBACKs: wait for them unless asked to stop.
      while (inFlight > 0 && !stopped) await new Promise<void>((r) => (onAck = r));
    } finally {
      if (timer) clearInterval(timer);
      s.stopped = stopped;
      s.elapsedMs = Math.round(performance.now() - t0);
      s.rate = Math.round((s.acked * 1000) / Math.max(1, s.elapsedMs));
      await client.endAsync(stopped).catch(() => undefined);
      if (opts.progressInterval > 0) progress();
    }
    write(
      `simulate: done seed=${s.seed} startTs=${s.startTs} sent=${s.sent} acked=${s.acked} errors=${s.errors} events=${s.events} batches=${s.batches} duplicates=${s.duplicates} malformed=${s.malformed} delayed=${s.delayed} buffered=${s.buffered} elapsed=${(s.elapsedMs / 1000).toFixed(1)}s rate=${s.rate}/s${s.stopped ? " (stopped)" : ""}`,
    );
    startedAt = undefined;
    return { ...s };
  }

  return {
    run,
    stats() {
      const out = { ...current };
      if (startedAt !== undefined) {
        out.elapsedMs = Math.round(performance.now() - startedAt);
        out.rate = Math.round((out.acked * 1000) / Math.max(1, out.elapsedMs));
      }
      return out;
    },
    stop() {
      stopped = true;
      wake?.();
      const f = onAck;
      onAck = undefined;
      f?.();
    },
  };
}
