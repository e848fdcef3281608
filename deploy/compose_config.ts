/**
 * Test helpers for the compose stack: `.env.example` as a record, and what Docker Compose v2 resolves
 * `compose.yaml` to (`docker compose config`, which needs no engine).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../core/project_root.ts";
import { binaries } from "../testing/binaries.ts";

/** `.env.example`'s variables. */
export const envExample: Record<string, string> = Object.fromEntries(
  readFileSync(join(PROJECT_ROOT, ".env.example"), "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);

/** The credentials compose.yaml requires (everything else in .env.example has a default there). */
export const CREDENTIALS = ["NATS_USER", "NATS_PASS", "MQTT_USERNAME", "MQTT_PASSWORD", "INFLUX_ADMIN_USER", "INFLUX_ADMIN_PASSWORD", "INFLUX_TOKEN", "GRAFANA_ADMIN_USER", "GRAFANA_ADMIN_PASSWORD"];

export interface ResolvedService {
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<{ target: number; published: string }>;
  healthcheck?: { test: string[] };
}

export interface Resolved {
  services: Record<string, ResolvedService>;
}

/**
 * `docker compose config`: Compose v2 reads, merges, interpolates and validates the files the way
 * `docker compose up` would. The environment holds only `vars` (no shell variables, no project
 * `.env`), so what it resolves comes from them and the files alone.
 * @example composeConfig(envExample).resolved!.services.gateway!.environment
 */
export function composeConfig(vars: Record<string, string>, files = ["compose.yaml"]): { status: number | null; stderr: string; resolved?: Resolved } {
  const dir = mkdtempSync(join(tmpdir(), "fleetstream-compose-"));
  try {
    const envFile = join(dir, "env");
    writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""));
    const r = spawnSync(binaries.dockerCompose(), ["--project-directory", PROJECT_ROOT, ...files.flatMap((f) => ["-f", f]), "--env-file", envFile, "config", "--format", "json"], {
      env: { PATH: process.env.PATH, HOME: dir },
      encoding: "utf8",
    });
    if (r.error) throw r.error;
    return { status: r.status, stderr: r.stderr, resolved: r.status === 0 ? (JSON.parse(r.stdout) as Resolved) : undefined };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
