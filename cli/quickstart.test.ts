// Proves the README's first quick-start command works: `fleetstream start --simulate`, bounded by
// --duration, starts its own nats-server, takes simulated MQTT traffic and produces windows.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { removeDir, tempDir } from "../testing/mod.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("README quick start", () => {
  it("names the two commands this test and .ci/run exercise", () => {
    const readme = readFileSync(`${ROOT}/README.md`, "utf8");
    const block = /## Quick start[^\n]*\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split("\n");
    expect(block).toEqual(["bash scripts/setup.sh && npx fleetstream start --simulate", "bash scripts/setup.sh && npm test"]);
  });

  it("fleetstream start --simulate produces windows from simulated readings", async () => {
    const data = tempDir("quickstart");
    const env: NodeJS.ProcessEnv = { ...process.env, FLEETSTREAM_HTTP_PORT: "0" };
    for (const k of ["NATS_URL", "MQTT_URL", "INFLUX_URL", "FLEETSTREAM_CONFIG"]) delete env[k];
    const child = spawn(process.execPath, [`${ROOT}/bin/fleetstream.js`, "start", "--simulate", "--devices", "5", "--duration", "75s", "--data", data], {
      cwd: data,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-5000)));
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    removeDir(data);
    expect(code, err).toBe(0);
    const produced = Number(/done: (\d+) windows produced/.exec(out)?.[1] ?? -1);
    // 5 sensors, one-minute tumbling windows: every sensor's first full minute closes within 65 s.
    expect(produced, out).toBeGreaterThanOrEqual(5);
    expect(out).toMatch(/readings [1-9]\d* /);
  }, 150_000);
});
