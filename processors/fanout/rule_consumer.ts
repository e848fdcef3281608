/**
 * One rule's durable consumer on RESULTS: matches each event, delivers the matching ones in order
 * (at least once), and after `maxAttempts` (or a final refusal) dead-letters the event as
 * `delivery_failed` (stage `fanout`, target = rule name) and acks it. Its own consumer means a slow
 * or dead target delays no other rule.
 */
import { headersToRecord } from "../../core/fast_headers.ts";
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config } from "../../core/config.ts";
import { publishDlq, toBase64, type DlqRecord } from "../../core/dlq.ts";
import type { DlqReason } from "../../core/errors.ts";
import { readEvent, toStructured } from "../../core/envelope.ts";
import type { JsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import type { RetentionWatch } from "../../core/retention_watch.ts";
import { subjects } from "../../core/subjects.ts";
import { DEFAULT_DURABLE_LOOP_OPTIONS, startDurableLoop, type DurableLoop } from "../ops/durable_loop.ts";
import { deliverWithRetry } from "./delivery.ts";
import type { FanoutMetrics } from "./metrics.ts";
import type { CompiledRule } from "./rules.ts";
import type { Delivery } from "./target.ts";

export interface RuleConsumerOptions {
  /** Durable name = prefix + rule name. */
  durablePrefix: string;
  batch: number;
  ackWaitMs: number;
  /** Where a new rule starts: only events after it was added (`new`, EventBridge-like) or all stored ones. */
  deliverPolicy: "new" | "all";
}

export const DEFAULT_RULE_CONSUMER_OPTIONS: RuleConsumerOptions = { durablePrefix: "fs_rule_", batch: 100, ackWaitMs: 30_000, deliverPolicy: "new" };

export interface RuleConsumerDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  metrics: FanoutMetrics;
  pub: JsPublisher;
  /** Watches the rule's consumer for results its stream discards unread. */
  retention?: RetentionWatch;
}

/** Decodes a stored message into a delivery; throws on a message that is not a CloudEvent. */
export function toDelivery(m: { subject: string; headers?: JsMsg["headers"]; data: Uint8Array }): Delivery {
  const event = readEvent(m);
  return { event, structured: toStructured(event), subject: m.subject, headers: m.headers, data: m.data };
}

/** The DLQ record of an event a rule gave up on. */
export function fanoutDlqRecord(rule: string, m: { subject: string; headers?: JsMsg["headers"]; data: Uint8Array }, reason: DlqReason, error: string): DlqRecord {
  const h = headersToRecord(m.headers);
  return { stage: "fanout", reason, error, subject: m.subject, headers: h, target: rule, device: h?.["ce-subject"], receivedAt: new Date().toISOString(), original: toBase64(m.data) };
}

export interface RuleConsumer {
  readonly name: string;
  stop(): Promise<void>;
}

export async function startRuleConsumer(deps: RuleConsumerDeps, compiled: CompiledRule, options: Partial<RuleConsumerOptions> = {}): Promise<RuleConsumer> {
  const o = { ...DEFAULT_RULE_CONSUMER_OPTIONS, ...options };
  const { rule, match } = compiled;
  const { cfg, metrics, pub } = deps;
  const log = deps.log.child({ rule: rule.name });
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const target = compiled.makeTarget(pub);
  const policy = { maxAttempts: rule.maxAttempts, initialMs: rule.backoff.initial, maxMs: rule.backoff.max };

  const acked = new WeakSet<JsMsg>();
  const done = (m: JsMsg) => {
    m.ack();
    acked.add(m);
  };

  async function handle(msgs: JsMsg[], signal: AbortSignal): Promise<void> {
    let i = 0;
    try {
      for (; i < msgs.length; i++) {
        const m = msgs[i]!;
        // A retried batch skips what an earlier attempt already acked.
        if (acked.has(m)) continue;
        let d: Delivery;
        try {
          d = toDelivery(m);
        } catch (e) {
          await publishDlq(pub, subj, fanoutDlqRecord(rule.name, m, "processing_failed", `not a CloudEvent: ${(e as Error).message}`));
          metrics.dlq.inc({ rule: rule.name, reason: "processing_failed" });
          done(m);
          continue;
        }
        if (!match(d.structured)) {
          metrics.deliveries.inc({ rule: rule.name, outcome: "unmatched" });
          done(m);
          continue;
        }
        const r = await deliverWithRetry(target, d, policy, signal, (ok, secs) => {
          if (ok) metrics.deliverySeconds.observe({ rule: rule.name }, secs);
        });
        if (r.attempts > 1) metrics.deliveries.inc({ rule: rule.name, outcome: "retried" }, r.attempts - 1);
        if (r.ok) {
          metrics.deliveries.inc({ rule: rule.name, outcome: "delivered" });
        } else {
          log.warn("delivery failed, sent to the DLQ", { event: d.event.id, attempts: r.attempts, error: r.error });
          await publishDlq(pub, subj, fanoutDlqRecord(rule.name, m, "delivery_failed", `${target.describe}: ${r.error} (after ${r.attempts} attempts)`));
          metrics.deliveries.inc({ rule: rule.name, outcome: "failed" });
          metrics.dlq.inc({ rule: rule.name, reason: "delivery_failed" });
        }
        done(m);
      }
    } catch (e) {
      // Stopping (or a reload) mid-batch: hand the rest back at once instead of after ack_wait.
      // Any other failure: the loop gives this handler the same batch again.
      if (signal.aborted) for (; i < msgs.length; i++) msgs[i]!.nak();
      throw e;
    }
  }

  const loop: DurableLoop = await startDurableLoop(
    deps.nc,
    {
      ...DEFAULT_DURABLE_LOOP_OPTIONS,
      stream: streamNames(cfg).results,
      durable: `${o.durablePrefix}${rule.name}`,
      // The whole stream (it holds exactly `resultsAll()`), without the slow multi-filter path.
      filterSubjects: [],
      batch: o.batch,
      ackWaitMs: o.ackWaitMs,
      deliverPolicy: o.deliverPolicy,
    },
    log,
    handle,
    deps.retention,
  );
  log.info("rule started", { target: target.describe });
  return {
    name: rule.name,
    async stop() {
      await loop.stop();
      await target.close();
    },
  };
}
