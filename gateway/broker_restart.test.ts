// Proves: with Mosquitto stopped for 3 s mid-run and started again, the gateway reconnects with its
// persistent session and every message whose publish the device got a PUBACK for ends up in TELEMETRY once.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { MqttClient } from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from "../testing/mod.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { connectMqtt, readStream, sendThroughOutage, waitForCount } from "./test_workload.ts";

const TOTAL = 4000;
const RATE = 500; // msgs/s: ~8 s; the broker is down from ~2 s to ~5 s

describe("broker restart", () => {
  let ns: NatsServerHandle | undefined;
  let mosq: MosquittoHandle | undefined;
  let nc: NatsConnection | undefined;
  let gwNc: NatsConnection | undefined;
  let gw: Gateway | undefined;
  let dev: MqttClient | undefined;

  afterAll(async () => {
    await dev?.endAsync(true);
    await gw?.stop();
    await gwNc?.close();
    await nc?.close();
    await Promise.all([ns?.cleanup(), mosq?.cleanup()]);
  });

  it("loses nothing the device got a PUBACK for, and stores it once", async () => {
    [ns, mosq] = await Promise.all([startNatsServer(), startMosquitto()]);
    const cfg = loadConfig({
      env: {},
      overrides: { intake: "broker", nats: { url: ns.url }, mqtt: { url: mosq.url, protocolVersion: 5, clientId: "gw-broker-restart" }, streams: { prefix: "BRR_" } },
    });
    nc = await connect({ servers: ns.url });
    await ensureStreams(nc, cfg);
    gwNc = await connectNats(cfg.nats, silentLogger, "gateway-test");
    gw = createGateway({ nc: gwNc, cfg, log: silentLogger, registry: createRegistry() });
    await gw.start();
    dev = await connectMqtt(mosq.url, { protocolVersion: 5, clientId: "dev-broker-restart", clean: false, reconnectPeriod: 250 });

    let readyDuringOutage: boolean | undefined;
    const acked = await sendThroughOutage(dev, { total: TOTAL, rate: RATE, devices: 10, prefix: "r" }, async () => {
      await mosq!.stop(); // SIGTERM: Mosquitto saves its queues, as a restart would
      await new Promise((r) => setTimeout(r, 1500));
      readyDuringOutage = gw!.ready();
      await new Promise((r) => setTimeout(r, 1500));
      await mosq!.start();
    });

    expect(readyDuringOutage).toBe(false);
    expect(acked.size).toBeGreaterThan(TOTAL / 2);
    const telemetry = streamNames(cfg).telemetry;
    await waitForCount(nc, telemetry, acked.size, 40_000);
    await new Promise((r) => setTimeout(r, 1000));
    const stored = (await readStream(nc, telemetry)).map((m) => m.headers["ce-id"]!);
    const ids = new Set(stored);
    expect([...acked].filter((id) => !ids.has(id))).toEqual([]);
    expect(stored.length).toBe(ids.size); // nothing stored twice
    await new Promise((r) => setTimeout(r, 1000));
    expect(gw.ready()).toBe(true);
  }, 90_000);
});
