/** `fleetstream bench <name>`: the same benchmarks as `npm run bench -- <name>`. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../core/project_root.ts";

export const summary = "run a benchmark: gateway, processor, matcher, normalize, lines, readers or e2e (prints figures)";
export const usage = `Usage: fleetstream bench [gateway|processor|matcher|normalize|lines|readers|e2e] [args]

Starts its own servers on free ports, measures, prints figures and exits. Default: e2e.
`;

export async function run(argv: string[]): Promise<number> {
  // The benchmarks start helper processes from their own source files, so they run from source
  // (through tsx), never from the bundle this command may be running in.
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(PROJECT_ROOT, "bench/main.ts"), ...argv], { stdio: "inherit" });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}
