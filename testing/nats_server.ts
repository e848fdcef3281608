/**
 * A real nats-server (>= 2.10, JetStream on unless `jetstream: false`) on free ports with a temporary
 * store, for tests and benchmarks; optionally with its MQTT listener. `stop()` then `start()`
 * restarts it on the same ports and store, as an outage would.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaries } from "./binaries.ts";
import { freePort, removeDir, spawnManaged, tempDir, waitForPort, type ManagedProcess } from "./process.ts";

export interface NatsServerOptions {
  mqtt?: boolean;
  /** Extra config text appended to the generated config (e.g. `mappings`). */
  extraConfig?: string;
  /** Max memory for JetStream; default 1 GiB. */
  maxMemory?: string;
  /** JetStream's file storage limit (`max_file_store`), which stream `max_bytes` are reserved against; default 1 TB. */
  maxStore?: string;
  /** false: a server without JetStream (default true). */
  jetstream?: boolean;
}

export interface NatsServerHandle {
  /** Its `server_name` (what JetStream's cluster info calls it). */
  readonly serverName: string;
  readonly port: number;
  readonly url: string;
  readonly mqttPort?: number;
  readonly mqttUrl?: string;
  readonly storeDir: string;
  readonly pid: number | undefined;
  /** (Re)starts the server on the same ports and store. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM); the store stays. */
  stop(): Promise<void>;
  /** SIGKILL: an abrupt crash. */
  kill(): Promise<void>;
  /**
   * SIGSTOP, resolved once every thread of the server has stopped: from then on what is sent to it
   * stays unread in its socket (until SIGCONT, or `kill()` loses it).
   */
  freeze(): Promise<void>;
  /** Stops it and removes its store. */
  cleanup(): Promise<void>;
  output(): string;
}

/** @example const ns = await startNatsServer({ mqtt: true }); ...; await ns.cleanup(); */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const dir = tempDir("nats");
  const port = await freePort();
  const mqttPort = opts.mqtt ? await freePort() : undefined;
  const conf = join(dir, "nats.conf");
  const serverName = `fs_test_${port}`;
  writeFileSync(
    conf,
    [
      `server_name: ${serverName}`,
      `listen: 127.0.0.1:${port}`,
      `max_payload: 1MB`,
      opts.jetstream === false ? "" : `jetstream { store_dir: "${join(dir, "js")}", max_memory_store: ${opts.maxMemory ?? "1GB"}, max_file_store: ${opts.maxStore ?? "1TB"} }`,
      mqttPort ? `mqtt { listen: 127.0.0.1:${mqttPort}, ack_wait: "30s", max_ack_pending: 10000 }` : "",
      opts.extraConfig ?? "",
    ].join("\n"),
  );
  let proc: ManagedProcess | undefined;
  const bin = binaries.natsServer();
  const start = async () => {
    proc = spawnManaged(bin, ["-c", conf]);
    try {
      await waitForPort(port);
      if (mqttPort) await waitForPort(mqttPort);
    } catch (e) {
      throw new Error(`nats-server did not start: ${(e as Error).message}\n${proc.output()}`);
    }
  };
  await start();
  return {
    serverName,
    port,
    url: `nats://127.0.0.1:${port}`,
    mqttPort,
    mqttUrl: mqttPort ? `mqtt://127.0.0.1:${mqttPort}` : undefined,
    storeDir: dir,
    get pid() {
      return proc?.child.pid;
    },
    start,
    stop: async () => proc?.stop(10_000),
    kill: async () => proc?.kill(),
    freeze: async () => {
      const pid = proc?.child.pid;
      if (pid === undefined) throw new Error("nats-server is not running");
      process.kill(pid, "SIGSTOP");
      for (const end = Date.now() + 5000; !allThreadsStopped(pid); await new Promise((r) => setTimeout(r, 5))) {
        if (Date.now() > end) throw new Error(`nats-server (pid ${pid}) did not stop within 5 s of SIGSTOP`);
      }
    },
    cleanup: async () => {
      await proc?.stop(5000);
      removeDir(dir);
    },
    output: () => proc?.output() ?? "",
  };
}

/** Linux: whether every thread of `pid` is stopped (state T in /proc/<pid>/task/<tid>/stat). */
function allThreadsStopped(pid: number): boolean {
  const tasks = readdirSync(`/proc/${pid}/task`);
  // The state follows the command name, which is in parentheses and may contain spaces.
  return tasks.every((t) => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "T";
  });
}
