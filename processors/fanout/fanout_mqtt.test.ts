// Proves: an MQTT rule target publishes matching events as structured CloudEvents JSON to a topic on a real Mosquitto broker, with {subject} filled in, and nothing for events the pattern excludes.
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { startMosquitto, type MosquittoHandle } from "../../testing/mosquitto.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { locationEvent, publishEvents, testConfig, waitFor, windowEvent } from "../ops/test_events.ts";
import { createFanout } from "./fanout.ts";

let ns: NatsServerHandle;
let broker: MosquittoHandle;
let nc: NatsConnection;
beforeAll(async () => {
  [ns, broker] = await Promise.all([startNatsServer(), startMosquitto()]);
  nc = await connect({ servers: ns.url });
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([ns?.cleanup(), broker?.cleanup()]);
});

it("publishes matching events to an MQTT topic", async () => {
  const cfg = testConfig({
    nats: { url: ns.url },
    rules: [{ name: "fast", pattern: { type: ["LocationEnriched"], data: { speed_mps: [{ numeric: [">=", 30] }] } }, target: { type: "mqtt", url: broker.url, topic: "alerts/{subject}/speed", qos: 1 } }],
  });
  await ensureStreams(nc, cfg);
  const sub = await mqtt.connectAsync(broker.url, { clientId: "fanout-test-sub" });
  const got: Array<{ topic: string; body: Record<string, unknown> }> = [];
  sub.on("message", (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) }));
  await sub.subscribeAsync("alerts/#", { qos: 1 });
  const fanout = createFanout({ nc, cfg, log: silentLogger, registry: createRegistry() });
  await fanout.start();
  try {
    const t0 = Date.UTC(2026, 10, 30, 6);
    const events = [
      locationEvent(cfg, "car-1", t0, { lat: 1, lon: 1, speed_mps: 12 }),
      locationEvent(cfg, "car-1", t0 + 1000, { lat: 1, lon: 1.01, speed_mps: 35 }),
      locationEvent(cfg, "car-2", t0 + 2000, { lat: 2, lon: 2, speed_mps: 30 }),
      windowEvent(cfg, "car-2", t0, { speed_mps: [99] }),
    ];
    // The MQTT client connects in the background: wait for the first delivery, then check all.
    await publishEvents(nc, events);
    await waitFor(() => got.length >= 2, 15_000, "two MQTT messages");
    await new Promise((r) => setTimeout(r, 500));
    expect(got.map((g) => g.topic).sort()).toEqual(["alerts/car-1/speed", "alerts/car-2/speed"]);
    expect(got.find((g) => g.topic === "alerts/car-1/speed")!.body).toMatchObject({ specversion: "1.0", id: events[1]!.event.id, type: "LocationEnriched", data: { speed_mps: 35 } });
  } finally {
    await fanout.stop();
    await sub.endAsync();
  }
});
