// Proves the whole pipeline — simulated devices -> Mosquitto -> gateway -> JetStream -> processors ->
// InfluxDB 1.6 — lands every window within its SLA (window + allowed lateness + 5 s), and that every
// dashboard query returns rows from what the real pipeline wrote.
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { expandInfluxQl, listPanelQueries } from "../dashboards/queries.ts";
import { createGateway, type Gateway } from "../gateway/gateway.ts";
import { createProcessor, type Processor } from "../processors/processor.ts";
import { createInfluxSink, type InfluxSink } from "../processors/sinks/influx_sink.ts";
import { createSimulator, fromConfig } from "../simulator/mod.ts";
import {
  createInfluxDb, influxQl, startInfluxDb1, startMosquitto, startNatsServer,
  type MosquittoHandle, type NatsServerHandle, type StoreHandle,
} from "../testing/mod.ts";

const WINDOW_MS = 10_000;
const LATENESS_MS = 5_000;
const SLA_MS = WINDOW_MS + LATENESS_MS + 5_000;
const DB = "fleetstream";

describe("end to end: devices to InfluxDB", () => {
  let ns: NatsServerHandle;
  let mq: MosquittoHandle;
  let influx: StoreHandle;
  let nc: NatsConnection;
  let cfg: Config;
  let gateway: Gateway;
  let processor: Processor;
  let sink: InfluxSink;
  let from = 0;
  let to = 0;
  /** When the test consumer first saw each window point, keyed `device|start`. */
  const landed = new Map<string, number>();
  /** Windows the readings sent should produce, keyed `device|start`. */
  const expected = new Set<string>();

  beforeAll(async () => {
    [ns, mq, influx] = await Promise.all([startNatsServer(), startMosquitto(), startInfluxDb1()]);
    await createInfluxDb(influx.url, DB);
    cfg = loadConfig({
      env: {},
      overrides: {
        nats: { url: ns.url },
        mqtt: { url: mq.url, clientId: "e2e-gateway" },
        influx: { url: influx.url, api: "v1", db: DB, flushInterval: 250 },
        processor: { windows: [{ type: "tumbling", size: WINDOW_MS }], maxOutOfOrder: 1000, allowedLateness: LATENESS_MS, idleTimeout: 3000 },
        http: { port: 0 },
      },
    });
    nc = await connectNats(cfg.nats, silentLogger, "e2e");
    await ensureStreams(nc, cfg);
    const registry = createRegistry();
    const deps = { nc, cfg, log: silentLogger, registry };
    processor = createProcessor(deps, { ensureStreams: false });
    sink = createInfluxSink(deps);
    gateway = createGateway(deps);
    await processor.start();
    await sink.start();
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.stop();
    await processor?.stop();
    await sink?.stop();
    await nc?.close();
    await Promise.all([ns?.cleanup(), mq?.cleanup(), influx?.cleanup()]);
  });

  it("lands every window within window + lateness + 5 s", async () => {
    const sim = createSimulator(
      fromConfig({ url: mq.url, sensors: 8, vehicles: 2, rate: 2, duration: 32_000, seed: 11, prefix: "e2e-", progressInterval: 0, protocolVersion: 5 }),
    );
    from = Date.now() - 1000;
    const run = sim.run();
    // The test consumer: polls InfluxDB and notes when each window point first appears.
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const series = await influxQl(influx.url, DB, `SELECT "count" FROM "sensor_window" WHERE "metric" = 'temperature' GROUP BY "device"`);
        const now = Date.now();
        for (const s of series) for (const row of s.values) {
          const key = `${s.tags!.device}|${row[0]}`;
          if (!landed.has(key)) landed.set(key, now);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const summary = await run;
    expect(summary.acked).toBe(summary.sent);
    to = Date.now();
    // Every sensor sends a reading every 500 ms from startTs: its windows are those its readings fall in.
    for (let d = 1; d <= 8; d++) {
      for (let t = summary.startTs; t < summary.startTs + 32_000; t += 500) {
        expected.add(`e2e-sensor-${String(d).padStart(4, "0")}|${Math.floor(t / WINDOW_MS) * WINDOW_MS}`);
      }
    }
    const lastEnd = Math.max(...[...expected].map((k) => Number(k.split("|")[1]))) + WINDOW_MS;
    const deadline = lastEnd + SLA_MS;
    while (Date.now() < deadline && [...expected].some((k) => !landed.has(k))) await new Promise((r) => setTimeout(r, 250));
    polling = false;
    await poll;

    const missing = [...expected].filter((k) => !landed.has(k));
    expect(missing, "windows that never landed").toEqual([]);
    const breaches = [...expected]
      .map((k) => ({ k, late: landed.get(k)! - (Number(k.split("|")[1]) + WINDOW_MS + LATENESS_MS + 5_000) }))
      .filter((x) => x.late > 0);
    expect(breaches, "windows that landed after their SLA").toEqual([]);
    // Nothing beyond what was sent: no phantom windows.
    expect([...landed.keys()].filter((k) => !expected.has(k))).toEqual([]);
  }, 120_000);

  it("every dashboard query returns rows from what the pipeline wrote", async () => {
    expect(to).toBeGreaterThan(0);
    const ctx = { from: from - 60_000, to: Date.now(), device: "e2e-sensor-0001", vars: { vehicle: "e2e-vehicle-0001", window: `tumbling_10s`, metric: "temperature" } };
    const queries = listPanelQueries().filter((q) => q.language === "influxql");
    expect(queries.length).toBeGreaterThan(10);
    const empty: string[] = [];
    for (const q of queries) {
      const text = expandInfluxQl(q.query, ctx);
      const series = await influxQl(influx.url, DB, text).catch((e: Error) => {
        throw new Error(`${q.dashboardUid} / ${q.panelTitle}: ${e.message}\n${text}`);
      });
      const values = series.flatMap((s) => s.values.map((row) => row.slice(s.columns[0] === "time" ? 1 : 0)));
      if (!values.some((row) => row.some((v) => v !== null))) empty.push(`${q.dashboardUid} / ${q.panelTitle}: ${text}`);
    }
    expect(empty).toEqual([]);
  });
});
