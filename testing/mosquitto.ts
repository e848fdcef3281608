/**
 * A real Mosquitto broker on a free port with a temporary persistence directory. Its queues are sized
 * so that QoS 1 messages for a slow subscriber are kept, never silently dropped (MEASURED: the default
 * `max_queued_messages 1000` drops them without a word).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaries } from "./binaries.ts";
import { freePort, removeDir, spawnManaged, tempDir, waitForPort, type ManagedProcess } from "./process.ts";

export interface MosquittoHandle {
  readonly port: number;
  /** The running broker's pid (undefined once stopped). */
  readonly pid: number | undefined;
  readonly url: string;
  start(): Promise<void>;
  /** Replaces the users (see {@link MosquittoOptions.users}); the broker reads them at its next start. */
  setUsers(users: Record<string, string>): void;
  stop(): Promise<void>;
  kill(): Promise<void>;
  cleanup(): Promise<void>;
  output(): string;
}

export interface MosquittoOptions {
  /**
   * Seconds between saves of the in-memory state (sessions, queued messages) to the persistence
   * file. 1 here, so that tests which restart the broker find what it held; the shipped config
   * (deploy/mosquitto) saves every 30 s, and each save writes every queued message.
   */
  autosaveInterval: number;
  /** User name -> password: only these may connect (default: anyone, anonymously). */
  users?: Record<string, string>;
}

/** Writes a Mosquitto password file (mosquitto_passwd) holding exactly `users` (name -> password). */
export function writePasswordFile(path: string, users: Record<string, string>): void {
  writeFileSync(path, "");
  for (const [user, pass] of Object.entries(users)) execFileSync("mosquitto_passwd", ["-b", path, user, pass]);
  chmodSync(path, 0o644); // read after Mosquitto drops to its own user
}

export async function startMosquitto(o: MosquittoOptions = { autosaveInterval: 1 }): Promise<MosquittoHandle> {
  const dir = tempDir("mosquitto");
  // Started as root, Mosquitto drops to the `mosquitto` user: it must be able to write its
  // persistence file here, or it silently forgets every session and queued message on restart.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  const passwd = join(dir, "passwd");
  const setUsers = (users: Record<string, string>) => writePasswordFile(passwd, users);
  if (o.users) setUsers(o.users);
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...(o.users ? [`allow_anonymous false`, `password_file ${passwd}`] : [`allow_anonymous true`]),
      `persistence true`,
      `persistence_location ${dir}/`,
      `autosave_interval ${o.autosaveInterval}`,
      `max_queued_messages 0`,
      `max_queued_bytes 0`,
      `max_inflight_messages 0`,
      `log_dest stderr`,
      `log_type error`,
      `log_type warning`,
    ].join("\n") + "\n",
  );
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = spawnManaged(binaries.mosquitto(), ["-c", conf]);
    try {
      await waitForPort(port);
    } catch (e) {
      throw new Error(`mosquitto did not start: ${(e as Error).message}\n${proc.output()}`);
    }
  };
  await start();
  return {
    port,
    get pid() {
      return proc?.child.exitCode === null ? proc.child.pid : undefined;
    },
    url: `mqtt://127.0.0.1:${port}`,
    start,
    setUsers,
    stop: async () => proc?.stop(),
    kill: async () => proc?.kill(),
    cleanup: async () => {
      await proc?.stop();
      removeDir(dir);
    },
    output: () => proc?.output() ?? "",
  };
}
