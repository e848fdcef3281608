// Proves: the processor as a separate OS process, kill -9'ed at two random moments and restarted,
// ends with exactly the windows of a crash-free run (the oracle): none lost, none double-counted.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import type { DlqRecord } from "../core/dlq.ts";
import { silentLogger } from "../core/logger.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { startNatsServer, type NatsServerHandle } from "../testing/nats_server.ts";
import { removeDir, spawnManaged, type ManagedProcess } from "../testing/process.ts";
import { buildFleet, publishFleet, readLatestWindows, readStream, waitForDrained, waitForQuietResults } from "./pipelines/fleet_fixture.ts";
import { diffWindows, windowOracle } from "./pipelines/window_oracle.ts";

let ns: NatsServerHandle;
const dir = mkdtempSync(join(tmpdir(), "fleetstream-proc-crash-"));
beforeAll(async () => {
  ns = await startNatsServer();
});
afterAll(async () => {
  await ns?.cleanup();
  removeDir(dir);
});

const YAML = `
intake: broker
mqtt: { url: "mqtt://127.0.0.1:1" }
streams: { prefix: "K1_", subjectRoot: "k1", partitions: 8 }
http: { port: 0, host: "127.0.0.1" }
log: { level: "warn" }
processor:
  windows:
    - { type: tumbling, size: 10s }
    - { type: hopping, size: 20s, hop: 10s }
    - { type: session, gap: 5s }
  maxOutOfOrder: 5s
  allowedLateness: 60s
  idleTimeout: 1500ms
  reorderTimeout: 1s
  checkpointInterval: 200ms
`;

describe("processor crash safety", () => {
  it("kill -9 twice mid-stream and restart: identical final windows, none lost or double-counted", async () => {
    const file = join(dir, "fleetstream.yaml");
    writeFileSync(file, YAML);
    const cfg = loadConfig({ path: file, env: { NATS_URL: ns.url } });
    const nc = await connectNats(cfg.nats, silentLogger, "test");
    const spawnProcessor = (): ManagedProcess =>
      spawnManaged(process.execPath, ["--import", "tsx", "cli/main.ts", "processor", "--config", file], {
        cwd: join(import.meta.dirname, ".."),
        env: { ...process.env, NATS_URL: ns.url, FLEETSTREAM_CONFIG: "" },
      });
    let proc: ManagedProcess | undefined;
    try {
      await ensureStreams(nc, cfg);
      const fleet = buildFleet({ devices: 200, readings: 500, seed: 7 });
      await publishFleet(nc, cfg, fleet);
      const total = fleet.length;
      const jsm = await jetstreamManager(nc);
      const progress = async () => {
        let pending = 0;
        for (let p = 0; p < 8; p++) {
          try {
            const ci = await jsm.consumers.info(streamNames(cfg).telemetry, `K1_processor_telemetry_${p}`);
            pending += ci.num_pending + ci.num_ack_pending;
          } catch {
            pending += total / 8; // not (re)created yet
          }
        }
        return 1 - pending / total;
      };
      const waitFor = async (fraction: number) => {
        const deadline = Date.now() + 60_000;
        while ((await progress()) < fraction) {
          if (Date.now() > deadline) throw new Error(`no progress to ${fraction}: ${proc?.output()}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      const k1 = 0.1 + Math.random() * 0.3;
      const k2 = k1 + 0.15 + Math.random() * 0.3;
      const kills: number[] = [];
      for (const at of [k1, k2]) {
        proc = spawnProcessor();
        await waitFor(at);
        kills.push(await progress());
        await proc.kill();
      }
      proc = spawnProcessor();
      await waitForDrained(nc, cfg, ["telemetry"], 60_000);
      await waitForQuietResults(nc, cfg, cfg.processor.reorderTimeout + cfg.processor.idleTimeout + 2000);
      await proc.stop(10_000);
      expect(proc.child.exitCode, `SIGTERM drains and exits cleanly: ${proc.output()}`).toBe(0);
      // both kills happened with work done before and left after
      expect(kills[0]!).toBeGreaterThan(0.05);
      expect(kills[1]!).toBeLessThan(1);

      const oracle = windowOracle(fleet, cfg.processor);
      const { latest } = await readLatestWindows(nc, cfg);
      expect(diffWindows(latest, oracle.windows).slice(0, 10), `kills at ${kills.map((k) => k.toFixed(2)).join(", ")}`).toEqual([]);
      expect(latest.size).toBe(oracle.windows.size);
      const dlq = await readStream<DlqRecord>(nc, streamNames(cfg).dlq, `${cfg.streams.subjectRoot}.dlq.processor.late_event`);
      expect(dlq.length).toBe(oracle.late);
    } finally {
      await proc?.kill();
      await nc.close();
    }
  });
});
