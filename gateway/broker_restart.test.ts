// Proves: with Mosquitto stopped for 3 s mid-run and started again, the gateway reconnects with its
// persistent session and every message whose publish the device got a PUBACK for ends up in TELEMETRY once.
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../core/config.ts";
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from "../testing/mod.ts";
import { runThroughOutage, startGatewayRig, type GatewayRig } from "./test_workload.ts";

const TOTAL = 4000;
const RATE = 500; // msgs/s: ~8 s; the broker is down from ~2 s to ~5 s

describe("broker restart", () => {
  let ns: NatsServerHandle | undefined;
  let mosq: MosquittoHandle | undefined;
  let rig: GatewayRig | undefined;

  afterAll(async () => {
    await rig?.close();
    await Promise.all([ns?.cleanup(), mosq?.cleanup()]);
  });

  it("loses nothing the device got a PUBACK for, and stores it once", async () => {
    [ns, mosq] = await Promise.all([startNatsServer(), startMosquitto()]);
    const cfg = loadConfig({
      env: {},
      overrides: { intake: "broker", nats: { url: ns.url }, mqtt: { url: mosq.url, protocolVersion: 5, clientId: "gw-broker-restart" }, streams: { prefix: "BRR_" } },
    });
    rig = await startGatewayRig(cfg, { url: mosq.url, protocolVersion: 5, clientId: "dev-broker-restart" });
    const broker = mosq;
    // SIGTERM: Mosquitto saves its queues, as a restart would
    const { acked, readyDuringOutage, stored } = await runThroughOutage(rig, cfg, { total: TOTAL, rate: RATE, devices: 10, prefix: "r" }, { down: () => broker.stop(), up: () => broker.start(), downMs: 3000 });

    expect(readyDuringOutage).toBe(false);
    expect(acked.size).toBeGreaterThan(TOTAL / 2);
    const ids = new Set(stored);
    expect([...acked].filter((id) => !ids.has(id))).toEqual([]);
    expect(stored.length).toBe(ids.size); // nothing stored twice
    await new Promise((r) => setTimeout(r, 1000));
    expect(rig.gw.ready()).toBe(true);
  }, 90_000);
});
