/**
 * The edge default of `fleetstream start`: when no NATS_URL is given, run a local nats-server
 * (JetStream, plus the MQTT listener for the `nats` intake; data under ./data/nats) as a child
 * process and stop it on exit.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { join, resolve } from "node:path";
import type { Logger } from "../core/logger.ts";
import { PROJECT_ROOT } from "../core/project_root.ts";

const ROOT = PROJECT_ROOT;

export interface LocalNats {
  url: string;
  /** Undefined when the MQTT listener was not asked for. */
  mqttUrl?: string;
  stop(): Promise<void>;
}

function version(bin: string): [number, number] | undefined {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  const m = /v(\d+)\.(\d+)/.exec(r.stdout ?? "");
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** nats-server >= 2.10: `.tools/bin` (scripts/setup.sh) first, then PATH. */
export function findNatsServer(): string | undefined {
  const candidates = [process.env.NATS_SERVER_BIN, join(ROOT, ".tools/bin/nats-server")];
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir) candidates.push(join(dir, "nats-server"));
  candidates.push("/usr/sbin/nats-server");
  for (const c of candidates) {
    if (!c || !existsSync(c)) continue;
    const v = version(c);
    if (v && (v[0] > 2 || (v[0] === 2 && v[1] >= 10))) return c;
  }
  return undefined;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

async function anyPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function waitPort(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const c = tcpConnect({ port, host: "127.0.0.1" }, () => (c.destroy(), r(true)));
      c.once("error", () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export interface LocalNatsOptions {
  /**
   * Open nats-server's MQTT listener (the `nats` intake). nats-server acknowledges a QoS 1 publish
   * whether or not a stream keeps it, so the listener opens only when something captures it.
   */
  mqtt: boolean;
  /**
   * Runs against the server before its MQTT listener opens (stream provisioning): until the raw
   * stream exists, a device's acknowledged message would be kept nowhere. The server is started
   * once without the listener for it, then again with it.
   */
  prepare?: (natsUrl: string, mqttUrl: string) => Promise<void>;
}

/**
 * Starts nats-server with JetStream (and the MQTT listener when `mqtt`). Uses 4222 and 1883 when
 * free, else free ports (and says so), so a machine that already runs a broker still gets a working
 * edge node.
 */
export async function startLocalNats(log: Logger, dataDir = resolve("data"), o: LocalNatsOptions = { mqtt: true }): Promise<LocalNats> {
  const bin = findNatsServer();
  if (!bin) throw new Error("no NATS_URL is set and no nats-server >= 2.10 is installed: run scripts/setup.sh, or set NATS_URL");
  const natsPort = (await portFree(4222)) ? 4222 : await anyPort();
  const mqttPort = o.mqtt ? ((await portFree(1883)) ? 1883 : await anyPort()) : undefined;
  const dir = join(dataDir, "nats");
  mkdirSync(dir, { recursive: true });
  const url = `nats://127.0.0.1:${natsPort}`;
  const mqttUrl = mqttPort === undefined ? undefined : `mqtt://127.0.0.1:${mqttPort}`;
  const base = `# written by fleetstream start\nserver_name: fleetstream_edge\nlisten: 127.0.0.1:${natsPort}\njetstream { store_dir: "${join(dir, "js")}" }\n`;
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, base + (mqttPort === undefined ? "" : `mqtt { listen: 127.0.0.1:${mqttPort}, max_ack_pending: 10000 }\n`));

  if (o.prepare && mqttUrl) {
    const preConf = join(dir, "nats-prepare.conf");
    writeFileSync(preConf, base);
    const pre = await spawnNats(bin, preConf, natsPort);
    try {
      await o.prepare(url, mqttUrl);
    } finally {
      await pre.stop();
    }
  }
  const server = await spawnNats(bin, conf, natsPort, mqttPort);
  log.info("started local nats-server", { bin, url, mqtt: mqttUrl, data: dir, note: natsPort !== 4222 || (mqttPort !== undefined && mqttPort !== 1883) ? "4222/1883 were taken, so free ports were chosen" : undefined });
  const onExit = () => server.kill();
  process.once("exit", onExit);
  return {
    url,
    mqttUrl,
    stop: async () => {
      process.off("exit", onExit);
      await server.stop();
    },
  };
}

/** One nats-server process, ready once its ports answer. */
async function spawnNats(bin: string, conf: string, natsPort: number, mqttPort?: number): Promise<{ stop(): Promise<void>; kill(): void }> {
  const child: ChildProcess = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  if (!(await waitPort(natsPort, 15_000)) || (mqttPort !== undefined && !(await waitPort(mqttPort, 5000)))) {
    child.kill("SIGKILL");
    throw new Error(`local nats-server did not start: ${err}`);
  }
  return {
    kill: () => void child.kill("SIGKILL"),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}
