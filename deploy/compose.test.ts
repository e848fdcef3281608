// Proves compose.yaml is wired right (health-gated dependencies, unique ports, .env.example covers every variable, pinned images, mounts that exist), that Docker Compose v2 itself resolves it (and refuses it without credentials), and that the shipped nats/Mosquitto configs work on the real servers.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, connectAsync } from "mqtt";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../core/config.ts";
import { streamSpecs } from "../core/streams.ts";
import { binaries } from "../testing/mod.ts";
import { composeConfig, CREDENTIALS, envExample } from "./compose_config.ts";
import { startShippedMosquitto } from "./shipped_servers.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const composeText = readFileSync(join(ROOT, "compose.yaml"), "utf8");

interface Service {
  image?: string;
  build?: unknown;
  container_name?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;

/** compose.yaml with .env.example, as Docker Compose itself interpolates it (the raw file keeps `${VAR:-default}`). */
const resolved = composeConfig(envExample).resolved!.services;

describe("compose.yaml", () => {
  it("has the cloud services, each with a healthcheck", () => {
    for (const name of ["nats", "mosquitto", "influxdb", "grafana", "prometheus", "gateway", "gateway-nats", "processor", "sink", "fanout"]) {
      expect(services[name], name).toBeDefined();
      expect(services[name]!.healthcheck?.test.length, `${name} healthcheck`).toBeGreaterThan(0);
    }
  });

  it("gates every dependency on an existing service's health", () => {
    let edges = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        edges++;
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(services[dep]!.healthcheck, `${dep} (needed by ${name}) has no healthcheck`).toBeDefined();
        expect(cond.condition, `${name} -> ${dep}`).toBe("service_healthy");
      }
    }
    expect(edges).toBeGreaterThanOrEqual(6);
    expect(Object.keys(services.gateway!.depends_on!)).toEqual(expect.arrayContaining(["nats", "mosquitto"]));
    expect(Object.keys(services.processor!.depends_on!)).toEqual(expect.arrayContaining(["nats"]));
    expect(Object.keys(services.sink!.depends_on!)).toEqual(expect.arrayContaining(["nats", "influxdb"]));
  });

  it("publishes every host port once", () => {
    const hostPorts = Object.values(resolved).flatMap((s) => (s.ports ?? []).map((p) => p.published));
    expect(hostPorts.length).toBeGreaterThanOrEqual(6);
    for (const p of hostPorts) expect(p).toMatch(/^\d+$/);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("takes every variable it references from .env.example, and .env stays out of git", () => {
    const vars = [...composeText.replace(/\$\$/g, "").matchAll(/\$\{([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    expect(vars.length).toBeGreaterThan(10);
    for (const v of vars) expect(Object.keys(envExample), `\${${v}} is not in .env.example`).toContain(v);
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n")).toContain(".env");
    // Secrets are never written into compose.yaml itself, and have no default to fall back on.
    for (const [name, s] of Object.entries(services))
      for (const [k, v] of Object.entries(s.environment ?? {}))
        if (/PASS|PASSWORD|TOKEN/.test(k)) expect(String(v), `${name}.${k}`).toMatch(/^\$\{[A-Z0-9_]+:\?[^}]+\}$/);
  });

  it("bind-mounts only files that exist in the repository, and declares its named volumes", () => {
    let binds = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const [src] = v.split(":");
        if (src!.startsWith(".") || src!.startsWith("/")) {
          binds++;
          expect(existsSync(join(ROOT, src!)), `${name}: ${src} does not exist`).toBe(true);
        } else {
          expect(compose.volumes, `${name}: volume ${src} is not declared`).toHaveProperty(src!);
        }
      }
    }
    expect(binds).toBeGreaterThanOrEqual(8);
  });

  it("pins every image (no :latest, at least major.minor)", () => {
    for (const [name, s] of Object.entries(services)) {
      if (!s.image || s.build) continue; // built from deploy/Dockerfile
      const tag = s.image.split(":")[1];
      expect(tag, `${name}: ${s.image}`).toBeDefined();
      expect(tag, `${name}: ${s.image}`).not.toMatch(/latest/);
      expect(tag, `${name}: ${s.image}`).toMatch(/^v?\d+\.\d+/);
    }
    expect(services.nats!.image).toMatch(/^nats:2\.10\./);
    expect(services.mosquitto!.image).toMatch(/^eclipse-mosquitto:2\.0\./);
    expect(services.influxdb!.image).toMatch(/^influxdb:2\.7\./);
  });

  it("points the gateway and processors at the nats service (and Mosquitto, InfluxDB)", () => {
    for (const name of ["gateway", "processor", "sink", "fanout"]) {
      const env = services[name]!.environment!;
      expect(new URL(env.NATS_URL!).hostname).toBe("nats");
      expect(services[new URL(env.NATS_URL!).hostname]).toBeDefined();
      expect(services[name]!.build).toBeDefined();
      expect(services[name]!.command?.[0]).toBe(name);
    }
    expect(new URL(services.gateway!.environment!.MQTT_URL!).hostname).toBe("mosquitto");
    // nats-server PUBACKs its MQTT listener's QoS 1 messages whether or not anything stores them: the
    // listener is on, so a gateway with the nats intake (no MQTT_URL) runs beside the Mosquitto one.
    // Through deploy/nats/entrypoint.sh, which opens it once gateway-nats reads the raw stream (nats_entrypoint.test.ts).
    expect((services.nats as Service & { entrypoint?: string[] }).entrypoint).toEqual(["/bin/sh", "/fleetstream/entrypoint.sh"]);
    expect(services.nats!.volumes).toEqual(
      expect.arrayContaining(["./deploy/nats/entrypoint.sh:/fleetstream/entrypoint.sh:ro", "./deploy/nats/nats-mqtt.conf:/etc/nats/nats-mqtt.conf:ro", "./deploy/nats/mqtt.conf:/etc/nats/mqtt.conf:ro"]),
    );
    expect(readFileSync(join(ROOT, "deploy/nats/nats-mqtt.conf"), "utf8")).toMatch(/^include \.\/mqtt\.conf$/m);
    expect(readFileSync(join(ROOT, "deploy/nats/mqtt.conf"), "utf8")).toMatch(/^mqtt \{/m);
    const gwNats = services["gateway-nats"]!;
    expect(gwNats.command).toEqual(["gateway"]);
    expect(new URL(gwNats.environment!.NATS_URL!).hostname).toBe("nats");
    expect(gwNats.environment!.MQTT_URL).toBeUndefined();
    expect(gwNats.environment!.FLEETSTREAM_GATEWAY_ID).not.toBe(services.gateway!.environment!.FLEETSTREAM_GATEWAY_ID);
    const natsIntake = loadConfig({ path: join(ROOT, "deploy/fleetstream.yaml"), env: resolved["gateway-nats"]!.environment! });
    expect(natsIntake.intake).toBe("nats");
    expect(new URL(services.sink!.environment!.INFLUX_URL!).hostname).toBe("influxdb");
    expect(services.sink!.environment!.INFLUX_TOKEN).toMatch(/^\$\{INFLUX_TOKEN:\?/);
    // Processors scale: no fixed name or host port.
    expect(services.processor!.container_name).toBeUndefined();
    expect(services.processor!.ports).toBeUndefined();
    const cli = readFileSync(join(ROOT, "cli/main.ts"), "utf8");
    for (const c of ["gateway", "processor", "sink", "fanout"]) expect(cli).toMatch(new RegExp(`\\b${c}: \\(\\) => import`));
  });

  it("provisions Grafana from dashboards/", () => {
    const g = services.grafana!;
    const mounts = Object.fromEntries((g.volumes ?? []).map((v) => v.split(":")).map(([src, dst]) => [dst!, src!]));
    expect(mounts["/etc/grafana/provisioning/datasources"]).toBe("./dashboards/provisioning/datasources");
    expect(mounts["/etc/grafana/provisioning/dashboards"]).toBe("./dashboards/provisioning/dashboards");
    const provider = parse(readFileSync(join(ROOT, "dashboards/provisioning/dashboards/fleetstream.yaml"), "utf8")) as { providers: Array<{ options: { path: string } }> };
    expect(mounts[provider.providers[0]!.options.path]).toBe("./dashboards/json");
    // The datasource file's ${VARS} are set in Grafana's environment.
    const ds = readFileSync(join(ROOT, "dashboards/provisioning/datasources/fleetstream.yaml"), "utf8");
    for (const [, v] of ds.matchAll(/\$\{([A-Z0-9_]+)\}/g)) expect(Object.keys(g.environment!), `grafana env ${v}`).toContain(v);
    expect(g.environment!.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  });

  it("scrapes the gateway and processor services' /metrics port", () => {
    const prom = parse(readFileSync(join(ROOT, "deploy/prometheus/prometheus.yml"), "utf8")) as { scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }> };
    const targets = prom.scrape_configs.flatMap((c) => c.dns_sd_configs ?? []);
    expect(targets.flatMap((t) => t.names).sort()).toEqual(["fanout", "gateway", "gateway-nats", "processor", "processor-b", "sink"]);
    for (const t of targets) expect(t.port).toBe(9464);
    const dockerfile = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toMatch(/FLEETSTREAM_HTTP_PORT=9464/);
  });

  it("splits partitions between processors: one owner each, all covered (default and with deploy/compose.processors.yaml)", () => {
    const parts = (cmd: string[] | undefined) => cmd![cmd!.indexOf("--partitions") + 1]!.split(",").map(Number);
    expect(parts(resolved.processor!.command)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The overlay's command replaces the base one (Compose merge rules), so the partitions split.
    const overlay = composeConfig(envExample, ["compose.yaml", "deploy/compose.processors.yaml"]).resolved!.services;
    expect([...parts(overlay.processor!.command), ...parts(overlay["processor-b"]!.command)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const override = parse(readFileSync(join(ROOT, "deploy/compose.processors.yaml"), "utf8")) as { services: Record<string, Service> };
    const b = override.services["processor-b"]!;
    expect(b.environment).toEqual(services.processor!.environment);
    expect(b.image).toBe(services.processor!.image);
    for (const v of b.volumes ?? []) expect(existsSync(join(ROOT, v.split(":")[0]!))).toBe(true);
    for (const dep of Object.keys(b.depends_on ?? {})) expect(services[dep]?.healthcheck).toBeDefined();
    expect(b.healthcheck).toEqual(services.processor!.healthcheck);
    const streamsCfg = parse(readFileSync(join(ROOT, "deploy/fleetstream.yaml"), "utf8")) as { streams: { partitions: number } };
    expect(streamsCfg.streams.partitions).toBe(8);
  });

  it("ships a deploy/fleetstream.yaml that the config loader accepts", () => {
    const cfg = loadConfig({ path: join(ROOT, "deploy/fleetstream.yaml"), env: { NATS_URL: "nats://nats:4222", MQTT_URL: "mqtt://mosquitto:1883" } });
    expect(cfg.intake).toBe("broker");
    expect(cfg.streams.partitions).toBe(8);
  });

  it("sizes the streams to fit nats.conf's max_file_store, which JetStream reserves their maxBytes against (either intake)", () => {
    const conf = readFileSync(join(ROOT, "deploy/nats/nats.conf"), "utf8");
    const [, n, unit] = /^\s*max_file_store:\s*(\d+)\s*(GB|TB)\s*$/m.exec(conf)!;
    // Read as decimal units, the smaller reading, so the check holds however nats-server counts them.
    const limit = Number(n) * (unit === "TB" ? 1e12 : 1e9);
    for (const intake of ["broker", "nats"] as const) {
      const cfg = loadConfig({ path: join(ROOT, "deploy/fleetstream.yaml"), env: { NATS_URL: "nats://nats:4222", MQTT_URL: "mqtt://mosquitto:1883" }, overrides: { intake } });
      const reserved = streamSpecs(cfg).reduce((sum, st) => sum + (st.max_bytes ?? 0), 0);
      expect(reserved, `${intake} intake`).toBeLessThanOrEqual(limit);
    }
  });

  it("ships shell scripts that parse", () => {
    execFileSync("sh", ["-n", join(ROOT, "deploy/mosquitto/entrypoint.sh")]);
    execFileSync("sh", ["-n", join(ROOT, "deploy/nats/entrypoint.sh")]);
    execFileSync("bash", ["-n", join(ROOT, "deploy/influxdb/init-dbrp.sh")]);
  });
});

describe("compose.yaml as Docker Compose v2 resolves it", () => {
  it("resolves with .env.example, alone and with deploy/compose.processors.yaml, without a warning", () => {
    const alone = composeConfig(envExample);
    expect(alone.stderr).toBe("");
    expect(alone.status).toBe(0);
    expect(Object.keys(alone.resolved!.services).sort()).toEqual(Object.keys(services).sort());
    for (const [name, s] of Object.entries(alone.resolved!.services)) {
      for (const [k, v] of Object.entries(s.environment ?? {})) expect(v, `${name}.${k}`).not.toBe("");
      for (const p of s.ports ?? []) expect(Number(p.published), `${name} port ${p.target}`).toBeGreaterThan(0);
    }
    expect(alone.resolved!.services.gateway!.environment).toMatchObject({ NATS_PASS: envExample.NATS_PASS, MQTT_PASSWORD: envExample.MQTT_PASSWORD });

    const split = composeConfig(envExample, ["compose.yaml", "deploy/compose.processors.yaml"]);
    expect(split.stderr).toBe("");
    expect(split.status).toBe(0);
    expect(split.resolved!.services["processor-b"]!.environment).toEqual(split.resolved!.services.processor!.environment);
  });

  it("refuses to resolve without a credential, naming it and the fix", () => {
    for (const name of CREDENTIALS) {
      const { [name]: _, ...rest } = envExample;
      const r = composeConfig(rest);
      expect(r.status, `without ${name}`).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`required variable ${name} is missing a value: copy \\.env\\.example to \\.env and set it`));
    }
  });

  it("falls back to .env.example's values for every other setting", () => {
    const onlyCredentials = Object.fromEntries(CREDENTIALS.map((k) => [k, envExample[k]!]));
    expect(Object.keys(envExample).length).toBeGreaterThan(CREDENTIALS.length + 5);
    const r = composeConfig(onlyCredentials);
    expect(r.stderr).toBe("");
    expect(r.resolved).toEqual(composeConfig(envExample).resolved);
  });
});

describe("deploy configs on the real servers", () => {
  it("nats-server accepts nats.conf, nats-mqtt.conf, cluster.conf and cluster-mqtt.conf", () => {
    for (const f of ["nats.conf", "nats-mqtt.conf", "cluster.conf", "cluster-mqtt.conf"]) {
      // Exits non-zero on an invalid file; says so on stderr when valid.
      const r = spawnSync(binaries.natsServer(), ["-t", "-c", f], {
        cwd: join(ROOT, "deploy/nats"),
        env: { ...process.env, NATS_USER: envExample.NATS_USER, NATS_PASS: envExample.NATS_PASS, NATS_SERVER_NAME: "nats-1" },
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`configuration file ${f} is valid`);
    }
  });

  it("Mosquitto with mosquitto.conf requires the .env credentials and keeps >1000 queued QoS 1 messages for an offline session", async () => {
    const mq = await startShippedMosquitto({ MQTT_USERNAME: envExample.MQTT_USERNAME!, MQTT_PASSWORD: envExample.MQTT_PASSWORD! });
    const url = `mqtt://127.0.0.1:${mq.port}`;
    const creds = { username: envExample.MQTT_USERNAME, password: envExample.MQTT_PASSWORD, protocolVersion: 4 as const, reconnectPeriod: 0 };
    try {
      await expect(connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad User/i);
      // A persistent subscriber goes away; 3000 QoS 1 messages arrive meanwhile (default queue: 1000).
      const sub = await connectAsync(url, { ...creds, clientId: "conf-sub", clean: false });
      await sub.subscribeAsync("devices/+/telemetry", { qos: 1 });
      await sub.endAsync();
      const pub = await connectAsync(url, { ...creds, clientId: "conf-pub" });
      await Promise.all(Array.from({ length: 3000 }, (_, i) => pub.publishAsync(`devices/d${i % 7}/telemetry`, `{"seq":${i}}`, { qos: 1 })));
      await pub.endAsync();
      const got = new Set<string>();
      // Listen before the session resumes: the queued messages flow right after CONNACK.
      const back = connect(url, { ...creds, clientId: "conf-sub", clean: false });
      back.on("message", (_t, p) => got.add(p.toString()));
      const end = Date.now() + 15_000;
      while (got.size < 3000 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      await back.endAsync();
      expect(got.size).toBe(3000);
    } finally {
      await mq.cleanup();
    }
  });
});
