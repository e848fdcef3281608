/**
 * JSON-lines logging. Secrets never reach the log: fields named like secrets are replaced and
 * passwords inside URLs are masked.
 */
import { redactUrl, SECRET_KEYS } from "./config.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  fields?: Record<string, unknown>;
}

function clean(v: unknown, depth = 0): unknown {
  if (v instanceof Error) return { name: v.name, message: redactUrl(v.message), ...(v.cause ? { cause: clean(v.cause, depth + 1) } : {}) };
  if (typeof v === "string") return redactUrl(v);
  if (depth > 4 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => clean(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEYS.has(k) && x !== undefined ? "[redacted]" : clean(x, depth + 1);
  return out;
}

/** @example createLogger({ level: "info" }).child({ component: "gateway" }).info("started", { port }) */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const base = opts.fields ?? {};
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec = { time: new Date().toISOString(), level, msg, ...(clean({ ...base, ...fields }) as object) };
    write(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = createLogger({ write: () => {}, level: "error" });
