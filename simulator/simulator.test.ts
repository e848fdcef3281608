// Proves a simulator run delivers exactly its seed's plan through a real Mosquitto (and nats-server's MQTT listener), faults in the configured ratios.
import { connectAsync, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMosquitto, startNatsServer, type MosquittoHandle } from "../testing/mod.ts";
import { fromConfig } from "./options.ts";
import { planMessages } from "./plan.ts";
import { createSimulator } from "./simulator.ts";

interface Got {
  topic: string;
  payload: string;
}

async function subscribeAll(url: string, filter: string): Promise<{ client: MqttClient; got: Got[] }> {
  const client = await connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const got: Got[] = [];
  client.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, got };
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

const key = (m: Got) => `${m.topic}\n${m.payload}`;

describe("simulator over Mosquitto", () => {
  let mq: MosquittoHandle;
  beforeAll(async () => {
    mq = await startMosquitto();
  });
  afterAll(async () => {
    await mq?.cleanup();
  });

  it("delivers exactly the planned messages, faults in roughly the configured ratios", async () => {
    const { client, got } = await subscribeAll(mq.url, "#");
    try {
      const opts = fromConfig({
        url: mq.url,
        sensors: 6,
        vehicles: 3,
        owntracks: 1,
        zigbee: 1,
        rate: 50,
        duration: 3000,
        seed: 42,
        prefix: "it-",
        startTs: Date.now(),
        disorder: 0.1,
        duplicates: 0.1,
        malformed: 0.05,
        offline: 0.5,
        offlineDuration: 400,
        progressInterval: 500,
      });
      const lines: string[] = [];
      const summary = await createSimulator({ ...opts, write: (l) => lines.push(l) }).run();
      const plan = planMessages({ ...opts, startTs: summary.startTs });

      expect(summary.sent).toBe(plan.length);
      expect(summary.acked).toBe(plan.length);
      expect(summary.errors).toBe(0);
      expect(summary.events).toBe(11 * 150);
      expect(summary.stopped).toBe(false);
      await until(() => got.length >= plan.length);
      expect(got.length).toBe(plan.length);
      expect(got.map(key).sort()).toEqual(plan.map(key).sort());
      // Per topic, the broker keeps the order the plan sent them in.
      for (const t of new Set(plan.map((m) => m.topic))) {
        expect(got.filter((m) => m.topic === t).map((m) => m.payload)).toEqual(plan.filter((m) => m.topic === t).map((m) => m.payload));
      }

      // Ratios measured on what arrived.
      let parsedBad = 0;
      let dups = 0;
      let lateReadings = 0;
      let readings = 0;
      const seen = new Set<string>();
      const maxSeq = new Map<string, number>();
      for (const m of got) {
        const k = key(m);
        if (seen.has(k)) {
          dups++;
          continue;
        }
        seen.add(k);
        let body: unknown;
        try {
          body = JSON.parse(m.payload);
        } catch {
          parsedBad++;
          continue;
        }
        const seq = (body as { seq?: number }).seq;
        if (typeof seq === "number") {
          readings++;
          if (seq < (maxSeq.get(m.topic) ?? -1)) lateReadings++;
          maxSeq.set(m.topic, Math.max(seq, maxSeq.get(m.topic) ?? -1));
        }
      }
      const malformed = plan.filter((m) => m.kind === "malformed").length;
      expect(malformed / (11 * 150)).toBeGreaterThan(0.02);
      expect(malformed / (11 * 150)).toBeLessThan(0.08);
      expect(parsedBad).toBe(plan.filter((m) => m.reason === "malformed_json").length);
      // A re-sent malformed message is never planned; other duplicates ~10 %, give or take sampling noise.
      expect(dups / got.length).toBeGreaterThan(0.06);
      expect(dups / got.length).toBeLessThan(0.14);
      expect(lateReadings / readings).toBeGreaterThan(0.05);
      expect(lateReadings / readings).toBeLessThan(0.15);
      expect(summary.batches).toBeGreaterThan(0);
      expect(lines.some((l) => /^simulate: sent=\d+ acked=\d+ errors=0 inflight=\d+ rate=\d+\/s/.test(l))).toBe(true);
      expect(lines.at(-1)).toMatch(/^simulate: done seed=42 /);
    } finally {
      await client.endAsync();
    }
  });

  it("stops early on stop() and resolves with what was sent", async () => {
    const sim = createSimulator(fromConfig({ url: mq.url, sensors: 2, vehicles: 0, rate: 10, seed: 1, progressInterval: 0, write: () => {} }));
    expect(sim.stats().sent).toBe(0);
    const done = sim.run();
    await new Promise((r) => setTimeout(r, 700));
    const mid = sim.stats();
    expect(mid.sent).toBeGreaterThan(0);
    expect(mid.elapsedMs).toBeGreaterThan(0);
    sim.stop();
    const s = await done;
    expect(s.stopped).toBe(true);
    expect(s.sent).toBeGreaterThan(4);
    expect(s.sent).toBeLessThan(40);
    expect(sim.stats()).toEqual(s);
  });

  it("fails with a clear error when the broker is not there", async () => {
    const sim = createSimulator(fromConfig({ url: "mqtt://127.0.0.1:1", sensors: 1, count: 1, progressInterval: 0, write: () => {} }));
    await expect(sim.run()).rejects.toThrow(/cannot connect to the MQTT broker at mqtt:\/\/127.0.0.1:1/);
  });
});

describe("simulator over nats-server's MQTT listener (MQTT 3.1.1)", () => {
  it("gets every QoS 1 message acknowledged with the default protocol version", async () => {
    const ns = await startNatsServer({ mqtt: true });
    try {
      const { client, got } = await subscribeAll(ns.mqttUrl!, "devices/#");
      try {
        const s = await createSimulator(fromConfig({ url: ns.mqttUrl!, sensors: 3, vehicles: 1, rate: 20, count: 100, seed: 9, progressInterval: 0, write: () => {} })).run();
        expect(s.acked).toBe(100);
        await until(() => got.length >= 100);
        expect(got).toHaveLength(100);
      } finally {
        await client.endAsync();
      }
    } finally {
      await ns.cleanup();
    }
  });
});
