/**
 * Influx-compatible stores for tests: VictoriaMetrics (speaks `/api/v2/write`, reads back through
 * `/api/v1/export`) and InfluxDB 1.6 (the v1 `/write?db=` API and InfluxQL `/query`).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaries } from "./binaries.ts";
import { freePort, removeDir, spawnManaged, tempDir, waitForHttp, type ManagedProcess } from "./process.ts";

export interface StoreHandle {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
  output(): string;
}

function handle(port: number, dir: string, launch: () => ManagedProcess, ready: string, name: string): StoreHandle & { first: () => Promise<void> } {
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = launch();
    try {
      await waitForHttp(ready, 30_000);
    } catch (e) {
      throw new Error(`${name} did not start: ${(e as Error).message}\n${proc.output()}`);
    }
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    first: start,
    start,
    stop: async () => proc?.stop(),
    cleanup: async () => {
      await proc?.stop();
      removeDir(dir);
    },
    output: () => proc?.output() ?? "",
  };
}

export async function startVictoriaMetrics(): Promise<StoreHandle> {
  const dir = tempDir("vm");
  const port = await freePort();
  const h = handle(
    port,
    dir,
    () =>
      spawnManaged(binaries.victoriaMetrics(), [
        `-storageDataPath=${dir}`,
        `-httpListenAddr=127.0.0.1:${port}`,
        `-retentionPeriod=100y`,
        `-search.disableCache`,
        `-search.latencyOffset=0s`,
        `-loggerLevel=ERROR`,
      ]),
    `http://127.0.0.1:${port}/health`,
    "victoria-metrics",
  );
  await h.first();
  return h;
}

export async function startInfluxDb1(): Promise<StoreHandle> {
  const dir = tempDir("influx1");
  const port = await freePort();
  const bindPort = await freePort();
  const conf = join(dir, "influxdb.conf");
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${bindPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`,
  );
  const h = handle(port, dir, () => spawnManaged(binaries.influxd(), ["-config", conf]), `http://127.0.0.1:${port}/ping`, "influxd");
  await h.first();
  return h;
}

/** Runs an InfluxQL statement against InfluxDB 1.x and returns the first result's series. */
export async function influxQl(url: string, db: string, q: string): Promise<Array<{ name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }>> {
  const r = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`, { method: "POST" });
  const body = (await r.json()) as { results?: Array<{ series?: unknown[]; error?: string }>; error?: string };
  if (!r.ok || body.error) throw new Error(`InfluxQL failed (${r.status}): ${body.error ?? JSON.stringify(body)}`);
  const res = body.results?.[0];
  if (res?.error) throw new Error(`InfluxQL failed: ${res.error}`);
  return (res?.series ?? []) as never;
}

/** Writes line protocol (millisecond timestamps) through InfluxDB 1.x's `/write`; throws unless it is accepted. */
export async function writeLines(url: string, db: string, lines: string): Promise<void> {
  const r = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=ms`, { method: "POST", body: lines });
  if (r.status !== 204) throw new Error(`write to ${db} failed (${r.status}): ${await r.text()}`);
}

/** Creates a database on InfluxDB 1.x. */
export async function createInfluxDb(url: string, db: string): Promise<void> {
  await influxQl(url, "", `CREATE DATABASE "${db}"`);
}
