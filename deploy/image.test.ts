// Proves the image recipe (deploy/Dockerfile and .dockerignore) makes a working fleetstream image, as far
// as that can be shown without a Docker engine: the image's files and build steps, reproduced in a
// temporary directory; its gateway, processor, sink and fanout services started with the command and
// environment Docker Compose resolves compose.yaml to (credentials from .env.example), against nats-server
// and Mosquitto running the configs the stack ships (with authentication) and an InfluxDB v2 write API
// (VictoriaMetrics). Every service passes its compose healthcheck, and readings published with the .env
// credentials, over Mosquitto and over nats-server's own MQTT listener, reach the processor and the store.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectAsync } from "mqtt";
import { execFileSync, execSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../core/project_root.ts";
import { readVictoriaMetricsSamples } from "../processors/sinks/store_readers.ts";
import { freePort, removeDir, spawnManaged, startVictoriaMetrics, tempDir, type ManagedProcess, type StoreHandle } from "../testing/mod.ts";
import { composeConfig, envExample, type Resolved } from "./compose_config.ts";
import { startShippedMosquitto, startShippedNats, type ShippedServer } from "./shipped_servers.ts";

const SERVICES = ["gateway", "gateway-nats", "processor", "sink", "fanout"];
const READINGS = 40;

interface Dockerfile {
  workdir: string;
  env: Record<string, string>;
  run: string[];
  entrypoint: string[];
}

/** The instructions of deploy/Dockerfile this test reproduces (continuation lines joined, comments dropped). */
function readDockerfile(): Dockerfile {
  const text = readFileSync(join(PROJECT_ROOT, "deploy/Dockerfile"), "utf8").replace(/\\\n\s*/g, " ");
  const d: Dockerfile = { workdir: "/", env: {}, run: [], entrypoint: [] };
  for (const line of text.split("\n")) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, op, arg] = m as unknown as [string, string, string];
    if (op === "WORKDIR") d.workdir = arg;
    else if (op === "ENV") for (const kv of arg.split(/\s+/)) d.env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
    else if (op === "RUN") d.run.push(arg);
    else if (op === "ENTRYPOINT") d.entrypoint = JSON.parse(arg) as string[];
  }
  return d;
}

/** A .dockerignore pattern as a test on a path relative to the build context (Docker's rules: rooted, `**` any depth). */
function ignoreTest(pattern: string): (path: string) => boolean {
  const re = new RegExp(
    "^" +
      pattern
        .replace(/^\/+/, "")
        .split("**/")
        .map((part) => part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]"))
        .join("(?:.*/)?") +
      "(?:/.*)?$",
  );
  return (path) => re.test(path);
}

/** The build context as `COPY . .` sees it: the checkout's files minus what .dockerignore leaves out. */
function contextFiles(): string[] {
  const ignored = readFileSync(join(PROJECT_ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map(ignoreTest);
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: PROJECT_ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
  return files.filter((f) => !ignored.some((t) => t(f)));
}

describe("the fleetstream image, built without Docker from deploy/Dockerfile", () => {
  const dockerfile = readDockerfile();
  let image: string;
  let nats: ShippedServer & { mqttPort: number };
  let mqtt: ShippedServer;
  let store: StoreHandle;
  let resolved: Resolved;
  const procs = new Map<string, { proc: ManagedProcess; health: string }>();
  let nc: NatsConnection;

  beforeAll(async () => {
    image = tempDir("image");
    const files = contextFiles();
    for (const f of files) {
      mkdirSync(dirname(join(image, f)), { recursive: true });
      copyFileSync(join(PROJECT_ROOT, f), join(image, f));
    }
    // Each RUN step, in the image's working directory with its ENV. Two changes, neither in what the
    // image ends up with: npm may answer from the local cache, and the cache is not cleaned (it is
    // this machine's, not the image's).
    for (const step of dockerfile.run) {
      const cmd = step.replace(/\s*&&\s*npm cache clean --force/, "").replace(/\bnpm ci\b/, "npm ci --prefer-offline");
      execSync(cmd, { cwd: image, env: { ...process.env, ...dockerfile.env }, stdio: "pipe" });
    }
    [nats, mqtt, store] = await Promise.all([
      startShippedNats({ NATS_USER: envExample.NATS_USER!, NATS_PASS: envExample.NATS_PASS! }),
      startShippedMosquitto({ MQTT_USERNAME: envExample.MQTT_USERNAME!, MQTT_PASSWORD: envExample.MQTT_PASSWORD! }),
      startVictoriaMetrics(),
    ]);
    const r = composeConfig(envExample);
    if (!r.resolved) throw new Error(`docker compose config failed: ${r.stderr}`);
    resolved = r.resolved;
    // Where each compose service's container port is reachable here.
    const local: Record<string, string> = { "nats:4222": `127.0.0.1:${nats.port}`, "mosquitto:1883": `127.0.0.1:${mqtt.port}`, "influxdb:8086": new URL(store.url).host };
    const workdir = dockerfile.workdir.replace(/\/?$/, "/");
    for (const name of SERVICES) {
      const svc = resolved.services[name]!;
      const port = await freePort();
      const env: Record<string, string> = { PATH: process.env.PATH!, HOME: image, ...dockerfile.env, FLEETSTREAM_HTTP_PORT: String(port) };
      for (const [k, v] of Object.entries(svc.environment ?? {})) {
        env[k] = v.replace(/^(\w+:\/\/)([a-z0-9-]+:\d+)/, (all, scheme: string, hostPort: string) => (local[hostPort] ? scheme + local[hostPort] : all)).replace(workdir, `${image}/`);
      }
      // The healthcheck's URL, on this process's port (every container listens on the image's 9464).
      const health = /https?:\/\/[^'"\s]+/.exec(svc.healthcheck!.test.join(" "))![0].replace(`:${dockerfile.env.FLEETSTREAM_HTTP_PORT}/`, `:${port}/`);
      const [node, ...nodeArgs] = dockerfile.entrypoint;
      expect(node).toBe("node");
      procs.set(name, { proc: spawnManaged(process.execPath, [...nodeArgs, ...(svc.command ?? [])], { cwd: image, env }), health });
    }
    nc = await connect({ servers: `127.0.0.1:${nats.port}`, user: envExample.NATS_USER, pass: envExample.NATS_PASS });
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all([...procs.values()].map((p) => p.proc.stop(15_000)));
    await Promise.all([nats?.cleanup(), mqtt?.cleanup(), store?.cleanup()]);
    if (image) removeDir(image);
  });

  it("leaves tests, node_modules, .tools and .env out, and keeps what the services run", () => {
    const files = contextFiles();
    expect(files.filter((f) => f.endsWith(".test.ts"))).toEqual([]);
    expect(files.filter((f) => /^(node_modules|\.tools|\.git|data)\//.test(f) || f === ".env")).toEqual([]);
    for (const f of ["bin/fleetstream.js", "cli/main.ts", "deploy/fleetstream.yaml", "package-lock.json"]) expect(files).toContain(f);
  });

  it("every service passes its compose healthcheck", async () => {
    for (const [name, { proc, health }] of procs) {
      const deadline = Date.now() + 60_000;
      let status = 0;
      while (status !== 200 && Date.now() < deadline && proc.child.exitCode === null) {
        status = await fetch(health).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 250));
      }
      expect(status, `${name} (${health}) exited ${proc.child.exitCode}:\n${proc.output()}`).toBe(200);
    }
  }, 90_000);

  it("carries readings published with the .env credentials, to Mosquitto and to nats-server's MQTT listener, to the processor and to the store", async () => {
    const t0 = Date.now() - 60_000;
    const publish = async (url: string, username: string, password: string, prefix: string) => {
      const dev = await connectAsync(url, { username, password, protocolVersion: 4, clientId: `image-test-${prefix}`, reconnectPeriod: 0 });
      for (let i = 0; i < READINGS; i++) {
        await dev.publishAsync(`devices/${prefix}-${i % 4}/telemetry`, JSON.stringify({ ts: t0 + i * 1000, seq: i, metrics: { temperature: 20 + i / 10 } }), { qos: 1 });
      }
      await dev.endAsync();
    };
    await publish(`mqtt://127.0.0.1:${mqtt.port}`, envExample.MQTT_USERNAME!, envExample.MQTT_PASSWORD!, "mosq");
    await publish(`mqtt://127.0.0.1:${nats.mqttPort}`, envExample.NATS_USER!, envExample.NATS_PASS!, "nats");
    const want = 2 * READINGS;

    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + 45_000;
    let stored = 0;
    let processed = 0;
    while ((stored < want || processed < want) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      stored = [...(await readVictoriaMetricsSamples(store.url)).keys()].filter((k) => k.startsWith("sensor_reading,") && k.includes(" temperature@")).length;
      processed = 0;
      for await (const c of jsm.consumers.list("TELEMETRY")) if (/processor_telemetry_\d+$/.test(c.name)) processed += c.delivered.consumer_seq;
    }
    expect(stored, [...procs].map(([n, p]) => `${n}: ${p.proc.output()}`).join("\n")).toBe(want);
    expect(processed).toBe(want);
  }, 60_000);
});
