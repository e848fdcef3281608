/**
 * `replay`: re-drives a stored time range of TELEMETRY or RESULTS into the InfluxDB sink or into one
 * fan-out rule, through an ordered consumer starting at the range's start time (stream time, i.e.
 * when JetStream stored each message). Writes are the sink's (same points, same overwrite
 * semantics, failures to the DLQ), deliveries are the rule's (its pattern, target and retries).
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config } from "../../core/config.ts";
import { publishDlq } from "../../core/dlq.ts";
import { ConfigError } from "../../core/errors.ts";
import { createJsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import type { Registry } from "../../core/metrics.ts";
import { subjects } from "../../core/subjects.ts";
import { deliverWithRetry } from "../fanout/delivery.ts";
import { fanoutDlqRecord, toDelivery } from "../fanout/rule_consumer.ts";
import { compileRules } from "../fanout/rules.ts";
import { sinkDlqRecord, writeMessages } from "../sinks/influx_sink.ts";
import { createInfluxWriteApi, writeApiOptionsFromConfig, type InfluxWriteApi } from "../sinks/influx_write_api.ts";
import { createSinkMetrics } from "../sinks/metrics.ts";
import { createPointWriter } from "../sinks/point_writer.ts";
import { readRange } from "./range_reader.ts";

export interface ReplayDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
}

export type ReplayInto = { kind: "influx" } | { kind: "rule"; name: string };

export interface ReplayProgress {
  /** Messages read so far. */
  read: number;
  /** Points written (influx) or events delivered (rule). */
  delivered: number;
  /** Messages sent to the DLQ. */
  failed: number;
  /** Stream time of the last message read. */
  at?: Date;
}

export interface ReplayOptions {
  stream: "TELEMETRY" | "RESULTS";
  into: ReplayInto;
  /** Stream time range, epoch ms; `to` exclusive and optional (= up to now). */
  from: number;
  to?: number;
  batch: number;
  onProgress?: (p: ReplayProgress) => void;
  /** A write API instead of the one `cfg.influx` describes. */
  writeApi?: InfluxWriteApi;
  signal?: AbortSignal;
}

/** Parses `--into influx` / `--into rule:NAME`. */
export function parseInto(s: string): ReplayInto {
  if (s === "influx") return { kind: "influx" };
  const m = /^rule:([A-Za-z0-9_-]{1,64})$/.exec(s);
  if (m) return { kind: "rule", name: m[1]! };
  throw new ConfigError(`--into must be "influx" or "rule:<name>", got "${s}"`, "into");
}

/** @example await replay({ nc, cfg, log, registry }, { stream: "RESULTS", into: { kind: "influx" }, from, to, batch: 1000 }) */
export async function replay(deps: ReplayDeps, o: ReplayOptions): Promise<ReplayProgress> {
  const { nc, cfg, log } = deps;
  const names = streamNames(cfg);
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const root = cfg.streams.subjectRoot;
  const stream = o.stream === "TELEMETRY" ? names.telemetry : names.results;
  // RESULTS holds exactly `resultsAll()`: no filter is the same set, without the multi-filter path.
  const filterSubjects = o.stream === "TELEMETRY" ? [`${root}.telemetry.>`] : [];
  const signal = o.signal ?? new AbortController().signal;
  const pub = createJsPublisher(nc, { maxInFlight: 256 });
  const p: ReplayProgress = { read: 0, delivered: 0, failed: 0 };
  let handle: (msgs: JsMsg[]) => Promise<void>;
  let close = async () => {};

  if (o.into.kind === "influx") {
    const writer = createPointWriter(o.writeApi ?? createInfluxWriteApi(writeApiOptionsFromConfig(cfg)), createSinkMetrics(deps.registry), log, { name: "replay", maxLinesPerRequest: cfg.influx.batchSize });
    handle = async (msgs) => {
      const { lines, failures } = await writeMessages(writer, msgs, true, signal);
      for (const f of failures) await publishDlq(pub, subj, sinkDlqRecord(f));
      p.delivered += lines - failures.length;
      p.failed += failures.length;
    };
  } else {
    const name = o.into.name;
    const rule = cfg.rules.find((r) => r.name === name);
    if (!rule) throw new ConfigError(`rule "${name}" is not in the config (rules: ${cfg.rules.map((r) => r.name).join(", ") || "none"})`, "rules");
    const compiled = compileRules([rule], cfg)[0]!;
    const target = compiled.makeTarget(pub);
    close = () => target.close();
    const policy = { maxAttempts: rule.maxAttempts, initialMs: rule.backoff.initial, maxMs: rule.backoff.max };
    handle = async (msgs) => {
      for (const m of msgs) {
        let d;
        try {
          d = toDelivery(m);
        } catch (e) {
          await publishDlq(pub, subj, fanoutDlqRecord(name, m, "processing_failed", `not a CloudEvent: ${(e as Error).message}`));
          p.failed++;
          continue;
        }
        if (!compiled.match(d.structured)) continue;
        const r = await deliverWithRetry(target, d, policy, signal);
        if (r.ok) p.delivered++;
        else {
          await publishDlq(pub, subj, fanoutDlqRecord(name, m, "delivery_failed", `${target.describe}: ${r.error} (replay, after ${r.attempts} attempts)`));
          p.failed++;
        }
      }
    };
  }

  try {
    await readRange(nc, stream, { filterSubjects, fromMs: o.from, toMs: o.to, batch: o.batch }, async (msgs) => {
      await handle(msgs);
      p.read += msgs.length;
      p.at = msgs[msgs.length - 1]!.time;
      o.onProgress?.({ ...p });
    });
  } finally {
    await close();
    await pub.close();
  }
  return p;
}
