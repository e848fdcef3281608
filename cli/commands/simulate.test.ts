// Proves `fleetstream simulate` runs end to end against a real Mosquitto (MQTT_URL or --url), prints its summary as JSON and rejects bad options with a clear message.
import { connectAsync } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, runCli, startMosquitto, type MosquittoHandle } from "../../testing/mod.ts";
import { fromConfig } from "../../simulator/options.ts";
import { planMessages } from "../../simulator/plan.ts";

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { MQTT_URL: "", ...env });

describe("fleetstream simulate", () => {
  let mq: MosquittoHandle;
  beforeAll(async () => {
    mq = await startMosquitto();
  });
  afterAll(async () => {
    await mq?.cleanup();
  });

  it("sends the seed's messages to the broker in MQTT_URL and prints the summary", async () => {
    const sub = await connectAsync(mq.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const got: string[] = [];
    sub.on("message", (t, p) => got.push(`${t} ${p}`));
    await sub.subscribeAsync("#", { qos: 1 });
    try {
      const startTs = Date.now();
      const args = ["simulate", "--devices", "3", "--vehicles", "1", "--rate", "20", "--count", "60", "--seed", "3", "--start-ts", String(startTs), "--duplicates", "0.1", "--malformed", "0.1"];
      const r = await cli(args, { MQTT_URL: mq.url });
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout.trim());
      expect(summary).toMatchObject({ seed: 3, startTs, sent: 60, acked: 60, errors: 0 });
      expect(r.stderr).toMatch(/simulate: done seed=3 /);
      const plan = planMessages({ ...fromConfig({ sensors: 3, vehicles: 1, rate: 20, count: 60, seed: 3, duplicates: 0.1, malformed: 0.1 }), startTs });
      const end = Date.now() + 5000;
      while (got.length < 60 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
      expect(got.sort()).toEqual(plan.map((m) => `${m.topic} ${m.payload}`).sort());
    } finally {
      await sub.endAsync();
    }
  });

  it("prints usage for --help and names the bad option otherwise", async () => {
    const help = await cli(["simulate", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--devices <n>/);
    const bad = await cli(["simulate", "--url", mq.url, "--disorder", "1.5", "--count", "1"]);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/disorder must be a fraction between 0 and 1, got 1.5/);
  });

  it("says, without a stack trace, that no broker answers and how to point it at one", async () => {
    const port = await freePort();
    const r = await cli(["simulate", "--url", `mqtt://dev:s3cret@127.0.0.1:${port}`, "--count", "1"]);
    expect(r.code).toBe(69);
    expect(r.stderr).toBe(`fleetstream simulate: cannot connect to the MQTT broker at mqtt://dev:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}: start a broker there, or give its URL with --url (or MQTT_URL)\n`);
  });
});
