// Proves the launcher (bin/fleetstream.js) applies runtime V8 flags from FLEETSTREAM_V8_FLAGS, and refuses, with the variable's name and the fix, flags that only work at node's startup (one of them crashes V8 when set later).
import { describe, expect, it } from "vitest";
import { runCli as cli } from "../testing/mod.ts";

describe("bin/fleetstream.js", () => {
  it("runs with runtime V8 flags from FLEETSTREAM_V8_FLAGS", async () => {
    const r = await cli(["--help"], { FLEETSTREAM_V8_FLAGS: "--heap-growing-percent=40" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/start/);
  });

  it.each(["--single-threaded-gc", "--max-semi-space-size=16"])("refuses %s in FLEETSTREAM_V8_FLAGS and says to give it to node", async (flag) => {
    const r = await cli(["--help"], { FLEETSTREAM_V8_FLAGS: `--heap-growing-percent=30 ${flag}` });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`FLEETSTREAM_V8_FLAGS: ${flag} can only be set when node starts; give it to node instead: node ${flag}`);
    expect(r.stdout).toBe("");
  });
});
