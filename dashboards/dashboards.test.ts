// Proves the provisioned dashboards are wired to provisioned datasources and that every InfluxQL panel query returns rows from a real InfluxDB 1.6 holding the contract schema.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createRegistry } from "../core/metrics.ts";
import { fromConfig } from "../simulator/options.ts";
import { planMessages } from "../simulator/plan.ts";
import { createInfluxDb, influxQl, metricDefinedInCode, startInfluxDb1, writeLines, type StoreHandle } from "../testing/mod.ts";
import { expandInfluxQl, findEmptyPanels, listPanelQueries, loadDashboards } from "./queries.ts";
import { samplePoints } from "./sample_points.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

const dashboards = loadDashboards();
const queries = listPanelQueries(dashboards);

function provisionedDatasources(): Array<{ uid: string; type: string; jsonData?: Record<string, unknown> }> {
  const dir = join(HERE, "provisioning/datasources");
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => (parse(readFileSync(join(dir, f), "utf8")) as { datasources: Array<{ uid: string; type: string }> }).datasources);
}

describe("dashboard files", () => {
  it("are the four dashboards with stable uids", () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(["fleetstream-device", "fleetstream-fleet", "fleetstream-locations", "fleetstream-pipeline"]);
  });

  it("use only provisioned datasources (InfluxDB with InfluxQL, Prometheus), by uid", () => {
    const ds = provisionedDatasources();
    const influx = ds.find((d) => d.type === "influxdb");
    expect(influx?.uid).toBe("fleetstream-influxdb");
    expect(influx?.jsonData?.version).toBe("InfluxQL");
    expect(ds.find((d) => d.type === "prometheus")?.uid).toBe("fleetstream-prometheus");
    const uids = new Set(ds.map((d) => d.uid));
    const used = new Set<string>();
    const visit = (o: unknown): void => {
      if (Array.isArray(o)) o.forEach(visit);
      else if (o && typeof o === "object") {
        const r = o as Record<string, unknown>;
        if (r.datasource && typeof r.datasource === "object") used.add(String((r.datasource as { uid?: string }).uid));
        Object.values(r).forEach(visit);
      }
    };
    visit(dashboards);
    expect(used.size).toBeGreaterThan(0);
    for (const u of used) expect(uids, `datasource uid ${u} is not provisioned`).toContain(u);
    const provider = parse(readFileSync(join(HERE, "provisioning/dashboards/fleetstream.yaml"), "utf8")) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(provider.providers[0]?.type).toBe("file");
  });

  it("has a $device variable on the device dashboard and a geomap on the locations dashboard", () => {
    const device = dashboards.find((d) => d.uid === "fleetstream-device")!;
    expect(device.templating?.list.map((v) => v.name)).toContain("device");
    expect(queries.filter((q) => q.dashboardUid === "fleetstream-device" && q.panelType !== "variable").every((q) => q.query.includes("$device"))).toBe(true);
    const loc = dashboards.find((d) => d.uid === "fleetstream-locations")!;
    expect(loc.panels.some((p) => p.type === "geomap")).toBe(true);
    for (const t of ["speed_mps", "distance_m"]) expect(queries.some((q) => q.dashboardUid === "fleetstream-locations" && q.query.includes(t))).toBe(true);
  });

  it("names only fleetstream_* metrics in Prometheus queries", async () => {
    const processMetrics = (await createRegistry({ defaultMetrics: true }).getMetricsAsJSON()).map((m) => m.name);
    const prom = queries.filter((q) => q.language === "promql");
    expect(prom.length).toBeGreaterThanOrEqual(10);
    const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"]);
    for (const q of prom) {
      const stripped = q.query
        .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, " ")
        .replace(/\{[^}]*\}|\[[^\]]*\]|"[^"]*"/g, " ");
      const metrics = [...stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)]
        .filter((m) => !/^\s*\(/.test(stripped.slice(m.index! + m[0].length))) // a function call
        .map((m) => m[0])
        .filter((n) => !KEYWORDS.has(n));
      expect(metrics.length, `${q.panelTitle}: ${q.query}`).toBeGreaterThan(0);
      for (const n of metrics) expect(n, `${q.panelTitle}: ${q.query}`).toMatch(/^fleetstream_(gateway|processor|sink|fanout|consumer|process)_/);
    }
    // Each metric is defined by the code that exports it (a renamed metric fails here, not silently on a dashboard).
    const defined = metricDefinedInCode();
    const names = new Set(prom.flatMap((q) => [...q.query.matchAll(/fleetstream_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""))));
    for (const n of names) {
      if (n.startsWith("fleetstream_process_")) {
        // prom-client's default metrics, under the prefix core/metrics.ts gives them.
        expect(processMetrics, `${n} is not one of the process metrics`).toContain(n);
        continue;
      }
      expect(defined(n), `${n} is not defined in gateway/, processors/ or core/`).toBe(true);
    }
    const prefixes = new Set(prom.flatMap((q) => [...q.query.matchAll(/fleetstream_([a-z]+)_/g)].map((m) => m[1])));
    for (const p of ["gateway", "processor", "sink", "fanout"]) expect(prefixes).toContain(p);
  });
});

describe("expandInfluxQl", () => {
  it("replaces time, interval and variables, escaping values for regexes", () => {
    const q = expandInfluxQl('SELECT mean("v") FROM "m" WHERE $timeFilter AND "device" =~ /^$device$/ AND "window" =~ /^${window}$/ GROUP BY time($__interval)', {
      from: 1000,
      to: 601_000,
      device: "a.b-1",
      vars: { window: "tumbling_1m" },
    });
    expect(q).toBe('SELECT mean("v") FROM "m" WHERE time >= 1000ms AND time <= 601000ms AND "device" =~ /^a\\.b-1$/ AND "window" =~ /^tumbling_1m$/ GROUP BY time(6000ms)');
  });

  it("refuses to leave a variable unexpanded", () => {
    expect(() => expandInfluxQl('SELECT 1 FROM "m" WHERE "device" = \'$device\'', { from: 0, to: 1 })).toThrow(/\$device/);
  });
});

describe("InfluxQL panel queries on InfluxDB 1.6", () => {
  let influx: StoreHandle;
  const DB = "fleetstream";
  const startTs = Math.floor((Date.now() - 40 * 60_000) / 60_000) * 60_000;
  const opts = fromConfig({ sensors: 4, vehicles: 3, zigbee: 1, rate: 1, duration: 20 * 60_000, seed: 5, disorder: 0.05, duplicates: 0.05, malformed: 0.02, offline: 0.005 });

  beforeAll(async () => {
    influx = await startInfluxDb1();
    await createInfluxDb(influx.url, DB);
    const lines = samplePoints(planMessages({ ...opts, startTs }), startTs);
    for (let i = 0; i < lines.length; i += 5000) await writeLines(influx.url, DB, lines.slice(i, i + 5000).join("\n"));
  });
  afterAll(async () => {
    await influx?.cleanup();
  });

  it("every panel and variable query is valid and returns rows", async () => {
    const influxQueries = queries.filter((q) => q.language === "influxql");
    expect(influxQueries.length).toBeGreaterThanOrEqual(20);
    const ctx = { from: startTs - 60_000, to: startTs + 25 * 60_000, device: "sensor-0002", vars: { vehicle: "vehicle-0001", window: "tumbling_1m", metric: "temperature" } };
    const empty = await findEmptyPanels((q) => influxQl(influx.url, DB, q), ctx, influxQueries);
    expect(empty).toEqual([]);
  });

  it("reports a panel whose data is missing", async () => {
    const ctx = { from: startTs, to: startTs + 60_000, device: "no-such-device", vars: { vehicle: "no-such-vehicle", window: "tumbling_1m", metric: "temperature" } };
    const empty = await findEmptyPanels((q) => influxQl(influx.url, DB, q), ctx, queries.filter((q) => q.dashboardUid === "fleetstream-device"));
    expect(empty.some((e) => e.startsWith("fleetstream-device / temperature (raw)"))).toBe(true);
    await expect(findEmptyPanels((q) => influxQl(influx.url, DB, q), ctx, [{ ...queries[0]!, language: "influxql", query: "SELEC nonsense" }])).rejects.toThrow(/fleetstream-\w+ \/ .*error parsing query/);
  });

  it("a window panel returns the aggregates of the raw readings", async () => {
    const ctx = { from: startTs, to: startTs + 20 * 60_000 - 1, device: "sensor-0001" };
    const [raw] = await influxQl(influx.url, DB, expandInfluxQl('SELECT count("temperature") FROM "sensor_reading" WHERE $timeFilter AND "device" =~ /^$device$/', ctx));
    const [win] = await influxQl(influx.url, DB, expandInfluxQl('SELECT sum("count") FROM "sensor_window" WHERE $timeFilter AND "device" =~ /^$device$/ AND "metric" = \'temperature\'', ctx));
    expect(raw!.values[0]![1]).toBe(20 * 60);
    expect(win!.values[0]![1]).toBe(20 * 60);
  });
});
