/**
 * A real nats-server (>= 2.10, JetStream on) on free ports with a temporary store, for tests and
 * benchmarks; optionally with its MQTT listener. `stop()` then `start()` restarts it on the same
 * ports and store, as an outage would.
 */
import { writeFileSync } from "node:fs";
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
      `jetstream { store_dir: "${join(dir, "js")}", max_memory_store: ${opts.maxMemory ?? "1GB"}, max_file_store: ${opts.maxStore ?? "1TB"} }`,
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
    cleanup: async () => {
      await proc?.stop(5000);
      removeDir(dir);
    },
    output: () => proc?.output() ?? "",
  };
}
