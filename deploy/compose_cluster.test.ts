// Proves deploy/compose.cluster.yaml: Docker Compose v2 resolves it over compose.yaml (and with the
// processors overlay); every fleetstream service gets every node and three replicas and waits for all
// nodes; the nodes are what cluster.conf routes to, each with its own name and volume. And run as the
// overlay runs them (nats-1 through entrypoint.sh on cluster.conf, then cluster-mqtt.conf), the nodes
// take the nats intake's streams on all three and a device's QoS 1 reading on nats-1's MQTT listener
// reaches TELEMETRY.
import { jetstreamManager } from "@nats-io/jetstream";
import { connectAsync } from "mqtt";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { PROJECT_ROOT } from "../core/project_root.ts";
import { ensureStreams } from "../core/streams.ts";
import { createGateway } from "../gateway/gateway.ts";
import { waitForJetStreamPeers } from "../testing/nats_cluster.ts";
import { waitForPort } from "../testing/process.ts";
import { composeConfig, envExample, type ResolvedService } from "./compose_config.ts";
import { startShippedNatsCluster } from "./shipped_servers.ts";

const FILES = ["compose.yaml", "deploy/compose.cluster.yaml"];
const creds = { NATS_USER: envExample.NATS_USER!, NATS_PASS: envExample.NATS_PASS! };

type Service = ResolvedService & {
  image?: string;
  hostname?: string;
  networks?: Record<string, { aliases?: string[] } | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<{ type: string; source: string; target: string }>;
};

/** The hosts cluster.conf routes to (nats-1, nats-2, nats-3). */
const routeHosts = [...readFileSync(join(PROJECT_ROOT, "deploy/nats/cluster.conf"), "utf8").matchAll(/nats-route:\/\/([\w-]+):6222/g)].map((m) => m[1]!);

describe("deploy/compose.cluster.yaml", () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const u of undo.splice(0).reverse()) await u();
  });

  it("resolves over compose.yaml, alone and with the processors overlay, without a warning", () => {
    for (const files of [FILES, ["compose.yaml", "deploy/compose.processors.yaml", "deploy/compose.cluster.yaml"]]) {
      const r = composeConfig(envExample, files);
      expect(r.stderr, files.join(" + ")).toBe("");
      expect(r.status).toBe(0);
    }
  });

  it("gives every fleetstream service all nodes and three replicas; the nodes are what cluster.conf routes to", () => {
    const services = composeConfig(envExample, FILES).resolved!.services as Record<string, Service>;
    expect(routeHosts).toEqual(["nats-1", "nats-2", "nats-3"]);
    // Each route host is one service, by its hostname and a name other containers resolve.
    const nodeOf = (host: string) =>
      Object.entries(services).find(([name, s]) => s.hostname === host && (name === host || Object.values(s.networks ?? {}).some((n) => n?.aliases?.includes(host))));
    const nodes = routeHosts.map((h) => nodeOf(h));
    expect(nodes.map((n) => n?.[0])).toEqual(["nats", "nats-2", "nats-3"]);
    const dataVolumes = new Set<string>();
    for (const [i, node] of nodes.entries()) {
      const [name, s] = node!;
      expect(s.environment!.NATS_SERVER_NAME, name).toBe(routeHosts[i]);
      expect(s.environment).toMatchObject(creds);
      const mounts = Object.fromEntries((s.volumes ?? []).map((v) => [v.target, v]));
      // cluster.conf and what it includes, where it includes them from.
      for (const f of ["cluster.conf", "nats.conf"]) expect(mounts[`/etc/nats/${f}`]?.source, `${name} ${f}`).toBe(join(PROJECT_ROOT, "deploy/nats", f));
      expect(mounts["/data"]?.type).toBe("volume");
      dataVolumes.add(mounts["/data"]!.source);
      expect(s.healthcheck?.test.join(" ")).toContain("/healthz");
    }
    expect(dataVolumes.size).toBe(3);
    // nats-1 keeps the entrypoint, now on the cluster's configs.
    expect(services.nats!.environment).toMatchObject({ NATS_CONF: "cluster.conf", NATS_MQTT_CONF: "cluster-mqtt.conf" });
    expect(services.nats!.ports?.map((p) => p.target).sort()).toEqual([1883, 4222, 8222]);

    const fleetstream = Object.entries(services).filter(([, s]) => s.image === "fleetstream:local");
    expect(fleetstream.map(([n]) => n).sort()).toEqual(["fanout", "gateway", "gateway-nats", "processor", "sink"]);
    for (const [name, s] of fleetstream) {
      const cfg = loadConfig({ path: join(PROJECT_ROOT, "deploy/fleetstream.yaml"), env: s.environment! });
      expect(cfg.nats.url.split(",").map((u) => new URL(u).hostname), name).toEqual(routeHosts);
      expect(cfg.streams.replicas, name).toBe(3);
      for (const [node] of nodes.map((n) => n!)) expect(s.depends_on?.[node]?.condition, `${name} on ${node}`).toBe("service_healthy");
    }
  });

  it("run as the overlay runs them, the nodes take the streams on all three and nats-1's MQTT listener opens for devices", async () => {
    const cluster = await startShippedNatsCluster(creds, { entrypoint: true });
    undo.push(() => cluster.cleanup());
    const env = (composeConfig(envExample, FILES).resolved!.services["gateway-nats"] as Service).environment!;
    const cfg = loadConfig({
      path: join(PROJECT_ROOT, "deploy/fleetstream.yaml"),
      env: { ...env, NATS_URL: cluster.url },
      // compose's 8 GiB per stream, three times over, is more than a test machine should reserve.
      overrides: { streams: { maxBytes: 64 * 1024 * 1024 } },
    });
    expect(cfg.intake).toBe("nats");
    const nc = await connectNats(cfg.nats, silentLogger, "compose-cluster-test");
    undo.push(() => nc.close());
    await waitForJetStreamPeers(nc, 3);
    await ensureStreams(nc, cfg); // as `fleetstream gateway` does before it starts
    const gw = createGateway({ nc, cfg, log: silentLogger, registry: createRegistry() });
    await gw.start();
    undo.push(() => gw.stop());

    const nats1 = cluster.nodes[0]!;
    await waitForPort(nats1.ports.mqttPort, 20_000);
    expect(nats1.proc.output()).toContain("restarting with the MQTT listener");
    const jsm = await jetstreamManager(nc);
    for (const stream of [streamNames(cfg).telemetry, streamNames(cfg).raw]) {
      const info = await jsm.streams.info(stream);
      expect([info.cluster!.leader, ...(info.cluster!.replicas ?? []).map((r) => r.name)].sort(), stream).toEqual(routeHosts);
    }

    const dev = await connectAsync(`mqtt://127.0.0.1:${nats1.ports.mqttPort}`, { username: creds.NATS_USER, password: creds.NATS_PASS, protocolVersion: 4, clientId: "cluster-dev", reconnectPeriod: 250 });
    undo.push(() => dev.endAsync(true));
    await dev.publishAsync("devices/dev-1/telemetry", JSON.stringify({ id: "r1", ts: new Date().toISOString(), metrics: { temperature: 21.5 } }), { qos: 1 });
    // The gateway's client came through nats-1's restart (to the MQTT config) on the other nodes.
    const deadline = Date.now() + 20_000;
    let stored = 0;
    while (Date.now() < deadline && stored < 1) {
      stored = (await jsm.streams.info(streamNames(cfg).telemetry).catch(() => undefined))?.state.messages ?? 0;
      if (stored < 1) await new Promise((r) => setTimeout(r, 200));
    }
    expect(stored).toBe(1);
  }, 90_000);
});
