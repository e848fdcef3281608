/**
 * Tells when a stream's limits discard messages a consumer has not read yet.
 *
 * fleetstream's streams are bounded (`streams.maxBytes`, `streams.maxAge`) and discard their oldest
 * messages, whether or not every consumer has read them. A consumer that stalls long enough (the
 * InfluxDB sink during an outage, a fan-out rule whose target is down) loses what the stream
 * discards before it gets there, and JetStream says nothing: the consumer just skips ahead. At 5k
 * readings/s the default 1 GiB holds about 36 minutes of TELEMETRY (~500 bytes a reading, stored).
 *
 * Every `intervalMs` the watch reads each watched consumer and its stream, and keeps:
 * - `fleetstream_consumer_backlog_ratio{stream,consumer}`: what the consumer has not read, as a
 *   share of what the stream retains, by stream position (its filter aside). Near 1, its next
 *   message is among the oldest retained: the limits are about to discard unread messages.
 * - `fleetstream_consumer_retention_overruns_total{stream,consumer}`: episodes in which the stream's
 *   oldest retained message lay beyond the consumer's position while it still had messages to read,
 *   at two checks in a row (one check alone could be a sparse consumer about to catch up). Each
 *   episode logs one warning with the range that is gone and what to change.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./logger.ts";
import { Counter, Gauge, type Registry } from "./metrics.ts";

export interface RetentionWatchOptions {
  /** How often each consumer is checked, ms. */
  intervalMs: number;
}

export const DEFAULT_RETENTION_WATCH_OPTIONS: RetentionWatchOptions = { intervalMs: 15_000 };

export interface RetentionWatch {
  /** Watches a durable consumer until the returned function is called. */
  add(stream: string, durable: string): () => void;
  /** Checks every watched consumer now (the timer calls it; tests too). */
  check(): Promise<void>;
}

interface Watched {
  stream: string;
  durable: string;
  /** The previous check found the stream's head past the consumer's position. */
  behind: boolean;
  /** An episode was reported (and counted) and has not ended. */
  reported: boolean;
  /** Where a consumer that had delivered nothing when first seen starts. */
  start?: number;
}

interface WatchMetrics {
  backlog: Gauge<"stream" | "consumer">;
  overruns: Counter<"stream" | "consumer">;
}

/** One set of metrics per registry, however many components watch. */
const metricsByRegistry = new WeakMap<Registry, WatchMetrics>();

function watchMetrics(registry: Registry): WatchMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    const registers = [registry];
    m = {
      backlog: new Gauge({
        name: "fleetstream_consumer_backlog_ratio",
        help: "Share of the stream's retained messages the consumer has not read yet (by stream position); near 1 the stream's limits discard unread messages",
        labelNames: ["stream", "consumer"],
        registers,
      }),
      overruns: new Counter({
        name: "fleetstream_consumer_retention_overruns_total",
        help: "Times the stream discarded messages (size or age limit) before this consumer read them",
        labelNames: ["stream", "consumer"],
        registers,
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/**
 * @example
 * const watch = createRetentionWatch(nc, registry, log);
 * const unwatch = watch.add("TELEMETRY", "fleetstream_sink_raw");
 */
export function createRetentionWatch(nc: NatsConnection, registry: Registry, log: Logger, options: Partial<RetentionWatchOptions> = {}): RetentionWatch {
  const o = { ...DEFAULT_RETENTION_WATCH_OPTIONS, ...options };
  const m = watchMetrics(registry);
  const watched = new Set<Watched>();
  let jsm: JetStreamManager | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function checkOne(w: Watched, streams: Map<string, Promise<{ first: number; last: number } | undefined>>): Promise<void> {
    jsm ??= await jetstreamManager(nc);
    const jm = jsm;
    let stream = streams.get(w.stream);
    if (!stream) {
      stream = jm.streams.info(w.stream).then((i) => ({ first: i.state.first_seq, last: i.state.last_seq }), () => undefined);
      streams.set(w.stream, stream);
    }
    const [s, ci] = await Promise.all([stream, jm.consumers.info(w.stream, w.durable).catch(() => undefined)]);
    if (!s || !ci || !watched.has(w)) return;
    // A consumer that has delivered nothing yet starts at the oldest message retained when first seen.
    const position = ci.delivered.stream_seq || (w.start ??= s.first - 1);
    const unread = ci.num_pending > 0 ? Math.max(0, s.last - position) : 0;
    const retained = Math.max(1, s.last - s.first + 1);
    m.backlog.labels(w.stream, w.durable).set(Math.min(1, unread / retained));
    const behind = ci.num_pending > 0 && position + 1 < s.first;
    if (behind && w.behind && !w.reported) {
      w.reported = true;
      m.overruns.labels(w.stream, w.durable).inc();
      log.warn("stream discarded messages this consumer had not read: those matching its filter are lost to it", {
        stream: w.stream,
        consumer: w.durable,
        discardedSeqs: `${position + 1}-${s.first - 1}`,
        fix: "raise streams.maxBytes / streams.maxAge (the stream's limits) or bring back what holds the consumer back (its store, its target)",
      });
    }
    if (!behind) w.reported = false;
    w.behind = behind;
  }

  async function check(): Promise<void> {
    // One round at a time; a call during a round waits for it.
    while (running) await running;
    const streams = new Map<string, Promise<{ first: number; last: number } | undefined>>();
    running = Promise.all(
      [...watched].map((w) =>
        checkOne(w, streams).catch((e) => log.debug("retention check failed", { stream: w.stream, consumer: w.durable, err: e })),
      ),
    ).then(() => {});
    try {
      await running;
    } finally {
      running = undefined;
    }
  }

  return {
    add(stream, durable) {
      const w: Watched = { stream, durable, behind: false, reported: false };
      watched.add(w);
      // The series exists from the start at 0, so that Prometheus' increase() sees the first overrun.
      m.overruns.labels(stream, durable).inc(0);
      if (!timer) {
        timer = setInterval(() => void check(), o.intervalMs);
        timer.unref();
        // A first look soon after start (the consumer may not exist yet at `add`).
        setTimeout(() => void check(), Math.min(o.intervalMs, 1000)).unref();
      }
      return () => {
        watched.delete(w);
        m.backlog.remove(stream, durable);
        m.overruns.remove(stream, durable);
        if (watched.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    check,
  };
}
