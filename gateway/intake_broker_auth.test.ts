// Proves, on Mosquitto with password auth and MQTT 3.1.1 and 5: credentials refused at start stop the
// broker intake with a config error naming the keys (and not the password); a refusal after it ran
// (the broker restarted without the user) is retried until the broker takes the user again, and
// messages flow once more.
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../core/clock.ts";
import { ConfigError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { startMosquitto, type MosquittoHandle } from "../testing/mod.ts";
import { createBrokerIntake } from "./intake_broker.ts";
import { connectMqtt } from "./test_workload.ts";

describe.each([4, 5] as const)("broker intake with password auth, MQTT protocol %i", (protocolVersion) => {
  let mosq: MosquittoHandle | undefined;
  afterEach(async () => {
    await mosq?.cleanup();
    mosq = undefined;
  });

  const intakeOn = (m: MosquittoHandle, password: string, handle: (payload: string) => void = () => {}) =>
    createBrokerIntake(
      { handle: async (_t, payload) => handle(Buffer.from(payload).toString()), log: silentLogger, clock: systemClock },
      { url: m.url, clientId: `gw-auth-${protocolVersion}`, filters: ["auth/#"], protocolVersion, maxInFlight: 10, username: "gw", password, reconnectPeriod: 100 },
    );

  it("refuses to start with wrong credentials, naming the keys to fix and not the password", async () => {
    mosq = await startMosquitto({ autosaveInterval: 1, users: { gw: "right-pass" } });
    const intake = intakeOn(mosq, "wrong-pass");
    const err = await intake.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("mqtt.username");
    expect((err as Error).message).toMatch(/^MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the connection \(.+, code (5|135)\): check MQTT_USERNAME and MQTT_PASSWORD/);
    expect((err as Error).message).not.toMatch(/right-pass|wrong-pass/);
    await intake.stop();
  });

  it("keeps trying when the broker refuses it later, and takes messages again once it is let in", async () => {
    mosq = await startMosquitto({ autosaveInterval: 1, users: { gw: "right-pass", dev: "dev-pass" } });
    const got: string[] = [];
    const intake = intakeOn(mosq, "right-pass", (p) => got.push(p));
    await intake.start();
    try {
      // The broker comes back without the gateway's user: its CONNECTs are refused for a while.
      await mosq.stop();
      mosq.setUsers({ dev: "dev-pass" });
      await mosq.start();
      await new Promise((r) => setTimeout(r, 1000));
      expect(intake.notReady()).toBe("mqtt broker not connected");
      await mosq.stop();
      mosq.setUsers({ gw: "right-pass", dev: "dev-pass" });
      await mosq.start();
      const deadline = Date.now() + 10_000;
      while (intake.notReady() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(intake.notReady()).toBeUndefined();
      const dev = await connectMqtt(mosq.url, { protocolVersion, clientId: `dev-auth-${protocolVersion}`, username: "dev", password: "dev-pass" });
      await dev.publishAsync("auth/x", "after", { qos: 1 });
      await dev.endAsync();
      while (!got.includes("after") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(got).toContain("after");
    } finally {
      await intake.stop();
    }
  }, 30_000);
});
