// Proves, with Prometheus' own promtool: the compose stack's Prometheus config and its alert rules are
// valid, the alerts fire (and stay quiet) as their unit tests say, and every metric they use is one
// fleetstream exports.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { binaries, metricDefinedInCode } from "../testing/mod.ts";

const HERE = join(dirname(fileURLToPath(import.meta.url)), "prometheus");

/** Runs promtool; resolves with its output, or throws with it. */
function promtool(...args: string[]): string {
  try {
    return execFileSync(binaries.promtool(), args, { cwd: HERE, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(" ")} failed:\n${x.stdout ?? ""}${x.stderr ?? ""}`);
  }
}

describe("Prometheus config and alert rules", () => {
  it("the config (with its rule file) is valid", () => {
    const out = promtool("check", "config", "prometheus.yml");
    expect(out).toMatch(/SUCCESS: 1 rule files found/);
    expect(out).toMatch(/SUCCESS: 4 rules found/);
  });

  it("the alerts pass their unit tests", () => {
    expect(promtool("test", "rules", "alerts.test.yml")).toMatch(/SUCCESS/);
  });

  it("every metric the alerts use is exported by fleetstream", () => {
    const rules = readFileSync(join(HERE, "alerts.yml"), "utf8");
    const names = new Set([...rules.matchAll(/\bfleetstream_[a-z0-9_]+/g)].map((m) => m[0]));
    expect(names.size).toBeGreaterThan(2);
    const defined = metricDefinedInCode();
    for (const n of names) expect(defined(n), `${n} is not defined in gateway/, processors/ or core/`).toBe(true);
  });
});
