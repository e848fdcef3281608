// Proves, on Mosquitto with MQTT 3.1.1 and 5: the broker intake PUBACKs a message only once it and every earlier one are stored (the broker redelivers exactly the rest to the next session), and never has more than maxInFlight messages outstanding.
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { startMosquitto, type MosquittoHandle } from "../testing/mod.ts";
import type { Intake } from "./intake.ts";
import { createBrokerIntake } from "./intake_broker.ts";
import { connectMqtt } from "./test_workload.ts";

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each([4, 5] as const)("broker intake, MQTT protocol %i", (protocolVersion) => {
  let mosq: MosquittoHandle;
  let dev: MqttClient;
  beforeAll(async () => {
    mosq = await startMosquitto();
    dev = await connectMqtt(mosq.url, { protocolVersion, clientId: `dev-${protocolVersion}` });
  });
  afterAll(async () => {
    await dev?.endAsync(true);
    await mosq?.cleanup();
  });

  it("PUBACKs in arrival order, only for stored messages; the rest is redelivered", async () => {
    const pending = new Map<number, () => void>();
    const first: Intake = createBrokerIntake(
      {
        handle: (_t, payload) => new Promise<void>((resolve) => pending.set(Number(Buffer.from(payload).toString()), resolve)),
        log: silentLogger,
        clock: systemClock,
      },
      { url: mosq.url, clientId: `gw-order-${protocolVersion}`, filters: ["order/#"], protocolVersion, maxInFlight: 100 },
    );
    await first.start();
    for (let i = 0; i < 10; i++) await dev.publishAsync("order/x", String(i), { qos: 1 });
    await until(() => pending.size === 10);
    // Stored: 0, 1, 2 and 4. Not stored: 3 (so 4's PUBACK must wait behind it) and 5..9.
    for (const i of [0, 1, 2, 4]) pending.get(i)!();
    await new Promise((r) => setTimeout(r, 300));
    expect(first.inFlight).toBe(7);
    await first.stop(0);
    for (const i of [3, 5, 6, 7, 8, 9]) pending.get(i)!(); // after the session ended: must not be acknowledged

    const redelivered: number[] = [];
    const second = createBrokerIntake(
      { handle: async (_t, payload) => void redelivered.push(Number(Buffer.from(payload).toString())), log: silentLogger, clock: systemClock },
      { url: mosq.url, clientId: `gw-order-${protocolVersion}`, filters: ["order/#"], protocolVersion, maxInFlight: 100 },
    );
    await second.start();
    await until(() => redelivered.length >= 7);
    await new Promise((r) => setTimeout(r, 300));
    expect(redelivered.sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    await second.stop();
  });

  it("holds at most maxInFlight + 1 messages, then stops reading until one is stored", async () => {
    const pending: Array<() => void> = [];
    let handled = 0;
    const intake = createBrokerIntake(
      {
        handle: () => {
          handled++;
          return new Promise<void>((resolve) => pending.push(resolve));
        },
        log: silentLogger,
        clock: systemClock,
      },
      { url: mosq.url, clientId: `gw-bound-${protocolVersion}`, filters: ["bound/#"], protocolVersion, maxInFlight: 3 },
    );
    await intake.start();
    for (let i = 0; i < 20; i++) await dev.publishAsync("bound/x", String(i), { qos: 1 });
    await until(() => handled === 4);
    await new Promise((r) => setTimeout(r, 300));
    // The 4th message's callback is held: mqtt.js reads nothing more.
    expect(handled).toBe(4);
    // Store in order as they come; everything flows through with the bound respected.
    let maxOutstanding = 0;
    while (handled < 20 || pending.length > 0) {
      maxOutstanding = Math.max(maxOutstanding, intake.inFlight);
      const next = pending.shift();
      if (next) next();
      else await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setImmediate(r));
    }
    expect(handled).toBe(20);
    expect(maxOutstanding).toBeLessThanOrEqual(4);
    await until(() => intake.inFlight === 0);
    await intake.stop();
  });
});
