// Proves: on InfluxDB 1.6 a batch holding one field-type conflict is bisected: the other points land and the offending message is in the DLQ with the server's reason; a redrive after the conflict is gone writes it. A message that maps to no point (not a CloudEvent, a metric that is not a number) goes to the DLQ as it came, and the rest of its batch lands.
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect, headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { DlqRecord } from "../../core/dlq.ts";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { createInfluxDb, influxQl, startInfluxDb1, writeLines, type StoreHandle } from "../../testing/influx_stores.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { publishEvents, readingEvent, testConfig, waitFor } from "../ops/test_events.ts";
import { listDlq, type DlqEntry } from "../ops/dlq_store.ts";
import { redriveDlq } from "../ops/redrive.ts";
import { createInfluxSink } from "./influx_sink.ts";

let ns: NatsServerHandle;
let db: StoreHandle;
let nc: NatsConnection;
beforeAll(async () => {
  [ns, db] = await Promise.all([startNatsServer(), startInfluxDb1()]);
  nc = await connect({ servers: ns.url });
  await createInfluxDb(db.url, "rej");
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([ns?.cleanup(), db?.cleanup()]);
});

it("sends the one conflicting point to the DLQ and writes the rest of its batch", async () => {
  const cfg = testConfig({ nats: { url: ns.url }, influx: { url: db.url, api: "v1", db: "rej", batchSize: 100, flushInterval: 1000 } });
  await ensureStreams(nc, cfg);
  const t0 = Date.UTC(2026, 10, 30, 10, 0, 0);
  // `mode` already exists as a string field: a float `mode` is a field type conflict.
  await writeLines(db.url, "rej", `sensor_reading,device=setup mode="eco" ${t0 - 1000}`);
  const events = Array.from({ length: 40 }, (_, i) => readingEvent(cfg, `r${i % 4}`, t0 + i * 1000, i === 17 ? { mode: 2 } : { temperature: i + 0.5 }, i));
  const registry = createRegistry();
  await publishEvents(nc, events); // one fetch holds them all: one batch
  const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry }, { backoffInitialMs: 100 });
  await sink.start();
  try {
    await waitFor(async () => (await influxQl(db.url, "rej", `SELECT count(temperature) FROM sensor_reading`))[0]?.values[0]?.[1] === 39, 20_000, "39 good points");
    const js = jetstream(nc);
    const c = await js.consumers.get("DLQ");
    const m = await c.next({ expires: 5000 });
    expect(m?.subject).toBe("iot.dlq.sink.processing_failed");
    const rec = m!.json<DlqRecord>();
    expect(rec).toMatchObject({ stage: "sink", reason: "processing_failed", target: "influx", device: "r1", subject: events[17]!.subject });
    expect(rec.error).toMatch(/field type conflict/);
    expect(JSON.parse(Buffer.from(rec.original, "base64").toString())).toEqual({ metrics: { mode: 2 } });
    expect(rec.headers?.["ce-id"]).toBe("r1:s17");
    expect((await c.info()).num_pending).toBe(0);
    expect(await registry.getSingleMetricAsString("fleetstream_sink_batches_split_total")).toMatch(/fleetstream_sink_batches_split_total\{sink="raw"\} [1-9]/);

    // Once the conflict is gone, a redrive writes the point and removes the record.
    await influxQl(db.url, "rej", "DROP MEASUREMENT sensor_reading");
    const entries = await listDlq(nc, cfg, { stage: "sink" });
    expect(entries).toHaveLength(1);
    const results = await redriveDlq({ nc, cfg, log: silentLogger, registry }, entries);
    expect(results).toEqual([{ seq: entries[0]!.seq, ok: true, detail: "1 point(s) written" }]);
    expect((await influxQl(db.url, "rej", "SELECT mode FROM sensor_reading"))[0]?.values).toEqual([[t0 + 17_000, 2]]);
    expect(await listDlq(nc, cfg, { stage: "sink" })).toHaveLength(0);
  } finally {
    await sink.stop();
  }
});

it("sends messages that map to no point to the DLQ as they came, and writes the rest of their batch", async () => {
  const cfg = testConfig({ nats: { url: ns.url }, streams: { prefix: "map_", subjectRoot: "map" }, influx: { url: db.url, api: "v1", db: "map", batchSize: 100, flushInterval: 1000 } });
  await createInfluxDb(db.url, "map");
  await ensureStreams(nc, cfg);
  const t0 = Date.UTC(2026, 10, 30, 11, 0, 0);
  const events = Array.from({ length: 20 }, (_, i) => readingEvent(cfg, `m${i % 2}`, t0 + i * 1000, { temperature: i }, i));
  (events[5]!.event.data as { metrics: Record<string, unknown> }).metrics = { temperature: "hot" };
  await publishEvents(nc, events.slice(0, 10));
  // No CloudEvents headers at all, between two good halves of one batch.
  const h = headers();
  h.set("Nats-Msg-Id", "bare-1");
  await jetstream(nc).publish(events[10]!.subject, "not an event", { headers: h });
  await publishEvents(nc, events.slice(10));
  const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry: createRegistry() });
  await sink.start();
  try {
    await waitFor(async () => (await influxQl(db.url, "map", `SELECT count(temperature) FROM sensor_reading`))[0]?.values[0]?.[1] === 19, 20_000, "19 good points");
    // The records follow the write of the batch's good points.
    let dlq: DlqEntry[] = [];
    await waitFor(async () => (dlq = await listDlq(nc, cfg, { stage: "sink" })).length >= 2, 10_000, "two DLQ records");
    expect(dlq.map((e) => e.record.error).sort()).toEqual([expect.stringMatching(/^data\.metrics\.temperature: expected a finite number, got "hot"/), expect.stringMatching(/^not a CloudEvent/)].sort());
    const byDevice = Object.fromEntries(dlq.map((e) => [e.record.device ?? "none", e.record]));
    expect(JSON.parse(Buffer.from(byDevice.m1!.original, "base64").toString())).toEqual({ metrics: { temperature: "hot" } });
    expect(Buffer.from(byDevice.none!.original, "base64").toString()).toBe("not an event");
    expect(byDevice.none!.subject).toBe(events[10]!.subject);
  } finally {
    await sink.stop();
  }
});
