/**
 * Test helpers: nats-server and Mosquitto started from the configs the compose stack ships
 * (deploy/nats/*.conf, deploy/mosquitto/mosquitto.conf), with only what a container provides
 * changed: listen addresses, data directories, log destination, and Mosquitto's password file (its
 * entrypoint writes that from MQTT_USERNAME / MQTT_PASSWORD).
 */
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../core/project_root.ts";
import { binaries } from "../testing/binaries.ts";
import { writePasswordFile } from "../testing/mosquitto.ts";
import { freePort, removeDir, spawnManaged, tempDir, waitForPort, type ManagedProcess } from "../testing/process.ts";

export interface ShippedServer {
  readonly port: number;
  readonly proc: ManagedProcess;
  cleanup(): Promise<void>;
}

async function started(proc: ManagedProcess, port: number, dir: string, name: string): Promise<ShippedServer> {
  const cleanup = async () => {
    await proc.stop();
    removeDir(dir);
  };
  try {
    await waitForPort(port);
  } catch (e) {
    await cleanup();
    throw new Error(`${name} did not start: ${(e as Error).message}\n${proc.output()}`);
  }
  return { port, proc, cleanup };
}

/** Ports of a nats-server started from the shipped configs. */
export interface ShippedNatsPorts {
  port: number;
  http: number;
  mqttPort: number;
}

/**
 * Writes deploy/nats/*.conf into `dir` with what a container provides changed: listen addresses on
 * free ports, the store under `dir/js`; with `routes` (the cluster's route ports, nats-1 first), the
 * cluster listens on `routes[own]` and its routes to nats-N:6222 go to those ports.
 */
export async function writeShippedNatsConfs(dir: string, cluster?: { routes: number[]; own: number }): Promise<ShippedNatsPorts> {
  const p = { port: await freePort(), http: await freePort(), mqttPort: await freePort() };
  const read = (f: string) => readFileSync(join(PROJECT_ROOT, "deploy/nats", f), "utf8");
  const edits: Record<string, (text: string) => string> = {
    "nats.conf": (t) =>
      t
        .replace(/^listen: .*$/m, `listen: 127.0.0.1:${p.port}`)
        .replace(/^http: .*$/m, `http: 127.0.0.1:${p.http}`)
        .replace(/^(\s*)store_dir: .*$/m, `$1store_dir: "${join(dir, "js")}"`),
    "mqtt.conf": (t) => t.replace(/^(\s*)listen: .*$/m, `$1listen: 127.0.0.1:${p.mqttPort}`),
    "cluster.conf": (t) =>
      cluster
        ? t
            .replace(/^(\s*)listen: .*$/m, `$1listen: 127.0.0.1:${cluster.routes[cluster.own]}`)
            .replace(/nats-route:\/\/nats-(\d):6222/g, (_, n: string) => `nats-route://127.0.0.1:${cluster.routes[Number(n) - 1]}`)
        : t,
  };
  for (const f of readdirSync(join(PROJECT_ROOT, "deploy/nats")).filter((f) => f.endsWith(".conf"))) {
    writeFileSync(join(dir, f), (edits[f] ?? ((t: string) => t))(read(f)));
  }
  return p;
}

/**
 * nats-server as compose.yaml runs it: deploy/nats/nats-mqtt.conf (which includes nats.conf), so with
 * its MQTT listener; its users come from NATS_USER / NATS_PASS in `creds`.
 */
export async function startShippedNats(creds: { NATS_USER: string; NATS_PASS: string }): Promise<ShippedServer & { mqttPort: number }> {
  const dir = tempDir("nats-shipped");
  const { port, mqttPort } = await writeShippedNatsConfs(dir);
  const proc = spawnManaged(binaries.natsServer(), ["-c", join(dir, "nats-mqtt.conf")], { env: { ...process.env, ...creds } });
  const server = await started(proc, port, dir, "nats-server (deploy/nats/nats-mqtt.conf)");
  return { ...server, mqttPort };
}

/** A node of {@link startShippedNatsCluster}. */
export interface ShippedNatsNode extends ShippedServer {
  readonly ports: ShippedNatsPorts;
}

/**
 * Three nodes of deploy/nats/cluster.conf (which includes nats.conf), each in its own directory, named
 * nats-1..3 by NATS_SERVER_NAME, with the routes to nats-N:6222 pointed at free local ports. With
 * `entrypoint`, nats-1 starts as deploy/compose.cluster.yaml starts it: through deploy/nats/entrypoint.sh
 * on cluster.conf, then cluster-mqtt.conf once the raw stream has a consumer.
 */
export async function startShippedNatsCluster(
  creds: { NATS_USER: string; NATS_PASS: string },
  opts: { entrypoint?: boolean } = {},
): Promise<{ nodes: ShippedNatsNode[]; url: string; cleanup(): Promise<void> }> {
  const routes = await Promise.all([1, 2, 3].map(() => freePort()));
  const nodes: ShippedNatsNode[] = [];
  const cleanup = async () => {
    await Promise.all(nodes.map((n) => n.cleanup()));
  };
  try {
    for (const own of routes.keys()) {
      const name = `nats-${own + 1}`;
      const dir = tempDir("nats-cluster-shipped");
      const ports = await writeShippedNatsConfs(dir, { routes, own });
      const proc =
        own === 0 && opts.entrypoint
          ? await startNatsEntrypoint(dir, ports, creds, { NATS_SERVER_NAME: name, NATS_CONF: "cluster.conf", NATS_MQTT_CONF: "cluster-mqtt.conf" })
          : spawnManaged(binaries.natsServer(), ["-c", join(dir, "cluster.conf")], { env: { ...process.env, ...creds, NATS_SERVER_NAME: name } });
      nodes.push({ ports, ...(await started(proc, ports.port, dir, `nats-server ${name} (deploy/nats/cluster.conf)`)) });
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { nodes, url: nodes.map((n) => `nats://127.0.0.1:${n.ports.port}`).join(","), cleanup };
}

/**
 * deploy/nats/entrypoint.sh (as compose.yaml starts nats) on the configs in `dir` (see
 * {@link writeShippedNatsConfs}), with `env` added to its environment; resolves once nats-server
 * takes clients. `dir` is left in place.
 */
export async function startNatsEntrypoint(dir: string, ports: ShippedNatsPorts, creds: { NATS_USER: string; NATS_PASS: string }, env: Record<string, string> = {}): Promise<ManagedProcess> {
  const proc = spawnManaged("sh", [join(PROJECT_ROOT, "deploy/nats/entrypoint.sh")], {
    env: { ...process.env, ...creds, ...env, NATS_CONF_DIR: dir, NATS_STORE_DIR: join(dir, "js"), NATS_SERVER_BIN: binaries.natsServer() },
  });
  try {
    await waitForPort(ports.port);
  } catch (e) {
    await proc.stop();
    throw new Error(`deploy/nats/entrypoint.sh did not start nats-server: ${(e as Error).message}\n${proc.output()}`);
  }
  return proc;
}

/** Mosquitto with deploy/mosquitto/mosquitto.conf and a password file for MQTT_USERNAME / MQTT_PASSWORD. */
export async function startShippedMosquitto(creds: { MQTT_USERNAME: string; MQTT_PASSWORD: string }): Promise<ShippedServer> {
  const dir = tempDir("mosquitto-shipped");
  const port = await freePort();
  const passwd = join(dir, "passwd");
  writePasswordFile(passwd, { [creds.MQTT_USERNAME]: creds.MQTT_PASSWORD });
  // Started as root, Mosquitto drops to its own user before reading these (the image's entrypoint chowns them).
  chmodSync(dir, 0o777);
  const conf = readFileSync(join(PROJECT_ROOT, "deploy/mosquitto/mosquitto.conf"), "utf8")
    .replace(/^listener .*$/m, `listener ${port} 127.0.0.1`)
    .replace(/^password_file .*$/m, `password_file ${passwd}`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`)
    .replace(/^log_dest .*$/m, "log_dest stderr");
  writeFileSync(join(dir, "mosquitto.conf"), conf);
  const proc = spawnManaged(binaries.mosquitto(), ["-c", join(dir, "mosquitto.conf")]);
  return started(proc, port, dir, "mosquitto (deploy/mosquitto/mosquitto.conf)");
}
