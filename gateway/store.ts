/**
 * Stores what the normalizer produced: every event in its input stream and every reject in the DLQ,
 * durably (retrying transient failures), resolving only when all of it is stored. The intakes
 * acknowledge a message only after `store()` resolves for it.
 */
import type { Clock } from "../core/clock.ts";
import { publishDlq, type DlqRecord } from "../core/dlq.ts";
import { rfc3339 } from "../core/envelope.ts";
import { PublishError } from "../core/errors.ts";
import type { JsPublisher } from "../core/js_publisher.ts";
import type { Logger } from "../core/logger.ts";
import type { Subjects } from "../core/subjects.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { Normalized, OutEvent } from "./normalizer.ts";

export interface EventStore {
  /** Resolves once every event and DLQ record of `n` is stored (or found a duplicate). */
  store(n: Normalized, receivedAt: number): Promise<void>;
}

export interface EventStoreDeps {
  pub: JsPublisher;
  subjects: Subjects;
  metrics: GatewayMetrics;
  log: Logger;
  clock: Clock;
}

/** @example const store = createEventStore({ pub, subjects, metrics, log, clock }); await store.store(normalized, t0) */
export function createEventStore(deps: EventStoreDeps): EventStore {
  const { pub, subjects, metrics, log, clock } = deps;

  // Bound once: prom-client hashes a label object on every call.
  const publishedTelemetry = metrics.published.labels("telemetry");
  const publishedLocation = metrics.published.labels("location");

  async function storeEvent(ev: OutEvent, receivedAt: number): Promise<void> {
    try {
      const ack = await pub.publishDurably(ev.subject, ev.body, ev.headers);
      if (ack.duplicate) metrics.duplicates.inc();
      else (ev.kind === "telemetry" ? publishedTelemetry : publishedLocation).inc();
      metrics.publishLatency.observe((clock.now() - receivedAt) / 1000);
    } catch (e) {
      // JetStream refused this event for good (e.g. no stream for the subject's shape, too large):
      // keep it in the DLQ rather than losing it or blocking every later message behind it.
      if (!(e instanceof PublishError) || e.code === undefined) throw e;
      log.error("event refused by JetStream, sent to the DLQ", { subject: ev.subject, id: ev.id, error: e });
      await storeReject({
        stage: "gateway",
        reason: "processing_failed",
        error: `JetStream refused the event: ${e.message}`,
        subject: ev.subject,
        device: ev.headers.get("ce-subject"),
        headers: Object.fromEntries(ev.headers.keys().map((k) => [k, ev.headers.get(k)])),
        receivedAt: rfc3339(receivedAt),
        original: Buffer.from(ev.body).toString("base64"),
      });
    }
  }

  async function storeReject(rec: DlqRecord): Promise<void> {
    await publishDlq(pub, subjects, rec);
    metrics.rejected.inc({ reason: rec.reason });
  }

  return {
    // Not async: one reading is one storeEvent promise, with no wrapper around it.
    store(n, receivedAt) {
      for (const r of n.ignored) metrics.ignored.inc({ reason: r });
      if (n.events.length === 1 && n.rejects.length === 0) return storeEvent(n.events[0]!, receivedAt);
      const work: Promise<void>[] = [];
      for (const ev of n.events) work.push(storeEvent(ev, receivedAt));
      for (const rec of n.rejects) work.push(storeReject(rec));
      return Promise.all(work).then(() => undefined);
    },
  };
}
