import { defineConfig } from "vitest/config";

// Integration tests start real servers (nats-server, Mosquitto, VictoriaMetrics, InfluxDB 1.6);
// on a 2-core machine running many of them at once only adds contention, so files run two at a time.
export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", ".tools/**", "data/**"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    reporters: ["default", "json"],
    outputFile: { json: ".tools/vitest-results.json" },
  },
});
