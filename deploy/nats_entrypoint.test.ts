// Proves deploy/nats/entrypoint.sh keeps nats-server's MQTT listener closed on a fresh store until the gateway (nats intake) reads the raw stream, then opens it, a device's QoS 1 reading reaching TELEMETRY through the restart; and that with the stream on disk it opens the listener at once.
import { jetstreamManager } from "@nats-io/jetstream";
import { connectAsync } from "mqtt";
import { createConnection } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { PROJECT_ROOT } from "../core/project_root.ts";
import { ensureStreams } from "../core/streams.ts";
import { createGateway } from "../gateway/gateway.ts";
import { removeDir, tempDir, waitForPort } from "../testing/process.ts";
import { envExample } from "./compose_config.ts";
import { startNatsEntrypoint, writeShippedNatsConfs } from "./shipped_servers.ts";

const creds = { NATS_USER: envExample.NATS_USER!, NATS_PASS: envExample.NATS_PASS! };

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const undo: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u();
});

/** An empty directory with the shipped nats configs (removed after the test). */
async function freshStore() {
  const dir = tempDir("nats-entrypoint");
  undo.push(() => removeDir(dir));
  return { dir, ports: await writeShippedNatsConfs(dir) };
}

describe("deploy/nats/entrypoint.sh", () => {
  it("opens the MQTT listener only once the gateway reads the raw stream, and at once when it already does", async () => {
    const { dir, ports } = await freshStore();
    const first = await startNatsEntrypoint(dir, ports, creds);
    undo.push(() => first.stop());

    // JetStream is up (the compose healthcheck passes), the devices' port is not.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await listening(ports.mqttPort)).toBe(false);

    const cfg = loadConfig({ path: join(PROJECT_ROOT, "deploy/fleetstream.yaml"), env: { NATS_URL: `nats://127.0.0.1:${ports.port}`, ...creds } });
    expect(cfg.intake).toBe("nats");
    const nc = await connectNats(cfg.nats, silentLogger, "entrypoint-test");
    undo.push(() => nc.close());
    await ensureStreams(nc, cfg); // as `fleetstream gateway` does before it starts
    const jsm = await jetstreamManager(nc);
    const gw = createGateway({ nc, cfg, log: silentLogger, registry: createRegistry() });
    await gw.start();
    undo.push(() => gw.stop());

    await waitForPort(ports.mqttPort, 20_000);
    expect(first.output()).toContain("restarting with the MQTT listener");
    const dev = await connectAsync(`mqtt://127.0.0.1:${ports.mqttPort}`, { username: creds.NATS_USER, password: creds.NATS_PASS, protocolVersion: 4, clientId: "entrypoint-dev", reconnectPeriod: 250 });
    undo.push(() => dev.endAsync(true));
    await dev.publishAsync("devices/dev-1/telemetry", JSON.stringify({ id: "r1", ts: new Date().toISOString(), metrics: { temperature: 21.5 } }), { qos: 1 });

    // The gateway came through nats-server's restart and stored the reading. Not waitForCount, which
    // throws on a failed request: the first one goes out while this client is still reconnecting, and
    // nats.js drops what is sent then (see core/on_reconnect.ts), so it times out (5 s, every run here).
    const telemetry = streamNames(cfg).telemetry;
    const deadline = Date.now() + 20_000;
    let stored = 0;
    while (Date.now() < deadline && stored < 1) {
      stored = (await jsm.streams.info(telemetry).catch(() => undefined))?.state.messages ?? 0;
      if (stored < 1) await new Promise((r) => setTimeout(r, 200));
    }
    expect(stored).toBe(1);

    for (const u of undo.splice(1).reverse()) await u(); // everything but the directory
    expect(await listening(ports.port)).toBe(false);

    const second = await startNatsEntrypoint(dir, ports, creds);
    undo.push(() => second.stop());
    await waitForPort(ports.mqttPort, 5_000);
    expect(second.output()).not.toContain("no consumer of");
  }, 60_000);

  it("stops on SIGTERM while it waits for the gateway", async () => {
    const { dir, ports } = await freshStore();
    const proc = await startNatsEntrypoint(dir, ports, creds);
    undo.push(() => proc.kill());
    expect(proc.output()).toContain("no consumer of MQTT_RAW yet");
    const code = new Promise<number | null>((r) => proc.child.once("exit", (c) => r(c)));
    proc.child.kill("SIGTERM");
    expect(await code).toBe(143);
    // nats-server went with it.
    expect(await listening(ports.port)).toBe(false);
  }, 30_000);
});
