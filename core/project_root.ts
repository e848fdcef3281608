/**
 * The checkout's root directory (where package.json, .tools/ and dashboards/ live), found by walking
 * up from this module: the same answer whether it runs from source under tsx or from the bundle
 * `bin/fleetstream.js` builds into `.tools/build/`.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "fleetstream") return dir;
      } catch {
        // not ours; keep walking
      }
    }
    if (dirname(dir) === dir) return join(dirname(fileURLToPath(import.meta.url)), "..");
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
