/**
 * The InfluxDB sink (CONTRACT section 7): window aggregates and enriched locations from RESULTS and
 * raw readings from TELEMETRY, each through its own durable consumer, batched, retried, and acked
 * to JetStream only after the store accepted the batch. Points the store refuses for their content
 * go to the DLQ (stage `sink`, reason `processing_failed`, with the server's message); the rest land.
 */
import { headersToRecord } from "../../core/fast_headers.ts";
import { jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config } from "../../core/config.ts";
import { publishDlq, toBase64, type DlqRecord } from "../../core/dlq.ts";
import { createJsPublisher, type JsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import type { Registry } from "../../core/metrics.ts";
import { createRetentionWatch } from "../../core/retention_watch.ts";
import { subjects } from "../../core/subjects.ts";
import { DEFAULT_DURABLE_LOOP_OPTIONS, startDurableLoop, type DurableLoop, type StreamingBatchHandler } from "../ops/durable_loop.ts";
import { seqOfReply } from "../sources/jetstream_source.ts";
import { PointMappingError } from "./errors.ts";
import { createInfluxWriteApi, writeApiOptionsFromConfig, type InfluxWriteApi, type PointDeletion } from "./influx_write_api.ts";
import { toLine } from "./line_protocol.ts";
import { createSinkMetrics, type SinkMetrics } from "./metrics.ts";
import { createPointWriter, LineBlock, type PointWriter } from "./point_writer.ts";
import { decodeEvent, eventToPoints, supersededWindow } from "./points.ts";

export interface InfluxSinkDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
}

export interface InfluxSinkOptions {
  /** Durable names are `<prefix>_results` and `<prefix>_raw`. */
  durablePrefix: string;
  backoffInitialMs: number;
  backoffMaxMs: number;
  ackWaitMs: number;
  /** A write API to use instead of the one `cfg.influx` describes. */
  writeApi?: InfluxWriteApi;
}

export const DEFAULT_INFLUX_SINK_OPTIONS: InfluxSinkOptions = { durablePrefix: "fs_influx", backoffInitialMs: 200, backoffMaxMs: 10_000, ackWaitMs: 30_000 };

export interface InfluxSink {
  start(): Promise<void>;
  /** Stops fetching; a batch still being written stays unacked and is redelivered later. */
  stop(): Promise<void>;
}

/** A message the sink could not store, for the DLQ. */
export interface SinkFailure {
  msg: SinkMessage;
  error: string;
}

/** Builds the DLQ record of a message the sink could not store. */
export function sinkDlqRecord(f: SinkFailure, target = "influx"): DlqRecord {
  const h = headersToRecord(f.msg.headers);
  return {
    stage: "sink",
    reason: "processing_failed",
    error: f.error,
    subject: f.msg.subject,
    headers: h,
    target,
    device: h?.["ce-subject"],
    receivedAt: new Date().toISOString(),
    original: toBase64(f.msg.data),
  };
}

/** A message as the sink maps it: a delivered `JsMsg`, or one read back from a stream or the DLQ. */
export type SinkMessage = { subject: string; headers?: JsMsg["headers"]; data: Uint8Array };

/**
 * One batch, mapped to lines as its messages come, in stream order. It keeps the lines (and a
 * superseded session window's deletion), not the messages: a message is wanted again only when
 * it cannot be stored, and then its index in the batch says which. Lines before a deletion are
 * written first.
 */
export class SinkBatch {
  /** Lines to write and deletions, in stream order. */
  private segments: Array<LineBlock | { deletion: PointDeletion; origin: number }>;
  private mappingErrors = new Map<number, string>();
  /** Event time of each message (NaN when it has none). */
  private times: number[] = [];
  /** The first block of lines, kept from batch to batch with its buffers. */
  private readonly lines = new LineBlock();

  constructor(private readonly raw: boolean) {
    this.segments = [this.lines];
  }

  /** Empties the batch for the next one. */
  clear(): void {
    this.lines.clear();
    this.segments = [this.lines];
    this.mappingErrors = new Map();
    this.times = [];
  }

  /** Messages added since the last `clear`: the index the next one gets. */
  get size(): number {
    return this.times.length;
  }

  /** Maps the next message; returns false when it maps to no point (it fails in `write`). */
  add(msg: SinkMessage): boolean {
    const i = this.times.length;
    this.times.push(NaN);
    try {
      const ev = decodeEvent(msg);
      const time = (this.times[i] = Date.parse(ev.time));
      const deletion = supersededWindow(ev);
      if (deletion) {
        this.segments.push({ deletion, origin: i }, new LineBlock());
        return true;
      }
      const lines = this.segments[this.segments.length - 1] as LineBlock;
      for (const p of eventToPoints(ev, this.raw, time)) lines.push(toLine(p), i);
      return true;
    } catch (e) {
      if (!(e instanceof PointMappingError)) throw e;
      this.mappingErrors.set(i, e.message);
      return false;
    }
  }

  /**
   * Writes the lines and deletions. Resolves with what could not be stored (mapping errors and
   * refused points: message index and reason) and the event times of what was.
   */
  async write(writer: PointWriter, signal: AbortSignal): Promise<{ lines: number; failed: Array<[number, string]>; stored: number[] }> {
    const errors = new Map(this.mappingErrors);
    let written = 0;
    for (const s of this.segments) {
      if (s instanceof LineBlock) {
        if (s.count === 0) continue;
        for (const r of await writer.write(s, signal)) if (!errors.has(r.origin)) errors.set(r.origin, r.error);
        written += s.count;
      } else {
        const refused = await writer.remove(s.deletion, signal);
        if (refused !== undefined) errors.set(s.origin, refused);
      }
    }
    return { lines: written, failed: [...errors], stored: this.times.filter((t, i) => !errors.has(i) && Number.isFinite(t)) };
  }
}

/**
 * Maps messages to lines, writes them, and returns what could not be stored (mapping errors and
 * rejected points, one entry per message). For `replay` and `dlq redrive`, which hold their
 * messages anyway; the live sink streams into a {@link SinkBatch}.
 */
export async function writeMessages(
  writer: PointWriter,
  msgs: ReadonlyArray<SinkMessage>,
  raw: boolean,
  signal: AbortSignal,
): Promise<{ lines: number; failures: SinkFailure[]; stored: number[] }> {
  const batch = new SinkBatch(raw);
  for (const m of msgs) batch.add(m);
  const { lines, failed, stored } = await batch.write(writer, signal);
  return { lines, failures: failed.map(([i, error]) => ({ msg: msgs[i]!, error })), stored };
}

/** Observes now minus `ce-time` for each stored message (readings: event time to point stored). */
function observeEventLatency(metrics: SinkMetrics, sink: string, eventTimes: number[]): void {
  const now = Date.now();
  const h = metrics.eventLatency.labels(sink);
  for (const t of eventTimes) h.observe(Math.max(0, now - t) / 1000);
}

/**
 * @example
 * const sink = createInfluxSink({ nc, cfg, log, registry });
 * await sink.start(); ...; await sink.stop();
 */
export function createInfluxSink(deps: InfluxSinkDeps, opts: Partial<InfluxSinkOptions> = {}): InfluxSink {
  const o = { ...DEFAULT_INFLUX_SINK_OPTIONS, ...opts };
  const { nc, cfg } = deps;
  const log = deps.log.child({ component: "influx-sink" });
  const api = o.writeApi ?? createInfluxWriteApi(writeApiOptionsFromConfig(cfg));
  const metrics: SinkMetrics = createSinkMetrics(deps.registry);
  const retention = createRetentionWatch(nc, deps.registry, log);
  const names = streamNames(cfg);
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const root = cfg.streams.subjectRoot;
  const loops: DurableLoop[] = [];
  let pub: JsPublisher | undefined;

  /**
   * The consumer of one sink: each message becomes lines as it arrives. A message the store refuses
   * is read back from its stream by sequence for its DLQ record (rare; the stream still holds it,
   * unacked); one that maps to no point is kept as it came.
   */
  const consumer = (name: string, raw: boolean, stream: string, writer: PointWriter): StreamingBatchHandler => {
    const batch = new SinkBatch(raw);
    let unmapped = new Map<number, SinkMessage>();
    return {
      take(m) {
        const i = batch.size;
        if (!batch.add(m)) unmapped.set(i, m);
      },
      async write(signal, replies) {
        const { failed, stored } = await batch.write(writer, signal);
        for (const [i, error] of failed) {
          const msg = unmapped.get(i) ?? (await storedMessage(stream, seqOfReply(replies[i])));
          log.warn("point rejected, sent to the DLQ", { sink: name, subject: msg.subject, error });
          await publishDlq(pub!, subj, sinkDlqRecord({ msg, error }));
          metrics.dlq.inc({ sink: name, reason: "processing_failed" });
        }
        if (raw) observeEventLatency(metrics, name, stored);
      },
      clear() {
        batch.clear();
        unmapped = new Map();
      },
    };
  };

  /**
   * A message read back from its stream. One already gone (limits), or with no sequence in its ack
   * subject (never, from a pull consumer), leaves a record without its original.
   */
  async function storedMessage(stream: string, seq: number | undefined): Promise<SinkMessage> {
    const m = seq === undefined ? null : await (await jetstreamManager(nc)).streams.getMessage(stream, { seq });
    return m ? { subject: m.subject, headers: m.header, data: m.data } : { subject: `${stream} sequence ${seq ?? "unknown"} (no longer in the stream)`, data: new Uint8Array() };
  }

  return {
    async start() {
      pub = createJsPublisher(nc, { maxInFlight: 256 });
      const base = { ...DEFAULT_DURABLE_LOOP_OPTIONS, ackPolicy: "all" as const, batch: cfg.influx.batchSize, expiresMs: cfg.influx.flushInterval, ackWaitMs: o.ackWaitMs };
      const writerOpts = { backoffInitialMs: o.backoffInitialMs, backoffMaxMs: o.backoffMaxMs, maxLinesPerRequest: cfg.influx.batchSize };
      const results = createPointWriter(api, metrics, log, { ...writerOpts, name: "results" });
      // One filter for windows and locations (other result types make no points): see `filterConfig`.
      loops.push(
        await startDurableLoop(nc, { ...base, stream: names.results, durable: `${o.durablePrefix}_results`, filterSubjects: [`${root}.results.>`] }, log, consumer("results", false, names.results, results), retention),
      );
      if (cfg.influx.raw) {
        const rawWriter = createPointWriter(api, metrics, log, { ...writerOpts, name: "raw" });
        loops.push(await startDurableLoop(nc, { ...base, stream: names.telemetry, durable: `${o.durablePrefix}_raw`, filterSubjects: [`${root}.telemetry.>`] }, log, consumer("raw", true, names.telemetry, rawWriter), retention));
      }
      log.info("influx sink started", { api: api.kind, raw: cfg.influx.raw });
    },
    async stop() {
      await Promise.all(loops.splice(0).map((l) => l.stop()));
      await pub?.close();
      pub = undefined;
    },
  };
}
