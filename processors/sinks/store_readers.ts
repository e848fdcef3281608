/**
 * Test helpers: read every point of a store back as `measurement,tag=v,... field@time -> value`,
 * for VictoriaMetrics (`/api/v1/export`, series `<measurement>_<field>`) and InfluxDB 1.x (InfluxQL).
 */
import { influxQl } from "../../testing/influx_stores.ts";
import type { InfluxPoint } from "./line_protocol.ts";

export type PointMap = Map<string, number>;
/** What a store holds: every value per key (InfluxDB overwrites, so it has one). */
export type SampleMap = Map<string, number[]>;
export const MEASUREMENTS = ["sensor_window", "location", "sensor_reading"] as const;

function key(measurement: string, tags: Record<string, string>, field: string, time: number): string {
  const t = Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join(",");
  return `${measurement},${t} ${field}@${time}`;
}

/** What a list of points should read back as (later points overwrite earlier ones). */
export function expectedMap(points: InfluxPoint[]): PointMap {
  const m: PointMap = new Map();
  for (const p of points) for (const [f, v] of Object.entries(p.fields)) m.set(key(p.measurement, p.tags, f, p.time), v);
  return m;
}

/**
 * VictoriaMetrics keeps every sample of one timestamp (it has no "overwrite"), so this returns all
 * of them per key, in export order.
 */
export async function readVictoriaMetricsSamples(url: string): Promise<Map<string, number[]>> {
  const match = `{__name__=~"(${MEASUREMENTS.join("|")})_.+"}`;
  const r = await fetch(`${url}/api/v1/export?match[]=${encodeURIComponent(match)}&start=0`);
  if (!r.ok) throw new Error(`export failed: ${r.status} ${await r.text()}`);
  const m = new Map<string, number[]>();
  for (const line of (await r.text()).split("\n")) {
    if (!line.trim()) continue;
    const s = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
    const { __name__: name, ...tags } = s.metric;
    const measurement = MEASUREMENTS.find((x) => name!.startsWith(`${x}_`))!;
    const field = name!.slice(measurement.length + 1);
    s.timestamps.forEach((t, i) => {
      const k = key(measurement, tags, field, t);
      m.set(k, [...(m.get(k) ?? []), s.values[i]!]);
    });
  }
  return m;
}

/** The stored values per key; more than one only where VictoriaMetrics kept several of one timestamp. */
export async function readVictoriaMetrics(url: string): Promise<SampleMap> {
  return readVictoriaMetricsSamples(url);
}

export async function readInfluxDb1(url: string, db: string): Promise<SampleMap> {
  const m: SampleMap = new Map();
  for (const measurement of MEASUREMENTS) {
    for (const s of await influxQl(url, db, `SELECT * FROM "${measurement}" GROUP BY *`)) {
      const tags = Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, v]) => v !== ""));
      for (const row of s.values) {
        const time = row[0] as number;
        s.columns.forEach((c, i) => {
          if (i > 0 && row[i] !== null) m.set(key(measurement, tags, c, time), [row[i] as number]);
        });
      }
    }
  }
  return m;
}

/**
 * Differences between two maps, for readable assertion failures (at most 10). VictoriaMetrics keeps
 * about 12 significant decimal digits of a float, so its reads compare with `relTol` 1e-11.
 */
export function diff(expected: PointMap, actual: SampleMap, relTol = 0, single = true): string[] {
  const out: string[] = [];
  const same = (a: number, b: number) => a === b || Math.abs(a - b) <= relTol * Math.max(Math.abs(a), Math.abs(b));
  for (const [k, v] of expected) {
    const got = actual.get(k) ?? [];
    if (!got.some((g) => same(v, g)) || (single && got.length !== 1)) out.push(`${k}: expected ${v}, got ${JSON.stringify(got)}`);
  }
  for (const k of actual.keys()) if (!expected.has(k)) out.push(`${k}: unexpected`);
  return out.length > 10 ? [...out.slice(0, 10), `... and ${out.length - 10} more`] : out;
}
