/**
 * A real Prometheus for tests: scrapes the given `/metrics` targets every second, loads the given rule
 * files, and answers PromQL through its HTTP API.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaries } from "./binaries.ts";
import { freePort, removeDir, spawnManaged, tempDir, waitForHttp, type ManagedProcess } from "./process.ts";

export interface PrometheusHandle {
  readonly url: string;
  /** Evaluates an instant query; throws with Prometheus' error when it is not valid. */
  query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** The loaded rules, by name. */
  rules(): Promise<string[]>;
  cleanup(): Promise<void>;
  output(): string;
}

export interface PrometheusOptions {
  /** `host:port` of each `/metrics` endpoint, scraped as job `job`. */
  targets: string[];
  job: string;
  /** Absolute paths of rule files. */
  ruleFiles?: string[];
}

/** @example const prom = await startPrometheus({ targets: [`127.0.0.1:${ops.port}`], job: "fleetstream-e2e" }) */
export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusHandle> {
  const dir = tempDir("prometheus");
  const port = await freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      ...(o.ruleFiles?.length ? ["rule_files:", ...o.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
      "scrape_configs:",
      `  - job_name: ${JSON.stringify(o.job)}`,
      "    static_configs:",
      `      - targets: ${JSON.stringify(o.targets)}`,
      "",
    ].join("\n"),
  );
  const url = `http://127.0.0.1:${port}`;
  const proc: ManagedProcess = spawnManaged(binaries.prometheus(), [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  try {
    await waitForHttp(`${url}/-/ready`, 30_000);
  } catch (e) {
    await proc.stop();
    removeDir(dir);
    throw new Error(`prometheus did not start: ${(e as Error).message}\n${proc.output()}`);
  }
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${url}${path}`);
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error ?? r.status}`);
    return body.data;
  };
  return {
    url,
    query: async (q) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(q)}`)).result,
    rules: async () => (await api<{ groups: Array<{ rules: Array<{ name: string }> }> }>("/api/v1/rules")).groups.flatMap((g) => g.rules.map((r) => r.name)),
    cleanup: async () => {
      await proc.stop();
      removeDir(dir);
    },
    output: () => proc.output(),
  };
}
