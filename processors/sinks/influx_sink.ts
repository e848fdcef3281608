/**
 * The InfluxDB sink (CONTRACT section 7): window aggregates and enriched locations from RESULTS and
 * raw readings from TELEMETRY, each through its own durable consumer, batched, retried, and acked
 * to JetStream only after the store accepted the batch. Points the store refuses for their content
 * go to the DLQ (stage `sink`, reason `processing_failed`, with the server's message); the rest land.
 */
import { headersToRecord } from "../../core/fast_headers.ts";
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config } from "../../core/config.ts";
import { publishDlq, toBase64, type DlqRecord } from "../../core/dlq.ts";
import { createJsPublisher, type JsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import type { Registry } from "../../core/metrics.ts";
import { subjects } from "../../core/subjects.ts";
import { DEFAULT_DURABLE_LOOP_OPTIONS, startDurableLoop, type DurableLoop } from "../ops/durable_loop.ts";
import { PointMappingError } from "./errors.ts";
import { createInfluxWriteApi, writeApiOptionsFromConfig, type InfluxWriteApi } from "./influx_write_api.ts";
import { toLine } from "./line_protocol.ts";
import { createSinkMetrics, type SinkMetrics } from "./metrics.ts";
import { createPointWriter, type PendingLine, type PointWriter } from "./point_writer.ts";
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
  msg: { subject: string; headers?: JsMsg["headers"]; data: Uint8Array };
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

/**
 * Maps messages to lines, writes them, and returns what could not be stored (mapping errors and
 * rejected points, one entry per message). A superseded session window deletes its earlier points,
 * in stream order: lines before it are written first. Shared by the live sink, `replay` and `dlq redrive`.
 */
export async function writeMessages(
  writer: PointWriter,
  msgs: ReadonlyArray<{ subject: string; headers?: JsMsg["headers"]; data: Uint8Array }>,
  raw: boolean,
  signal: AbortSignal,
): Promise<{ lines: number; failures: SinkFailure[]; stored: number[] }> {
  const errors = new Map<number, string>();
  const times: number[] = new Array(msgs.length).fill(NaN);
  let lines: PendingLine[] = [];
  let written = 0;
  const flush = async () => {
    for (const r of await writer.write(lines, signal)) if (!errors.has(r.origin)) errors.set(r.origin, r.error);
    written += lines.length;
    lines = [];
  };
  for (let i = 0; i < msgs.length; i++) {
    try {
      const ev = decodeEvent(msgs[i]!);
      times[i] = Date.parse(ev.time);
      const deletion = supersededWindow(ev);
      if (deletion) {
        await flush();
        const refused = await writer.remove(deletion, signal);
        if (refused !== undefined) errors.set(i, refused);
        continue;
      }
      for (const p of eventToPoints(ev, raw)) lines.push({ line: toLine(p), origin: i });
    } catch (e) {
      if (!(e instanceof PointMappingError)) throw e;
      errors.set(i, e.message);
    }
  }
  await flush();
  return { lines: written, failures: [...errors].map(([i, error]) => ({ msg: msgs[i]!, error })), stored: times.filter((t, i) => !errors.has(i) && Number.isFinite(t)) };
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
  const names = streamNames(cfg);
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const root = cfg.streams.subjectRoot;
  const loops: DurableLoop[] = [];
  let pub: JsPublisher | undefined;

  const handler = (name: string, raw: boolean, writer: PointWriter) => async (msgs: JsMsg[], signal: AbortSignal, ackAll: boolean) => {
    const { failures, stored } = await writeMessages(writer, msgs, raw, signal);
    for (const f of failures) {
      log.warn("point rejected, sent to the DLQ", { sink: name, subject: f.msg.subject, error: f.error });
      await publishDlq(pub!, subj, sinkDlqRecord(f));
      metrics.dlq.inc({ sink: name, reason: "processing_failed" });
    }
    if (raw) observeEventLatency(metrics, name, stored);
    // Ack-all consumers: acking the last message acks the whole batch.
    if (ackAll) msgs[msgs.length - 1]!.ack();
    else for (const m of msgs) m.ack();
  };

  return {
    async start() {
      pub = createJsPublisher(nc, { maxInFlight: 256 });
      const base = { ...DEFAULT_DURABLE_LOOP_OPTIONS, ackPolicy: "all" as const, batch: cfg.influx.batchSize, expiresMs: cfg.influx.flushInterval, ackWaitMs: o.ackWaitMs };
      const writerOpts = { backoffInitialMs: o.backoffInitialMs, backoffMaxMs: o.backoffMaxMs, maxLinesPerRequest: cfg.influx.batchSize };
      const results = createPointWriter(api, metrics, log, { ...writerOpts, name: "results" });
      // One filter for windows and locations (other result types make no points): see `filterConfig`.
      loops.push(
        await startDurableLoop(nc, { ...base, stream: names.results, durable: `${o.durablePrefix}_results`, filterSubjects: [`${root}.results.>`] }, log, handler("results", false, results)),
      );
      if (cfg.influx.raw) {
        const rawWriter = createPointWriter(api, metrics, log, { ...writerOpts, name: "raw" });
        loops.push(await startDurableLoop(nc, { ...base, stream: names.telemetry, durable: `${o.durablePrefix}_raw`, filterSubjects: [`${root}.telemetry.>`] }, log, handler("raw", true, rawWriter)));
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
