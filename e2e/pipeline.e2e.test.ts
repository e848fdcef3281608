// Proves the whole pipeline — simulated devices -> Mosquitto -> gateway -> JetStream -> processors ->
// InfluxDB 1.6, with fan-out rules to webhooks — lands every window within its SLA (window + allowed
// lateness + 5 s); that every InfluxQL dashboard query returns rows from what the real pipeline wrote;
// and that a real Prometheus scraping the same process returns rows for every pipeline-health query
// (the run includes bad input, late, duplicate and out-of-order events and a write the store rejects)
// and loads the compose stack's alert rules.
import type { NatsConnection } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../core/config.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry, startOpsServer, type OpsServer } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { expandInfluxQl, listPanelQueries } from "../dashboards/queries.ts";
import { createGateway, type Gateway } from "../gateway/gateway.ts";
import { createFanout, type Fanout } from "../processors/fanout/fanout.ts";
import { createProcessor, type Processor } from "../processors/processor.ts";
import { createInfluxSink, type InfluxSink } from "../processors/sinks/influx_sink.ts";
import { createSimulator, fromConfig } from "../simulator/mod.ts";
import {
  createInfluxDb, freePort, influxQl, startInfluxDb1, startMosquitto, startNatsServer, startPrometheus, writeLines,
  type MosquittoHandle, type NatsServerHandle, type PrometheusHandle, type StoreHandle,
} from "../testing/mod.ts";

const ALERTS = join(dirname(fileURLToPath(import.meta.url)), "..", "deploy", "prometheus", "alerts.yml");

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
  let fanout: Fanout;
  let ops: OpsServer;
  let prom: PrometheusHandle;
  let hook: Server;
  let hooked = 0;
  let from = 0;
  let to = 0;
  /** The simulator's first event time (and first seq). */
  let simStart = 0;
  /** When the test consumer first saw each window point, keyed `device|start`. */
  const landed = new Map<string, number>();
  /** Windows the readings sent should produce, keyed `device|start`. */
  const expected = new Set<string>();

  beforeAll(async () => {
    [ns, mq, influx] = await Promise.all([startNatsServer(), startMosquitto(), startInfluxDb1()]);
    await createInfluxDb(influx.url, DB);
    // A webhook that takes every window result, and a port where nothing listens (its rule dead-letters).
    hook = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        hooked++;
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/windows`;
    const deadUrl = `http://127.0.0.1:${await freePort()}/nobody`;
    cfg = loadConfig({
      env: {},
      overrides: {
        nats: { url: ns.url },
        mqtt: { url: mq.url, clientId: "e2e-gateway" },
        influx: { url: influx.url, api: "v1", db: DB, flushInterval: 250 },
        processor: { windows: [{ type: "tumbling", size: WINDOW_MS }], maxOutOfOrder: 1000, allowedLateness: LATENESS_MS, idleTimeout: 3000 },
        http: { port: 0 },
        rules: [
          { name: "windows_hook", pattern: { type: ["WindowAggregateComputed"] }, target: { type: "webhook", url: hookUrl, timeout: 2000 } },
          {
            name: "dead_hook",
            pattern: { type: ["WindowAggregateComputed"], subject: ["e2e-sensor-0001"] },
            target: { type: "webhook", url: deadUrl, timeout: 500 },
            maxAttempts: 2,
            backoff: { initial: 50, max: 100 },
          },
        ],
      },
    });
    nc = await connectNats(cfg.nats, silentLogger, "e2e");
    await ensureStreams(nc, cfg);
    // As every fleetstream process has it: with the process metrics (memory) beside its own.
    const registry = createRegistry({ defaultMetrics: true });
    const deps = { nc, cfg, log: silentLogger, registry };
    processor = createProcessor(deps, { ensureStreams: false });
    sink = createInfluxSink(deps);
    gateway = createGateway(deps);
    fanout = createFanout(deps);
    await processor.start();
    await sink.start();
    await fanout.start();
    await gateway.start();
    ops = await startOpsServer(registry, { port: 0, host: "127.0.0.1" });
    prom = await startPrometheus({ targets: [`127.0.0.1:${ops.port}`], job: "fleetstream-e2e", ruleFiles: [ALERTS] });
  });

  afterAll(async () => {
    await gateway?.stop();
    await processor?.stop();
    await sink?.stop();
    await fanout?.stop();
    await ops?.close();
    await nc?.close();
    await new Promise((r) => hook?.close(r));
    await Promise.all([ns?.cleanup(), mq?.cleanup(), influx?.cleanup(), prom?.cleanup()]);
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
    simStart = summary.startTs;
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
  it("a real Prometheus returns rows for every pipeline-health query and loads the alert rules", async () => {
    expect(to).toBeGreaterThan(0);
    // Input the gateway must reject, and events the processor must count as late, duplicate and out
    // of order, so that those panels have series too.
    const dev = await mqtt.connectAsync(mq.url, { clientId: "e2e-odd-device" });
    await dev.publishAsync("devices/e2e-bad/telemetry", "{not json", { qos: 1 });
    await dev.publishAsync("devices/e2e-bad/telemetry", JSON.stringify({ metrics: "no" }), { qos: 1 });
    // Beyond allowed lateness behind the device's watermark: dead-lettered as late_event.
    await dev.publishAsync("devices/e2e-sensor-0001/telemetry", JSON.stringify({ ts: simStart, id: "late-1", metrics: { temperature: 1 } }), { qos: 1 });
    // A seq the device already sent, under a new id: stored, then dropped by the processor.
    await dev.publishAsync("devices/e2e-sensor-0002/telemetry", JSON.stringify({ ts: simStart, seq: simStart, id: "again-1", metrics: { temperature: 1 } }), { qos: 1 });
    // A float `mode` where the store already holds a string `mode` (field types are per measurement in
    // InfluxDB 1.x): the store rejects the sink's write, which dead-letters that one reading.
    const conflictTs = Date.now();
    await writeLines(influx.url, DB, `sensor_reading,device=e2e-preset mode="eco" ${conflictTs}`);
    await dev.publishAsync("devices/e2e-conflict/telemetry", JSON.stringify({ ts: conflictTs, id: "conflict-1", metrics: { mode: 2 } }), { qos: 1 });
    // Older than the vehicle's last fix: counted out of order.
    await dev.publishAsync("devices/e2e-vehicle-0001/location", JSON.stringify({ ts: simStart + 1000, id: "old-fix", lat: 48.1, lon: 11.5 }), { qos: 1 });
    await dev.endAsync();
    // Every window reached the live webhook; the dead one has dead-lettered some.
    expect(hooked).toBeGreaterThan(0);
    const queries = listPanelQueries().filter((q) => q.language === "promql");
    expect(queries.length).toBeGreaterThan(20);
    // Grafana's $__rate_interval, for a 1 s scrape; a window of 2 minutes reaches back over the whole run.
    const expand = (q: string) => q.replaceAll("$__rate_interval", "2m").replaceAll("$__range", "2m");
    const empty = async () => {
      const out: string[] = [];
      for (const q of queries) {
        const rows = await prom.query(expand(q.query)).catch((e: Error) => {
          throw new Error(`${q.dashboardUid} / ${q.panelTitle}: ${e.message}\n${q.query}`);
        });
        if (rows.length === 0) out.push(`${q.panelTitle}: ${q.query}`);
      }
      return out;
    };
    // Scrapes are 1 s apart; allow a few for the last counters to land.
    let missing: string[] = [];
    const deadline = Date.now() + 20_000;
    do {
      missing = await empty();
      if (missing.length === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    } while (Date.now() < deadline);
    expect(missing, "pipeline-health queries with no rows").toEqual([]);
    // And the odd input above was counted where it belongs.
    const total = async (q: string) => Number((await prom.query(`sum(${q})`))[0]?.value[1] ?? 0);
    const counted = async () => ({
      rejected: await total("fleetstream_gateway_rejected_total"),
      late: await total("fleetstream_processor_late_events_total"),
      duplicates: await total('fleetstream_processor_duplicates_total{stream="telemetry"}'),
      outOfOrder: await total('fleetstream_processor_out_of_order_total{stream="location"}'),
      lateDeadLetters: await total('fleetstream_processor_dlq_total{reason="late_event"}'),
      storeRejections: await total('fleetstream_sink_write_errors_total{kind="rejected"}') > 0,
      sinkDeadLetters: await total('fleetstream_sink_dlq_total{reason="processing_failed"}'),
    });
    const want = { rejected: 2, late: 1, duplicates: 1, outOfOrder: 1, lateDeadLetters: 1, storeRejections: true, sinkDeadLetters: 1 };
    let got = await counted();
    while (Date.now() < deadline + 10_000 && JSON.stringify(got) !== JSON.stringify(want)) {
      await new Promise((r) => setTimeout(r, 1000));
      got = await counted();
    }
    expect(got).toEqual(want);
    expect((await prom.rules()).sort()).toEqual(["FleetstreamConsumerLosingMessages", "FleetstreamConsumerNearRetention", "FleetstreamProcessDown", "FleetstreamStoreWritesFailing"]);
    // Nothing to alert on in a clean run.
    expect(await prom.query(`ALERTS{alertstate="firing"}`)).toEqual([]);
  }, 60_000);
});
