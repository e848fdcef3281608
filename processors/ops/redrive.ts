/**
 * `dlq redrive`: sends dead-lettered messages back through the stage that gave up on them, and
 * removes each record from the DLQ once that succeeded (a record whose redrive fails stays).
 *
 * | stage       | redrive                                                                          |
 * |-------------|----------------------------------------------------------------------------------|
 * | `fanout`    | delivered again to the target of the rule named in `target` (from the current config, with its retry policy) |
 * | `sink`      | its points written again to the configured InfluxDB                              |
 * | `processor` | the original event re-published to its original subject with its original headers (a `processing_failed` one is then applied: the processor forgot it, see `Sequencer.forget`); a `late_event` is kept (its windows are final), and so is one JetStream drops as a duplicate |
 * | `gateway`   | the original payload re-published to its MQTT topic: to the raw capture subject (`nats` intake) or to the broker (`broker` intake), so the gateway decodes it again |
 *
 * A re-published original that fails again lands in the DLQ again (a record with the same id is
 * deduplicated only within the DLQ's duplicate window, 2 minutes by default, of the first one).
 */
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import mqtt from "mqtt";
import type { Config } from "../../core/config.ts";
import { createJsPublisher, type JsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import type { Registry } from "../../core/metrics.ts";
import { mqttFilterToSubject } from "../../core/topics.ts";
import { deliverWithRetry } from "../fanout/delivery.ts";
import { toDelivery } from "../fanout/rule_consumer.ts";
import { compileRules } from "../fanout/rules.ts";
import { writeMessages } from "../sinks/influx_sink.ts";
import { createInfluxWriteApi, writeApiOptionsFromConfig } from "../sinks/influx_write_api.ts";
import { createSinkMetrics } from "../sinks/metrics.ts";
import { createPointWriter, type PointWriter } from "../sinks/point_writer.ts";
import { removeDlq, type DlqEntry } from "./dlq_store.ts";

export interface RedriveDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
}

export interface RedriveResult {
  seq: number;
  ok: boolean;
  /** What was done, e.g. `delivered to rule alerts`, or why not. */
  detail: string;
}

export interface RedriveOptions {
  /** Per record, at most (a sink write or delivery still failing by then counts as failed). */
  timeoutMs: number;
}

export const DEFAULT_REDRIVE_OPTIONS: RedriveOptions = { timeoutMs: 30_000 };

function msgOf(e: DlqEntry) {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(e.record.headers ?? {})) h.set(k, v);
  return { subject: e.record.subject ?? "", headers: e.record.headers ? h : undefined, data: new Uint8Array(Buffer.from(e.record.original, "base64")) };
}

/** Why a processor's `late_event` record stays in the DLQ. */
export const LATE_EVENT_KEPT =
  "a late event cannot be applied again: the windows it belonged to were already final (beyond processor.allowedLateness). Its raw reading is stored; raise allowedLateness for later ones";

/** Redrives the entries one by one; resolves with one result per entry. */
export async function redriveDlq(deps: RedriveDeps, entries: DlqEntry[], options: Partial<RedriveOptions> = {}): Promise<RedriveResult[]> {
  const o = { ...DEFAULT_REDRIVE_OPTIONS, ...options };
  const { nc, cfg, log } = deps;
  const pub: JsPublisher = createJsPublisher(nc, { maxInFlight: 64, timeoutMs: 5000 });
  let writer: PointWriter | undefined;
  let mqttClient: mqtt.MqttClient | undefined;
  const results: RedriveResult[] = [];
  try {
    for (const e of entries) {
      const rec = e.record;
      const signal = AbortSignal.timeout(o.timeoutMs);
      let r: RedriveResult;
      try {
        switch (rec.stage) {
          case "fanout": {
            const rule = cfg.rules.find((x) => x.name === rec.target);
            if (!rule) {
              r = { seq: e.seq, ok: false, detail: `rule "${rec.target}" is not in the config` };
              break;
            }
            const target = compileRules([rule], cfg)[0]!.makeTarget(pub);
            try {
              const out = await deliverWithRetry(target, toDelivery(msgOf(e)), { maxAttempts: rule.maxAttempts, initialMs: rule.backoff.initial, maxMs: rule.backoff.max }, signal);
              r = out.ok ? { seq: e.seq, ok: true, detail: `delivered to rule ${rule.name} (${target.describe})` } : { seq: e.seq, ok: false, detail: out.error };
            } finally {
              await target.close();
            }
            break;
          }
          case "sink": {
            writer ??= createPointWriter(createInfluxWriteApi(writeApiOptionsFromConfig(cfg)), createSinkMetrics(deps.registry), log, { name: "redrive" });
            const { lines, failures } = await writeMessages(writer, [msgOf(e)], true, signal);
            r = failures.length ? { seq: e.seq, ok: false, detail: failures[0]!.error } : { seq: e.seq, ok: true, detail: `${lines} point(s) written` };
            break;
          }
          case "processor": {
            const m = msgOf(e);
            if (rec.reason === "late_event") {
              // Re-publishing it would change nothing: the processor would find its windows closed (or
              // its seq applied) again, while the record left the DLQ as if it had been handled.
              r = { seq: e.seq, ok: false, detail: LATE_EVENT_KEPT };
              break;
            }
            if (!m.subject) {
              r = { seq: e.seq, ok: false, detail: "record has no original subject" };
              break;
            }
            const ack = await pub.publish(m.subject, m.data, m.headers);
            r = ack.duplicate
              ? { seq: e.seq, ok: false, detail: `not re-published: ${ack.stream} still holds its ce-id in its duplicate window (streams.duplicateWindow); redrive it once that has passed` }
              : { seq: e.seq, ok: true, detail: `re-published to ${m.subject}` };
            break;
          }
          case "gateway": {
            if (!rec.topic) {
              r = { seq: e.seq, ok: false, detail: "record has no MQTT topic" };
              break;
            }
            const data = Buffer.from(rec.original, "base64");
            if (cfg.intake === "nats") {
              const subject = mqttFilterToSubject(rec.topic);
              await pub.publish(subject, data);
              r = { seq: e.seq, ok: true, detail: `re-published to ${subject} (raw capture of MQTT topic ${rec.topic})` };
            } else {
              mqttClient ??= await mqtt.connectAsync(cfg.mqtt.url!, { username: cfg.mqtt.username, password: cfg.mqtt.password });
              await mqttClient.publishAsync(rec.topic, data, { qos: 1 });
              r = { seq: e.seq, ok: true, detail: `re-published to MQTT topic ${rec.topic}` };
            }
            break;
          }
          default:
            r = { seq: e.seq, ok: false, detail: `unknown stage ${String(rec.stage)}` };
        }
      } catch (err) {
        r = { seq: e.seq, ok: false, detail: (err as Error).message };
      }
      if (r.ok) await removeDlq(nc, cfg, e.seq);
      results.push(r);
    }
  } finally {
    await pub.close();
    await mqttClient?.endAsync().catch(() => {});
  }
  return results;
}
