// Proves: with nats-server stopped for 5 s mid-run and started again, every message whose publish the device got a PUBACK for ends up in TELEMETRY, on the broker intake (Mosquitto, MQTT 5) and the nats intake (nats-server's MQTT listener).
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, streamNames, type Config } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from "../testing/mod.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { connectMqtt, readStream, sendThroughOutage, waitForCount } from "./test_workload.ts";

const TOTAL = 6000;
const RATE = 600; // msgs/s: the run lasts ~10 s, the outage starts at ~2 s and lasts 5 s

describe("NATS outage", () => {
  let ns: NatsServerHandle | undefined;
  let mosq: MosquittoHandle | undefined;
  let nc: NatsConnection | undefined;
  let gwNc: NatsConnection | undefined;
  let gw: Gateway | undefined;
  let dev: MqttClient | undefined;

  afterEach(async () => {
    await dev?.endAsync(true);
    await gw?.stop();
    await gwNc?.close();
    await nc?.close();
    await Promise.all([ns?.cleanup(), mosq?.cleanup()]);
    ns = mosq = nc = gwNc = gw = dev = undefined;
  });

  async function run(cfg: Config, deviceUrl: string, protocolVersion: 4 | 5) {
    nc = await connect({ servers: ns!.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    await ensureStreams(nc, cfg);
    gwNc = await connectNats(cfg.nats, silentLogger, "gateway-test");
    dev = await connectMqtt(deviceUrl, { protocolVersion, clientId: `dev-outage-${cfg.intake}`, clean: false, reconnectPeriod: 250 });
    gw = createGateway({ nc: gwNc, cfg, log: silentLogger, registry: createRegistry() });
    await gw.start();
    let readyDuringOutage: boolean | undefined;
    const acked = await sendThroughOutage(dev, { total: TOTAL, rate: RATE, devices: 20, prefix: "o" }, async () => {
      await ns!.stop();
      await new Promise((r) => setTimeout(r, 2500));
      readyDuringOutage = gw!.ready();
      await new Promise((r) => setTimeout(r, 2500));
      await ns!.start();
    });
    expect(readyDuringOutage).toBe(false);
    // Some messages were acknowledged before, during or after the outage: the run spanned it.
    expect(acked.size).toBeGreaterThan(TOTAL / 2);
    const names = streamNames(cfg);
    await waitForCount(nc, names.telemetry, acked.size, 40_000);
    await new Promise((r) => setTimeout(r, 500));
    const stored = new Set((await readStream(nc, names.telemetry)).map((m) => m.headers["ce-id"]!));
    const missing = [...acked].filter((id) => !stored.has(id));
    if (missing.length && cfg.intake === "nats") {
      const raw = new Set((await readStream(nc, names.raw)).map((m) => JSON.parse(Buffer.from(m.data).toString()).id));
      console.log("missing", missing, "in raw:", missing.map((id) => raw.has(id.split(":")[1])), "raw size", raw.size);
    }
    expect(missing).toEqual([]);
    return { acked: acked.size, stored: stored.size };
  }

  it("broker intake: every message Mosquitto acknowledged is stored", async () => {
    [ns, mosq] = await Promise.all([startNatsServer(), startMosquitto()]);
    const cfg = loadConfig({
      env: {},
      overrides: { intake: "broker", nats: { url: ns.url }, mqtt: { url: mosq.url, protocolVersion: 5, clientId: "gw-outage" }, streams: { prefix: "OUTB_" }, gateway: { publishTimeout: 2000 } },
    });
    const r = await run(cfg, mosq.url, 5);
    // With Mosquitto up the whole time, the device got every PUBACK.
    expect(r.acked).toBe(TOTAL);
    expect(r.stored).toBe(TOTAL);
  });

  it("nats intake: every message nats-server acknowledged is stored", async () => {
    ns = await startNatsServer({ mqtt: true });
    const cfg = loadConfig({
      env: {},
      overrides: { intake: "nats", nats: { url: ns.url }, streams: { prefix: "OUTN_" }, gateway: { publishTimeout: 2000 } },
    });
    await run(cfg, ns.mqttUrl!, 4);
  });
});
