// Proves: `dlq redrive` re-publishes processor records to their original subject with their original headers and gateway records to the raw MQTT capture subject (nats intake), removes what it redrove, and keeps a record it cannot redrive (a late event, one JetStream drops as a duplicate, a rule gone) with the reason.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { publishDlq, toBase64 } from "../../core/dlq.ts";
import { toHeaders } from "../../core/envelope.ts";
import { createJsPublisher } from "../../core/js_publisher.ts";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { subjects } from "../../core/subjects.ts";
import { natsForSuite } from "../../testing/nats_suite.ts";
import { listDlq } from "./dlq_store.ts";
import { LATE_EVENT_KEPT, redriveDlq } from "./redrive.ts";
import { readingEvent } from "./test_events.ts";

const nats = natsForSuite();

it("redrives processor and gateway records back to where they came from, and keeps what it cannot redrive", async () => {
  const cfg = loadConfig({ env: {}, overrides: { nats: { url: nats.ns.url } } }); // the nats intake: with the raw capture stream
  expect(cfg.intake).toBe("nats");
  await ensureStreams(nats.nc, cfg);
  const subj = subjects();
  const pub = createJsPublisher(nats.nc);
  const record = (ev: ReturnType<typeof readingEvent>, reason: "late_event" | "processing_failed") => {
    const h = toHeaders(ev.event);
    const headers = Object.fromEntries([...h.keys()].map((k) => [k, h.get(k)]));
    return { stage: "processor" as const, reason, error: reason, subject: ev.subject, headers, device: "p1", receivedAt: new Date().toISOString(), original: toBase64(JSON.stringify(ev.event.data)) };
  };
  const late = readingEvent(cfg, "p1", Date.UTC(2026, 10, 30, 4), { temperature: 7 }, 3);
  const failed = readingEvent(cfg, "p1", Date.UTC(2026, 10, 30, 4, 1), { temperature: 8 }, 4);
  const stored = readingEvent(cfg, "p1", Date.UTC(2026, 10, 30, 4, 2), { temperature: 9 }, 5);
  // Already in TELEMETRY, well within the 2-minute duplicate window: JetStream drops a re-publish.
  await pub.publish(stored.subject, JSON.stringify(stored.event.data), toHeaders(stored.event));
  await publishDlq(pub, subj, record(late, "late_event"));
  await publishDlq(pub, subj, record(failed, "processing_failed"));
  await publishDlq(pub, subj, record(stored, "processing_failed"));
  await publishDlq(pub, subj, { stage: "gateway", reason: "malformed_json", error: "Unexpected end of JSON", topic: "devices/g1/telemetry", device: "g1", receivedAt: new Date().toISOString(), original: toBase64('{"metrics":{"t":1}}') });
  await publishDlq(pub, subj, { stage: "fanout", reason: "delivery_failed", error: "down", subject: "iot.results.window.x", target: "gone_rule", receivedAt: new Date().toISOString(), original: toBase64("{}") });
  await pub.close();

  const entries = await listDlq(nats.nc, cfg);
  expect(entries.map((e) => e.record.stage)).toEqual(["processor", "processor", "processor", "gateway", "fanout"]);
  const results = await redriveDlq({ nc: nats.nc, cfg, log: silentLogger, registry: createRegistry() }, entries);
  expect(results.map((r) => r.ok)).toEqual([false, true, false, true, false]);
  expect(results[0]!.detail).toBe(LATE_EVENT_KEPT);
  expect(results[2]!.detail).toMatch(/not re-published: TELEMETRY still holds its ce-id in its duplicate window/);
  expect(results[4]!.detail).toBe('rule "gone_rule" is not in the config');

  const js = jetstream(nats.nc);
  const telemetry = await js.consumers.get("TELEMETRY");
  const inStream: string[] = [];
  for (;;) {
    const m = await telemetry.next({ expires: 1000 });
    if (!m) break;
    inStream.push(`${m.subject} ${m.headers?.get("ce-id")} ${m.string()}`);
  }
  // The one redriven event once, the already stored one still once, the late one not at all.
  expect(inStream).toEqual([`${stored.subject} p1:s5 {"metrics":{"temperature":9}}`, `${failed.subject} p1:s4 {"metrics":{"temperature":8}}`]);
  const raw = await (await js.consumers.get("MQTT_RAW")).next({ expires: 2000 });
  expect(raw?.subject).toBe("devices.g1.telemetry");
  expect(raw?.string()).toBe('{"metrics":{"t":1}}');

  const left = await listDlq(nats.nc, cfg);
  expect(left.map((e) => `${e.record.stage}/${e.record.reason}`)).toEqual(["processor/late_event", "processor/processing_failed", "fanout/delivery_failed"]);
  expect((await (await jetstreamManager(nats.nc)).streams.info("DLQ")).state.messages).toBe(3);
});
