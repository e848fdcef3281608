/**
 * The queries behind the Grafana dashboards in `dashboards/json`: lists every panel's (and template
 * variable's) query, and expands Grafana's macros so an InfluxQL query runs directly against InfluxDB.
 * Tests use it to prove that every panel returns rows on data of the contract's schema.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the dashboard JSON files live. */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), "json");

export type QueryLanguage = "influxql" | "promql";

/** One query of a dashboard: a panel target or a template variable. */
export interface PanelQuery {
  dashboardUid: string;
  dashboardTitle: string;
  /** The panel's title, or `$<name>` for a template variable. */
  panelTitle: string;
  panelId?: number;
  panelType: string;
  refId: string;
  datasourceUid: string;
  language: QueryLanguage;
  query: string;
}

interface DatasourceRef {
  type?: string;
  uid?: string;
}
interface Target {
  refId?: string;
  datasource?: DatasourceRef;
  query?: string;
  expr?: string;
}
interface Panel {
  id?: number;
  type: string;
  title: string;
  datasource?: DatasourceRef;
  targets?: Target[];
  panels?: Panel[];
}
/** The parts of a Grafana dashboard JSON this module reads. */
export interface DashboardJson {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: Array<{ name: string; type: string; datasource?: DatasourceRef; query?: string | { query?: string } }> };
}

/** Reads every dashboard JSON file of a directory. */
export function loadDashboards(dir = DASHBOARD_DIR): DashboardJson[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as DashboardJson);
}

const languageOf = (ds: DatasourceRef | undefined): QueryLanguage | undefined =>
  ds?.type === "influxdb" ? "influxql" : ds?.type === "prometheus" ? "promql" : undefined;

/**
 * Every query of every dashboard: panel targets (rows nested in collapsed rows included) and
 * query-type template variables.
 * @example listPanelQueries().filter((q) => q.language === "influxql")
 */
export function listPanelQueries(dashboards: DashboardJson[] = loadDashboards()): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const d of dashboards) {
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        if (p.panels) walk(p.panels);
        for (const t of p.targets ?? []) {
          const ds = t.datasource ?? p.datasource;
          const language = languageOf(ds);
          const query = language === "promql" ? t.expr : t.query;
          if (!language || query === undefined) continue;
          out.push({ dashboardUid: d.uid, dashboardTitle: d.title, panelTitle: p.title, panelId: p.id, panelType: p.type, refId: t.refId ?? "A", datasourceUid: ds?.uid ?? "", language, query });
        }
      }
    };
    walk(d.panels);
    for (const v of d.templating?.list ?? []) {
      if (v.type !== "query") continue;
      const language = languageOf(v.datasource);
      const query = typeof v.query === "string" ? v.query : v.query?.query;
      if (!language || query === undefined) continue;
      out.push({ dashboardUid: d.uid, dashboardTitle: d.title, panelTitle: `$${v.name}`, panelType: "variable", refId: v.name, datasourceUid: v.datasource?.uid ?? "", language, query });
    }
  }
  return out;
}

/** The time range and variable values to expand macros with. */
export interface MacroContext {
  /** Range start and end, epoch ms. */
  from: number;
  to: number;
  /** Value of `$device` (and of `$vehicle` unless given in `vars`). */
  device?: string;
  /** Other template variables, e.g. `{ window: "tumbling_1m", metric: "temperature" }`. */
  vars?: Record<string, string>;
  /** `$__interval`; default: the range divided into ~100 steps, at least 1 s (as Grafana picks it). */
  intervalMs?: number;
}

/** Escapes a value for use inside an InfluxQL regex `/.../`, as Grafana does for InfluxDB variables. */
export function escapeInfluxRegex(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}/]/g, "\\$&");
}

/**
 * Expands Grafana's InfluxQL macros (`$timeFilter`, `$__interval`, `$__interval_ms`, `$__timeFilter`)
 * and template variables (`$name`, `${name}`, `[[name]]`) so the query runs directly on InfluxDB.
 * @throws Error when a variable is left without a value
 * @example expandInfluxQl('SELECT "temperature" FROM "sensor_reading" WHERE $timeFilter AND "device" =~ /^$device$/', { from, to, device: "t1" })
 */
export function expandInfluxQl(query: string, ctx: MacroContext): string {
  const interval = Math.max(1000, ctx.intervalMs ?? Math.round((ctx.to - ctx.from) / 100));
  const values: Record<string, string> = {
    ...(ctx.device !== undefined ? { device: escapeInfluxRegex(ctx.device), vehicle: escapeInfluxRegex(ctx.device) } : {}),
    ...Object.fromEntries(Object.entries(ctx.vars ?? {}).map(([k, v]) => [k, escapeInfluxRegex(v)])),
  };
  const timeFilter = `time >= ${Math.floor(ctx.from)}ms AND time <= ${Math.floor(ctx.to)}ms`;
  let q = query
    .replace(/\$__timeFilter\b|\$timeFilter\b/g, timeFilter)
    .replace(/\$__interval_ms\b/g, String(interval))
    .replace(/\$__interval\b/g, `${interval}ms`);
  q = q.replace(/\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)/g, (m, a: string | undefined, b: string | undefined, c: string | undefined) => {
    const name = (a ?? b ?? c)!;
    const v = values[name];
    if (v === undefined) throw new Error(`query uses $${name} but no value was given for it: ${query}`);
    return v;
  });
  return q;
}

/** One series of an InfluxQL answer (the shape of `/query` JSON and of testing's `influxQl`). */
export interface InfluxSeries {
  name?: string;
  columns: string[];
  values: unknown[][];
}

/**
 * Runs every InfluxQL query of the dashboards (expanded with `ctx`) through `run` and lists those that
 * returned no non-null value, as `<dashboard uid> / <panel title>: <query>`. A query the server refuses
 * rejects the promise with the panel named.
 * @example expect(await findEmptyPanels((q) => influxQl(url, "fleetstream", q), { from, to, device: "sensor-0001" })).toEqual([])
 */
export async function findEmptyPanels(run: (query: string) => Promise<InfluxSeries[]>, ctx: MacroContext, queries: PanelQuery[] = listPanelQueries()): Promise<string[]> {
  const empty: string[] = [];
  for (const q of queries.filter((x) => x.language === "influxql")) {
    const text = expandInfluxQl(q.query, ctx);
    let series: InfluxSeries[];
    try {
      series = await run(text);
    } catch (e) {
      throw new Error(`${q.dashboardUid} / ${q.panelTitle}: ${(e as Error).message}\n${text}`, { cause: e });
    }
    const values = series.flatMap((s) => s.values.map((row) => row.slice(s.columns[0] === "time" ? 1 : 0)));
    if (!values.some((row) => row.some((v) => v !== null))) empty.push(`${q.dashboardUid} / ${q.panelTitle}: ${text}`);
  }
  return empty;
}
