import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("fleetstream.example.yaml", () => {
  it("is a valid configuration", () => {
    const cfg = loadConfig({ path: fileURLToPath(new URL("../fleetstream.example.yaml", import.meta.url)), env: {} });
    expect(cfg.processor.windows).toHaveLength(3);
    expect(cfg.rules[0]!.name).toBe("hot-rooms");
  });
});
