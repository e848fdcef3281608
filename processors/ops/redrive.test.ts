// Proves: `dlq redrive` re-publishes processor records to their original subject with their original headers and gateway records to the raw MQTT capture subject (nats intake), removes what it redrove, and keeps a record it cannot redrive (rule gone) with the reason.
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
import { redriveDlq } from "./redrive.ts";
import { readingEvent } from "./test_events.ts";

const nats = natsForSuite();

it("redrives processor and gateway records back to where they came from", async () => {
  const cfg = loadConfig({ env: {}, overrides: { nats: { url: nats.ns.url } } }); // the nats intake: with the raw capture stream
  expect(cfg.intake).toBe("nats");
  await ensureStreams(nats.nc, cfg);
  const subj = subjects();
  const pub = createJsPublisher(nats.nc);
  const late = readingEvent(cfg, "p1", Date.UTC(2026, 10, 30, 4), { temperature: 7 }, 3);
  const h = toHeaders(late.event);
  const headers = Object.fromEntries([...h.keys()].map((k) => [k, h.get(k)]));
  await publishDlq(pub, subj, { stage: "processor", reason: "late_event", error: "beyond allowed lateness", subject: late.subject, headers, device: "p1", receivedAt: new Date().toISOString(), original: toBase64(JSON.stringify(late.event.data)) });
  await publishDlq(pub, subj, { stage: "gateway", reason: "malformed_json", error: "Unexpected end of JSON", topic: "devices/g1/telemetry", device: "g1", receivedAt: new Date().toISOString(), original: toBase64('{"metrics":{"t":1}}') });
  await publishDlq(pub, subj, { stage: "fanout", reason: "delivery_failed", error: "down", subject: "iot.results.window.x", target: "gone_rule", receivedAt: new Date().toISOString(), original: toBase64("{}") });
  await pub.close();

  const entries = await listDlq(nats.nc, cfg);
  expect(entries.map((e) => e.record.stage)).toEqual(["processor", "gateway", "fanout"]);
  const results = await redriveDlq({ nc: nats.nc, cfg, log: silentLogger, registry: createRegistry() }, entries);
  expect(results.map((r) => r.ok)).toEqual([true, true, false]);
  expect(results[2]!.detail).toBe('rule "gone_rule" is not in the config');

  const js = jetstream(nats.nc);
  const redriven = await (await js.consumers.get("TELEMETRY")).next({ expires: 2000 });
  expect(redriven?.subject).toBe(late.subject);
  expect(redriven?.headers?.get("ce-id")).toBe("p1:s3");
  expect(redriven?.json()).toEqual({ metrics: { temperature: 7 } });
  const raw = await (await js.consumers.get("MQTT_RAW")).next({ expires: 2000 });
  expect(raw?.subject).toBe("devices.g1.telemetry");
  expect(raw?.string()).toBe('{"metrics":{"t":1}}');

  const left = await listDlq(nats.nc, cfg);
  expect(left.map((e) => e.record.target)).toEqual(["gone_rule"]);
  expect((await (await jetstreamManager(nats.nc)).streams.info("DLQ")).state.messages).toBe(1);
});
