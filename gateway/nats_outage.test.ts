// Proves: with nats-server stopped for 5 s mid-run and started again, every message whose publish the device got a PUBACK for ends up in TELEMETRY, on the broker intake (Mosquitto, MQTT 5) and the nats intake (nats-server's MQTT listener).
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, streamNames, type Config } from "../core/config.ts";
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from "../testing/mod.ts";
import { readStream, runThroughOutage, startGatewayRig, type GatewayRig } from "./test_workload.ts";

const TOTAL = 6000;
const RATE = 600; // msgs/s: the run lasts ~10 s, the outage starts at ~2 s and lasts 5 s

describe("NATS outage", () => {
  let ns: NatsServerHandle | undefined;
  let mosq: MosquittoHandle | undefined;
  let rig: GatewayRig | undefined;

  afterEach(async () => {
    await rig?.close();
    await Promise.all([ns?.cleanup(), mosq?.cleanup()]);
    ns = mosq = rig = undefined;
  });

  async function run(cfg: Config, deviceUrl: string, protocolVersion: 4 | 5) {
    const server = ns!;
    rig = await startGatewayRig(cfg, { url: deviceUrl, protocolVersion, clientId: `dev-outage-${cfg.intake}` });
    const r = await runThroughOutage(rig, cfg, { total: TOTAL, rate: RATE, devices: 20, prefix: "o" }, { down: () => server.stop(), up: () => server.start(), downMs: 5000 });
    expect(r.readyDuringOutage).toBe(false);
    // Some messages were acknowledged before, during or after the outage: the run spanned it.
    expect(r.acked.size).toBeGreaterThan(TOTAL / 2);
    const stored = new Set(r.stored);
    const missing = [...r.acked].filter((id) => !stored.has(id));
    if (missing.length && cfg.intake === "nats") {
      const raw = new Set((await readStream(rig.nc, streamNames(cfg).raw)).map((m) => JSON.parse(Buffer.from(m.data).toString()).id));
      console.log("missing", missing, "in raw:", missing.map((id) => raw.has(id.split(":")[1])), "raw size", raw.size);
    }
    expect(missing).toEqual([]);
    return { acked: r.acked.size, stored: stored.size };
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
