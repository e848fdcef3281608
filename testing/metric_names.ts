/**
 * Which Prometheus metric names fleetstream's code defines, for tests of files that name them
 * (dashboards, alert rules): a renamed metric then fails a test, not silently a panel or an alert.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../core/project_root.ts";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

/**
 * A test of whether gateway/, processors/ or core/ defines a metric: by its whole name, or as a
 * component prefix plus the rest (`${p}write_errors_total`, as the metrics modules write them).
 */
export function metricDefinedInCode(): (name: string) => boolean {
  const sources = ["gateway", "processors", "core"].flatMap((d) => sourceFiles(join(PROJECT_ROOT, d))).map((f) => readFileSync(f, "utf8")).join("\n");
  return (name) => sources.includes(name) || sources.includes(`}${name.replace(/^fleetstream_[a-z]+_/, "")}\``);
}
