/**
 * The two write APIs behind one interface (CONTRACT section 7): `v2` through
 * `@influxdata/influxdb-client`'s transport (`/api/v2/write`, token auth; InfluxDB 2.x/3.x, 1.8+,
 * VictoriaMetrics) and `v1` through `fetch` (`/write?db=`; InfluxDB 1.x). Both send line protocol
 * with millisecond precision and do no retries of their own: retrying is the point writer's job.
 *
 * Deletes (for a session window that a merge superseded) go to `/api/v2/delete` or, on v1, as an
 * InfluxQL `DELETE` to `/query`. Stores without deletes (VictoriaMetrics) answer with an error that
 * `isUnsupportedDelete` recognises.
 */
import { HttpError, InfluxDB } from "@influxdata/influxdb-client";
import type { Config } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";
import { InfluxWriteError } from "./errors.ts";

export interface InfluxWriteApi {
  /** `v1` or `v2`, for logs and metrics. */
  readonly kind: "v1" | "v2";
  /** Writes lines, joined by newlines; rejects with `InfluxWriteError` (status, server body) or a network error. */
  write(lines: string): Promise<void>;
  /** Deletes every point of `measurement` at `time` whose tags include `tags`; rejects like `write`. */
  deletePoints(d: PointDeletion): Promise<void>;
}

/** The points to delete: one measurement, a subset of its tags, one timestamp (ms). */
export interface PointDeletion {
  measurement: string;
  tags: Record<string, string>;
  time: number;
}

export interface InfluxWriteApiOptions {
  url: string;
  api: "v1" | "v2";
  token?: string;
  org: string;
  bucket: string;
  db: string;
  username?: string;
  password?: string;
  /** Per-request timeout. */
  timeoutMs: number;
}

export const DEFAULT_INFLUX_WRITE_API_OPTIONS: Omit<InfluxWriteApiOptions, "url"> = {
  api: "v2",
  org: "fleetstream",
  bucket: "fleetstream",
  db: "fleetstream",
  timeoutMs: 10_000,
};

/** Options from config; throws `ConfigError` when no InfluxDB URL is set. */
export function writeApiOptionsFromConfig(cfg: Pick<Config, "influx">): InfluxWriteApiOptions {
  const i = cfg.influx;
  if (!i.url) throw new ConfigError("invalid config at influx.url: the InfluxDB sink needs a URL (set INFLUX_URL, e.g. http://127.0.0.1:8086)", "influx.url");
  return { ...DEFAULT_INFLUX_WRITE_API_OPTIONS, url: i.url, api: i.api, token: i.token, org: i.org, bucket: i.bucket, db: i.db, username: i.username, password: i.password };
}

/** @example const api = createInfluxWriteApi({ ...DEFAULT_INFLUX_WRITE_API_OPTIONS, url: "http://127.0.0.1:8086", api: "v1" }) */
export function createInfluxWriteApi(o: InfluxWriteApiOptions): InfluxWriteApi {
  return o.api === "v1" ? createV1(o) : createV2(o);
}

function createV2(o: InfluxWriteApiOptions): InfluxWriteApi {
  const influx = new InfluxDB({ url: o.url, token: o.token ?? "", timeout: o.timeoutMs });
  const target = `org=${encodeURIComponent(o.org)}&bucket=${encodeURIComponent(o.bucket)}`;

  /** One POST; an error status becomes an `InfluxWriteError` (with the server's Retry-After). */
  async function post(what: "write" | "delete", path: string, body: string, contentType: string): Promise<void> {
    try {
      await influx.transport.request(path, body, { method: "POST", headers: { "content-type": contentType } });
    } catch (e) {
      if (e instanceof HttpError) {
        const message = serverMessage(e.body ?? e.message);
        throw new InfluxWriteError(`v2 ${what} failed: ${e.statusCode} ${message}`, e.statusCode, message, e.retryAfter() > 0 ? e.retryAfter() * 1000 : undefined, { cause: e });
      }
      throw e;
    }
  }

  return {
    kind: "v2",
    write: (lines) => post("write", `/api/v2/write?${target}&precision=ms`, lines, "text/plain; charset=utf-8"),
    deletePoints(d) {
      const at = new Date(d.time).toISOString();
      const predicate = [`_measurement=${quoted(d.measurement)}`, ...Object.entries(d.tags).map(([k, v]) => `${k}=${quoted(v)}`)].join(" AND ");
      return post("delete", `/api/v2/delete?${target}`, JSON.stringify({ start: at, stop: at, predicate }), "application/json");
    },
  };
}

/** `s` between quotes, the quote and backslash escaped: v2 delete predicates, InfluxQL identifiers and strings. */
function quoted(s: string, quote: '"' | "'" = '"'): string {
  return quote + s.replace(quote === '"' ? /[\\"]/g : /[\\']/g, (c) => `\\${c}`) + quote;
}

function createV1(o: InfluxWriteApiOptions): InfluxWriteApi {
  const q = new URLSearchParams({ db: o.db, precision: "ms" });
  if (o.username) q.set("u", o.username);
  if (o.password) q.set("p", o.password);
  const base = o.url.replace(/\/$/, "");
  const url = `${base}/write?${q}`;
  return {
    kind: "v1",
    async write(lines) {
      const r = await fetch(url, { method: "POST", body: lines, headers: { "content-type": "text/plain; charset=utf-8" }, signal: AbortSignal.timeout(o.timeoutMs) });
      if (r.status >= 200 && r.status < 300) {
        await r.arrayBuffer();
        return;
      }
      const body = serverMessage(await r.text());
      const retryAfter = Number(r.headers.get("retry-after"));
      throw new InfluxWriteError(`v1 write failed: ${r.status} ${body}`, r.status, body, retryAfter > 0 ? retryAfter * 1000 : undefined);
    },
    async deletePoints(d) {
      const where = [...Object.entries(d.tags).map(([k, v]) => `${quoted(k)} = ${quoted(v, "'")}`), `time = ${Math.trunc(d.time)}ms`].join(" AND ");
      const dq = new URLSearchParams(q);
      dq.delete("precision");
      dq.set("q", `DELETE FROM ${quoted(d.measurement)} WHERE ${where}`);
      const r = await fetch(`${base}/query?${dq}`, { method: "POST", signal: AbortSignal.timeout(o.timeoutMs) });
      const text = await r.text();
      // InfluxQL reports a statement's error inside a 200 answer.
      const error = r.ok ? statementError(text) : serverMessage(text);
      if (error !== undefined) throw new InfluxWriteError(`v1 delete failed: ${r.status} ${error}`, r.ok ? 400 : r.status, error);
    },
  };
}

/** The error of an InfluxQL answer (whole request or first failed statement), if any. */
function statementError(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { error?: string; results?: Array<{ error?: string }> };
    return j.error ?? j.results?.find((x) => x.error)?.error;
  } catch {
    return undefined;
  }
}

/** The `error`/`message` of a JSON error body, else the body text. */
function serverMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: string; message?: string };
    return j.error ?? j.message ?? body;
  } catch {
    return body.trim();
  }
}
