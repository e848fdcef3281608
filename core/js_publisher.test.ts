// Proves the pipelined publisher stores every message once, dedupes by Nats-Msg-Id, bounds in-flight
// publishes, and with publishDurably rides out a nats-server restart, re-sending at once what a
// dropped connection left unanswered.
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { natsForSuite } from "../testing/nats_suite.ts";
import { loadConfig, streamNames } from "./config.ts";
import { createJsPublisher } from "./js_publisher.ts";
import { ensureStreams, listStreams } from "./streams.ts";

describe("JetStream publisher and streams", () => {
  const nats = natsForSuite({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });

  it("provisions the streams idempotently", async () => {
    const cfg = loadConfig({ env: {}, overrides: { streams: { prefix: "P1_" } } });
    expect((await ensureStreams(nats.nc, cfg)).map((r) => r.action)).toEqual(["created", "created", "created", "created", "created"]);
    expect((await ensureStreams(nats.nc, cfg)).map((r) => r.action)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged", "unchanged"]);
    const changed = loadConfig({ env: {}, overrides: { streams: { prefix: "P1_", maxAge: "1d" } } });
    expect((await ensureStreams(nats.nc, changed))[0]!.action).toBe("updated");
    const rows = await listStreams(nats.nc, cfg);
    expect(rows.map((r) => r.name)).toEqual(["P1_TELEMETRY", "P1_LOCATION", "P1_RESULTS", "P1_DLQ", "P1_MQTT_RAW"]);
    expect(rows.find((r) => r.name === "P1_MQTT_RAW")!.subjects).toContain("devices.*.telemetry");
  });

  it("stores each message once, dedupes re-sent ids and bounds in-flight publishes", async () => {
    const cfg = loadConfig({ env: { MQTT_URL: "mqtt://x" }, overrides: { streams: { prefix: "P2_", subjectRoot: "p2" } } });
    await ensureStreams(nats.nc, cfg);
    const pub = createJsPublisher(nats.nc, { maxInFlight: 64 });
    let peak = 0;
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < 5000; i++) {
      const h = headers();
      h.set("Nats-Msg-Id", `d:${i % 4000}`);
      all.push(pub.publish(`p2.telemetry.0.d${i % 10}`, `{"i":${i}}`, h));
      peak = Math.max(peak, pub.inFlight);
    }
    const acks = (await Promise.all(all)) as Array<{ duplicate: boolean }>;
    expect(peak).toBeLessThanOrEqual(64);
    expect(acks.filter((a) => a.duplicate)).toHaveLength(1000);
    const jsm = await jetstreamManager(nats.nc);
    expect((await jsm.streams.info(streamNames(cfg).telemetry)).state.messages).toBe(4000);
    await pub.close();
  });

  it("fails fast when no stream captures the subject, and retries durably across a restart", async () => {
    const pub = createJsPublisher(nats.nc, { timeoutMs: 1500 });
    await expect(pub.publish("nostream.here", "x")).rejects.toThrow(/503|no ack/);
    const cfg = loadConfig({ env: { MQTT_URL: "mqtt://x" }, overrides: { streams: { prefix: "P3_", subjectRoot: "p3" } } });
    await ensureStreams(nats.nc, cfg);
    await nats.ns.stop();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const h = headers();
      h.set("Nats-Msg-Id", `r:${i}`);
      pending.push(pub.publishDurably(`p3.telemetry.1.r`, `{"i":${i}}`, h));
    }
    await new Promise((r) => setTimeout(r, 1500));
    await nats.ns.start();
    await Promise.all(pending);
    const jsm = await jetstreamManager(nats.nc);
    expect((await jsm.streams.info("P3_TELEMETRY")).state.messages).toBe(50);
    await pub.close();
  });

  it("re-sends on reconnect what the dropped connection left unanswered, without waiting out the timeout", async () => {
    const cfg = loadConfig({ env: { MQTT_URL: "mqtt://x" }, overrides: { streams: { prefix: "P4_", subjectRoot: "p4" } } });
    await ensureStreams(nats.nc, cfg);
    // Far longer than the test may take: only a re-send on reconnect stores these in time.
    const pub = createJsPublisher(nats.nc, { timeoutMs: 600_000 });
    // A frozen server takes the publishes into its socket and never reads them; the kill loses them.
    await nats.ns.freeze();
    const durable: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const h = headers();
      h.set("Nats-Msg-Id", `k:${i}`);
      durable.push(pub.publishDurably("p4.telemetry.2.k", `{"i":${i}}`, h));
    }
    const plain = pub.publish("p4.telemetry.2.k", "{}").then(
      () => "acked",
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(pub.inFlight).toBe(51);
    await nats.ns.kill();
    await nats.ns.start();
    await Promise.all(durable);
    expect(await plain).toMatch(/lost before the ack/);
    const jsm = await jetstreamManager(nats.nc);
    expect((await jsm.streams.info("P4_TELEMETRY")).state.messages).toBe(50);
    await pub.close();
  }, 30_000);
});
