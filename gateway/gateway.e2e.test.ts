// Proves: 10,000 mixed QoS 1 messages (all decoders, batches, re-sends, every gateway reject kind) through Mosquitto (broker intake, MQTT 5; also split by a shared subscription) and through nats-server's MQTT listener (nats intake) leave exactly the expected distinct events in TELEMETRY/LOCATION and exactly the rejects, with their reasons, in the DLQ.
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, streamNames, type Config } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { ensureStreams } from "../core/streams.ts";
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from "../testing/mod.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { buildWorkload, connectMqtt, readStream, sendQos1, waitForCount, type Workload } from "./test_workload.ts";

const MAX_PAYLOAD = 4096;

async function verify(nc: NatsConnection, cfg: Config, w: Workload, registry: ReturnType<typeof createRegistry>) {
  const names = streamNames(cfg);
  await waitForCount(nc, names.telemetry, w.telemetry.size, 40_000);
  await waitForCount(nc, names.location, w.location.size, 20_000);
  await waitForCount(nc, names.dlq, w.dlq.size, 20_000);
  // Let anything extra (a duplicate that slipped through) arrive before counting.
  await new Promise((r) => setTimeout(r, 500));
  const tel = await readStream(nc, names.telemetry);
  const loc = await readStream(nc, names.location);
  const dlq = await readStream(nc, names.dlq);
  const telIds = tel.map((m) => m.headers["ce-id"]!);
  const locIds = loc.map((m) => m.headers["ce-id"]!);
  expect(telIds.length).toBe(new Set(telIds).size);
  expect(new Set(telIds)).toEqual(w.telemetry);
  expect(locIds.length).toBe(new Set(locIds).size);
  expect(new Set(locIds)).toEqual(w.location);
  for (const m of tel) expect(m.headers["ce-type"]).toBe("SensorReadingRecorded");
  for (const m of loc) expect(m.headers["ce-type"]).toBe("LocationUpdated");
  const got = new Map(dlq.map((m) => [m.headers["Nats-Msg-Id"]!, m.headers["fs-reason"]!]));
  expect(dlq.length).toBe(got.size);
  expect(got).toEqual(w.dlq);
  for (const m of dlq) {
    const rec = JSON.parse(Buffer.from(m.data).toString());
    expect(rec.stage).toBe("gateway");
    expect(rec.topic).toMatch(/^devices\//);
    expect(m.subject).toBe(`${cfg.streams.subjectRoot}.dlq.gateway.${rec.reason}`);
  }
  const metrics = await registry.getMetricsAsJSON();
  const ignored = metrics.find((x) => x.name === "fleetstream_gateway_ignored_total")!.values.reduce((a, v) => a + v.value, 0);
  // Re-sent waypoints are counted again: at least one count per distinct ignored message.
  expect(ignored).toBeGreaterThanOrEqual(w.ignored);
  const reasons = new Set(w.dlq.values());
  for (const r of ["malformed_json", "schema_violation", "invalid_device_id", "payload_too_large", "timestamp_out_of_range"]) expect(reasons.has(r as never)).toBe(true);
}

describe("gateway end to end", () => {
  let ns: NatsServerHandle;
  let mosq: MosquittoHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    [ns, mosq] = await Promise.all([startNatsServer({ mqtt: true }), startMosquitto()]);
    nc = await connect({ servers: ns.url, noAsyncTraces: true });
  });
  afterAll(async () => {
    await nc?.close();
    await Promise.all([ns?.cleanup(), mosq?.cleanup()]);
  });

  it("broker intake (Mosquitto, MQTT 5): exactly the valid distinct events and the rejects", async () => {
    const cfg = loadConfig({
      env: {},
      overrides: {
        intake: "broker",
        nats: { url: ns.url },
        mqtt: { url: mosq.url, protocolVersion: 5, clientId: "gw-e2e-broker" },
        streams: { prefix: "E2EB_", subjectRoot: "e2eb" },
        limits: { maxPayload: MAX_PAYLOAD },
      },
    });
    await ensureStreams(nc, cfg);
    const registry = createRegistry();
    const gw: Gateway = createGateway({ nc, cfg, log: silentLogger, registry });
    await gw.start();
    expect(gw.ready()).toBe(true);
    const w = buildWorkload({ count: 10_000, seed: 11, maxPayload: MAX_PAYLOAD, devicePrefix: "b" });
    const dev = await connectMqtt(mosq.url, { protocolVersion: 5, clientId: "dev-e2e-b" });
    expect(await sendQos1(dev, w.messages)).toBe(10_000);
    await dev.endAsync();
    await verify(nc, cfg, w, registry);
    await gw.stop();
    expect(gw.ready()).toBe(false);
  });

  it("broker intake, shared subscription: two gateways split the load, every message stored once", async () => {
    const cfgFor = (id: string) =>
      loadConfig({
        env: {},
        overrides: {
          intake: "broker",
          gatewayId: id,
          nats: { url: ns.url },
          mqtt: { url: mosq.url, protocolVersion: 5, sharedGroup: "fleet" },
          streams: { prefix: "E2ES_", subjectRoot: "e2es" },
          routes: [{ filter: "devices/+/telemetry", decoder: "canonical_reading" }],
        },
      });
    const cfgs = [cfgFor("gwa"), cfgFor("gwb")];
    await ensureStreams(nc, cfgs[0]!);
    const registries = cfgs.map(() => createRegistry());
    const gws = cfgs.map((cfg, i) => createGateway({ nc, cfg, log: silentLogger, registry: registries[i]! }));
    await Promise.all(gws.map((g) => g.start()));
    const messages = Array.from({ length: 4000 }, (_, i) => ({ topic: `devices/s${i % 10}/telemetry`, payload: Buffer.from(JSON.stringify({ seq: i, metrics: { v: i } })) }));
    const dev = await connectMqtt(mosq.url, { protocolVersion: 5, clientId: "dev-e2e-s" });
    await sendQos1(dev, messages);
    await dev.endAsync();
    const tel = streamNames(cfgs[0]!).telemetry;
    expect(await waitForCount(nc, tel, 4000, 20_000)).toBe(4000);
    const ids = new Set((await readStream(nc, tel)).map((m) => m.headers["ce-id"]));
    expect(ids).toEqual(new Set(messages.map((_, i) => `s${i % 10}:s${i}`)));
    const received = await Promise.all(
      registries.map(async (r) => (await r.getSingleMetric("fleetstream_gateway_received_total")!.get()).values.reduce((a, v) => a + v.value, 0)),
    );
    expect(received[0]).toBeGreaterThan(0);
    expect(received[1]).toBeGreaterThan(0);
    expect(received[0]! + received[1]!).toBe(4000);
    await Promise.all(gws.map((g) => g.stop()));
  });

  it("nats intake (nats-server MQTT listener, 3.1.1): exactly the valid distinct events and the rejects", async () => {
    const cfg = loadConfig({
      env: {},
      overrides: {
        intake: "nats",
        nats: { url: ns.url },
        streams: { prefix: "E2EN_", subjectRoot: "e2en" },
        limits: { maxPayload: MAX_PAYLOAD },
      },
    });
    await ensureStreams(nc, cfg);
    const registry = createRegistry();
    const gw = createGateway({ nc, cfg, log: silentLogger, registry });
    await gw.start();
    const w = buildWorkload({ count: 10_000, seed: 12, maxPayload: MAX_PAYLOAD, devicePrefix: "n" });
    const dev = await connectMqtt(ns.mqttUrl!, { protocolVersion: 4, clientId: "dev-e2e-n" });
    expect(await sendQos1(dev, w.messages)).toBe(10_000);
    await dev.endAsync();
    await verify(nc, cfg, w, registry);
    const raw = await waitForCount(nc, streamNames(cfg).raw, 10_000, 1000);
    expect(raw).toBe(10_000);
    // QoS 0 messages never reach $MQTT_msgs: they come from the raw stream.
    const qos0 = await connectMqtt(ns.mqttUrl!, { protocolVersion: 4, clientId: "dev-e2e-q0" });
    for (let i = 0; i < 3; i++) qos0.publish("devices/q0/telemetry", JSON.stringify({ id: `q0-${i}`, metrics: { a: i } }), { qos: 0 });
    await qos0.endAsync();
    const tel = streamNames(cfg).telemetry;
    expect(await waitForCount(nc, tel, w.telemetry.size + 3, 10_000)).toBe(w.telemetry.size + 3);
    const ids = (await readStream(nc, tel)).map((m) => m.headers["ce-id"]);
    expect(ids.filter((id) => id?.startsWith("q0:q0-")).sort()).toEqual(["q0:q0-0", "q0:q0-1", "q0:q0-2"]);
    await gw.stop();
  });
});
