// Proves: kill -9 of the gateway process at a random moment of a 20,000-message QoS 1 run through Mosquitto (MQTT 3.1.1, persistent session), then a restart, stores every message exactly once.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import { ensureStreams } from "../core/streams.ts";
import { freePort, removeDir, spawnManaged, startMosquitto, startNatsServer, tempDir, type ManagedProcess, type MosquittoHandle, type NatsServerHandle } from "../testing/mod.ts";
import { connectMqtt, readStream, sendQos1, waitForCount, type WorkloadMessage } from "./test_workload.ts";

const TOTAL = 20_000;
const root = join(import.meta.dirname, "..");

async function waitReady(port: number, proc: ManagedProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (proc.child.exitCode !== null) throw new Error(`gateway exited: ${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`gateway not ready after ${timeoutMs} ms: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("gateway crash", () => {
  let ns: NatsServerHandle;
  let mosq: MosquittoHandle;
  let nc: NatsConnection;
  let dir: string;
  let gw: ManagedProcess | undefined;

  beforeAll(async () => {
    [ns, mosq] = await Promise.all([startNatsServer(), startMosquitto()]);
    nc = await connect({ servers: ns.url });
    dir = tempDir("gw-crash");
  });
  afterAll(async () => {
    await gw?.kill();
    await nc?.close();
    await Promise.all([ns?.cleanup(), mosq?.cleanup()]);
    removeDir(dir);
  });

  it("kill -9 mid-run and restart: stream count == distinct ids == sent", async () => {
    const configPath = join(dir, "fleetstream.yaml");
    writeFileSync(configPath, ["intake: broker", "mqtt:", "  protocolVersion: 4", "  clientId: gw-crash", "gateway:", "  maxInFlight: 1000", ""].join("\n"));
    const port = await freePort();
    const env = {
      ...process.env,
      NATS_URL: ns.url,
      MQTT_URL: mosq.url,
      FLEETSTREAM_STREAM_PREFIX: "CRASH_",
      FLEETSTREAM_HTTP_PORT: String(port),
      FLEETSTREAM_LOG_LEVEL: "warn",
    };
    const cfg = loadConfig({ path: configPath, env });
    await ensureStreams(nc, cfg);
    const spawnGateway = () => spawnManaged(process.execPath, ["--import", "tsx", "cli/main.ts", "gateway", "--config", configPath], { cwd: root, env });
    gw = spawnGateway();
    await waitReady(port, gw);

    const messages: WorkloadMessage[] = Array.from({ length: TOTAL }, (_, i) => ({
      topic: `devices/c${i % 50}/telemetry`,
      payload: Buffer.from(JSON.stringify({ id: `m${i}`, ts: Date.now(), metrics: { v: i } })),
    }));
    const dev = await connectMqtt(mosq.url, { protocolVersion: 4, clientId: "dev-crash" });
    const jsm = await jetstreamManager(nc);
    const names = streamNames(cfg);
    // Kill when a random share of the run is stored: the gateway is surely mid-stream then.
    const killAt = 2000 + Math.floor(Math.random() * 14_000);
    let storedAtKill = -1;
    const killer = (async () => {
      for (;;) {
        const n = (await jsm.streams.info(names.telemetry)).state.messages;
        if (n >= killAt) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await gw!.kill();
      storedAtKill = (await jsm.streams.info(names.telemetry)).state.messages;
      await new Promise((r) => setTimeout(r, 200));
      gw = spawnGateway();
      await waitReady(port, gw);
    })();
    const sent = sendQos1(dev, messages, 200);
    await Promise.all([sent, killer]);
    await dev.endAsync();
    expect(storedAtKill).toBeGreaterThanOrEqual(killAt);
    expect(storedAtKill).toBeLessThan(TOTAL);
    expect(await waitForCount(nc, names.telemetry, TOTAL, 45_000)).toBe(TOTAL);
    await new Promise((r) => setTimeout(r, 500));
    const stored = await readStream(nc, names.telemetry);
    const ids = new Set(stored.map((m) => m.headers["ce-id"]));
    expect(stored.length).toBe(TOTAL);
    expect(ids.size).toBe(TOTAL);
    expect(ids).toEqual(new Set(messages.map((_, i) => `c${i % 50}:m${i}`)));
    // The restarted gateway got the redeliveries: what the first stored but never acknowledged shows up as duplicates.
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const received = Number(/^fleetstream_gateway_received_total\{intake="broker"\} (\d+)/m.exec(text)?.[1]);
    const duplicates = Number(/^fleetstream_gateway_duplicates_total (\d+)/m.exec(text)?.[1]);
    console.log(`killed at ${storedAtKill} stored; restarted gateway received ${received}, duplicates ${duplicates}`);
    expect(received).toBeGreaterThanOrEqual(TOTAL - storedAtKill);
    await gw!.stop();
    expect(gw!.child.exitCode).toBe(0);
  });
});
