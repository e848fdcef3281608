// Proves: on a real nats-server, 200 devices x 500 readings with disorder, duplicates, gaps and late
// events end with exactly the oracle's windows in RESULTS, late ones in the DLQ; and location fixes
// along a known route add up to the haversine distance, out-of-order fixes counted and excluded; and
// deliveries the processor never received are read again rather than acked unseen.
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, streamNames, type Config } from "../core/config.ts";
import { rfc3339, toHeaders } from "../core/envelope.ts";
import { createJsPublisher } from "../core/js_publisher.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import type { DlqRecord } from "../core/dlq.ts";
import type { LocationEnrichedData } from "../core/results.ts";
import { ensureStreams } from "../core/streams.ts";
import { subjects } from "../core/subjects.ts";
import { startNatsServer, type NatsServerHandle } from "../testing/nats_server.ts";
import { buildFleet, publishFleet, readLatestWindows, readStream, waitForDrained, waitForQuietResults } from "./pipelines/fleet_fixture.ts";
import { diffWindows, windowOracle } from "./pipelines/window_oracle.ts";
import { createProcessor, type Processor } from "./processor.ts";
import { haversine } from "./state/location_tracker.ts";

let ns: NatsServerHandle;
beforeAll(async () => {
  ns = await startNatsServer();
});
afterAll(async () => {
  await ns?.cleanup();
});

function config(prefix: string, extra: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      nats: { url: ns.url },
      intake: "broker",
      mqtt: { url: "mqtt://127.0.0.1:1" },
      streams: { prefix, partitions: 8, subjectRoot: prefix.toLowerCase().replace(/_$/, "") },
      processor: {
        windows: [
          { type: "tumbling", size: "10s" },
          { type: "hopping", size: "20s", hop: "10s" },
          { type: "session", gap: "5s" },
        ],
        maxOutOfOrder: "5s",
        allowedLateness: "60s",
        idleTimeout: "1500ms",
        reorderTimeout: "1s",
        checkpointInterval: "200ms",
        ...extra,
      },
    },
  });
}

/** Waits until the processor has read everything and gone quiet, stops it, and checks every window against the oracle. */
async function expectOracleWindows(nc: NatsConnection, cfg: Config, proc: Processor, fleet: Parameters<typeof windowOracle>[0]) {
  await waitForDrained(nc, cfg);
  await waitForQuietResults(nc, cfg, cfg.processor.reorderTimeout + cfg.processor.idleTimeout + 2000);
  await proc.stop();
  const oracle = windowOracle(fleet, cfg.processor);
  const { latest } = await readLatestWindows(nc, cfg);
  expect(diffWindows(latest, oracle.windows).slice(0, 10)).toEqual([]);
  expect(latest.size).toBe(oracle.windows.size);
  return oracle;
}

describe("processor on a real nats-server", () => {
  it("deliveries it never received (lost with a connection): read again, every window still equals the oracle", async () => {
    const cfg = config("WG_");
    const nc = await connectNats(cfg.nats, silentLogger, "test");
    try {
      await ensureStreams(nc, cfg);
      const fleet = buildFleet({ devices: 50, readings: 400, seed: 11 });
      await publishFleet(nc, cfg, fleet);
      const proc = createProcessor({ nc, cfg, log: silentLogger, registry: createRegistry() }, { kinds: ["telemetry"], onFatal: (e) => { throw e; } });
      await proc.start();
      // Another client takes a few deliveries of every partition and never acks them: the server's
      // state is what a dropped connection leaves (delivered, unacked, redelivered only after ack_wait).
      const js = jetstream(nc);
      let taken = 0;
      for (let p = 0; p < 8; p++) {
        for await (const m of await (await js.consumers.get(streamNames(cfg).telemetry, `WG_processor_telemetry_${p}`)).fetch({ max_messages: 5, expires: 1000 })) {
          void m;
          taken++;
        }
      }
      expect(taken).toBeGreaterThan(0);
      await expectOracleWindows(nc, cfg, proc, fleet);
    } finally {
      await nc.close();
    }
  });

  it("200 devices x 500 readings: the latest revision of every window equals the oracle", async () => {
    const cfg = config("W1_");
    const nc = await connectNats(cfg.nats, silentLogger, "test");
    try {
      await ensureStreams(nc, cfg);
      const fleet = buildFleet({ devices: 200, readings: 500 });
      await publishFleet(nc, cfg, fleet);
      const registry = createRegistry();
      const proc = createProcessor({ nc, cfg, log: silentLogger, registry }, { kinds: ["telemetry"], onFatal: (e) => { throw e; } });
      await proc.start();
      const oracle = await expectOracleWindows(nc, cfg, proc, fleet);
      expect(oracle.late).toBeGreaterThan(0);
      const dlq = await readStream<DlqRecord>(nc, streamNames(cfg).dlq, `${cfg.streams.subjectRoot}.dlq.processor.late_event`);
      expect(dlq.length).toBe(oracle.late);
      expect(dlq[0]!.data.stage).toBe("processor");
      expect(Buffer.from(dlq[0]!.data.original, "base64").toString()).toContain("temperature");
      const metrics = await registry.metrics();
      expect(metrics).toMatch(new RegExp(`fleetstream_processor_duplicates_total\\{stream="telemetry"\\} ${oracle.duplicates}\\b`));
      expect(metrics).toMatch(/fleetstream_processor_sequence_gaps_total\{stream="telemetry"\} [1-9]/);
      const gaps = await readStream(nc, streamNames(cfg).results, `${cfg.streams.subjectRoot}.events.SequenceGapDetected.>`);
      expect(gaps.length).toBeGreaterThan(0);
    } finally {
      await nc.close();
    }
  });

  it("locations along a known route: distance within 0.1 % of haversine, out-of-order fixes counted and excluded", async () => {
    const cfg = config("L1_");
    const nc = await connectNats(cfg.nats, silentLogger, "test");
    try {
      await ensureStreams(nc, cfg);
      const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
      // A route around a city block and out along a road: 300 fixes, 1 s apart.
      const route: Array<{ lat: number; lon: number; t: number }> = [];
      for (let i = 0; i < 300; i++) route.push({ lat: 48.137 + 0.0004 * Math.sin(i / 20) + i * 0.00002, lon: 11.575 + 0.0004 * Math.cos(i / 20), t: 1_767_225_600_000 + i * 1000 });
      const stale = [50, 120, 121, 250]; // re-sent later with their old timestamps: out of order
      const pub = createJsPublisher(nc);
      const send = (device: string, id: string, p: { lat: number; lon: number; t: number }, seq?: number) => {
        const data = { lat: p.lat, lon: p.lon, accuracy: 5 };
        const h = toHeaders({ specversion: "1.0", id, source: "test", type: "LocationUpdated", subject: device, time: rfc3339(p.t), seq, datacontenttype: "application/json", data });
        return pub.publishDurably(subj.input("location", device), JSON.stringify(data), h);
      };
      const ps: Promise<unknown>[] = [];
      route.forEach((p, i) => {
        ps.push(send("car-1", `car-1:p${i}`, p));
        if (stale.includes(i - 5)) ps.push(send("car-1", `car-1:stale${i}`, route[i - 5]!));
      });
      await Promise.all(ps);
      await pub.close();
      const registry = createRegistry();
      const proc = createProcessor({ nc, cfg, log: silentLogger, registry }, { kinds: ["location"], onFatal: (e) => { throw e; } });
      await proc.start();
      await waitForDrained(nc, cfg, ["location"]);
      await proc.stop();

      const out = await readStream<LocationEnrichedData>(nc, streamNames(cfg).results, `${cfg.streams.subjectRoot}.results.location.>`);
      expect(out.length).toBe(route.length + stale.length);
      const ooo = out.filter((o) => o.data.outOfOrder);
      expect(ooo.length).toBe(stale.length);
      expect(ooo.every((o) => o.data.distance_m === undefined && o.data.speed_mps === undefined)).toBe(true);
      const total = out.reduce((a, o) => a + (o.data.distance_m ?? 0), 0);
      let oracle = 0;
      for (let i = 1; i < route.length; i++) oracle += haversine(route[i - 1]!.lat, route[i - 1]!.lon, route[i]!.lat, route[i]!.lon);
      expect(Math.abs(total - oracle) / oracle).toBeLessThan(0.001);
      expect(out.find((o) => o.id === "car-1:p10:loc")!.data.speed_mps).toBeCloseTo(out.find((o) => o.id === "car-1:p10:loc")!.data.distance_m! / 1, 6);
      expect(await registry.metrics()).toMatch(/fleetstream_processor_out_of_order_total\{stream="location"\} 4\b/);
    } finally {
      await nc.close();
    }
  });

  it("poison messages go to the DLQ as processing_failed with their original bytes; good neighbours are applied", async () => {
    const cfg = config("P1_", { idleTimeout: "300ms" });
    const nc = await connectNats(cfg.nats, silentLogger, "test");
    try {
      await ensureStreams(nc, cfg);
      const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
      const pub = createJsPublisher(nc);
      const good = (i: number) => {
        const data = { metrics: { t: i } };
        const h = toHeaders({ specversion: "1.0", id: `pz:s${i}`, source: "test", type: "SensorReadingRecorded", subject: "pz", time: rfc3339(1_767_225_600_000 + i * 1000), seq: i, datacontenttype: "application/json", data });
        return pub.publishDurably(subj.input("telemetry", "pz"), JSON.stringify(data), h);
      };
      await good(0);
      const bad = toHeaders({ specversion: "1.0", id: "pz:s1", source: "test", type: "SensorReadingRecorded", subject: "pz", time: rfc3339(1_767_225_601_000), seq: 1, datacontenttype: "application/json", data: null });
      await pub.publishDurably(subj.input("telemetry", "pz"), "{not json", bad);
      await pub.publish(subj.input("telemetry", "pz"), "{}"); // no CloudEvents headers at all
      await good(2);
      await pub.close();
      const registry = createRegistry();
      const proc = createProcessor({ nc, cfg, log: silentLogger, registry }, { kinds: ["telemetry"], onFatal: (e) => { throw e; } });
      await proc.start();
      await waitForDrained(nc, cfg);
      await waitForQuietResults(nc, cfg, cfg.processor.reorderTimeout + cfg.processor.idleTimeout + 1000);
      // Its partition consumers are watched for messages the stream's limits discard unread: none here.
      expect(await registry.metrics()).toMatch(new RegExp(`fleetstream_consumer_backlog_ratio\\{stream="${streamNames(cfg).telemetry}",consumer="P1_processor_telemetry_\\d+"\\} 0\\b`));
      await proc.stop();
      const dlq = await readStream<DlqRecord>(nc, streamNames(cfg).dlq, `${cfg.streams.subjectRoot}.dlq.processor.processing_failed`);
      expect(dlq.length).toBe(2);
      expect(Buffer.from(dlq[0]!.data.original, "base64").toString()).toBe("{not json");
      expect(dlq[0]!.data.error).toMatch(/cannot decode/);
      expect(dlq[1]!.data.error).toMatch(/no CloudEvents headers/);
      const { latest } = await readLatestWindows(nc, cfg);
      const tumbling = [...latest.entries()].find(([k]) => k.startsWith("pz|tumbling_10s|"))![1];
      expect(tumbling.metrics.t!.count).toBe(2);
      expect(await registry.metrics()).toMatch(/fleetstream_processor_consumer_lag_messages\{stream="telemetry",partition="\d+"\}/);
    } finally {
      await nc.close();
    }
  });
});
