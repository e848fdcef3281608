/**
 * fleetstream's configuration: `fleetstream.yaml` (from `--config` or `FLEETSTREAM_CONFIG`) overridden
 * by environment variables, validated by one zod schema and returned frozen (CONTRACT section 9).
 *
 * This is the only module that reads `process.env`. Everything works from environment variables
 * alone; the file adds routes, windows, rules and limits.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import * as z from "zod";
import { ConfigError } from "./errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZES: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** `"5s"`, `"1m"`, `"7d"`, `"250ms"` or a number of milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === "number") return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v);
  if (!m) throw new Error(`"${v}" is not a duration: use a number of milliseconds or e.g. "500ms", "5s", "1m", "7d"`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** `"256KiB"`, `"1GiB"`, `"10MB"` or a number of bytes. */
export function parseSize(v: string | number): number {
  if (typeof v === "number") return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(v);
  if (!m) throw new Error(`"${v}" is not a size: use a number of bytes or e.g. "256KiB", "1GiB"`);
  return Math.round(Number(m[1]) * SIZES[(m[2] ?? "b").toLowerCase()]!);
}

const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});
const size = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
});

export const DECODERS = ["canonical_reading", "canonical_location", "owntracks", "zigbee2mqtt"] as const;
export type DecoderName = (typeof DECODERS)[number];

const routeSchema = z.strictObject({
  filter: z.string().min(1),
  decoder: z.enum(DECODERS),
  /** The event type; defaults from the decoder. */
  type: z.string().regex(/^[A-Z][A-Za-z0-9]*$/).optional(),
  /** Which topic level(s) make the device id: a 1-based level, or `owntracks` for `<user>-<device>`. */
  device: z.union([z.number().int().min(1), z.literal("owntracks")]).optional(),
});
export type Route = z.infer<typeof routeSchema>;

export const DEFAULT_ROUTES: Route[] = [
  { filter: "devices/+/telemetry", decoder: "canonical_reading", type: "SensorReadingRecorded", device: 2 },
  { filter: "devices/+/location", decoder: "canonical_location", type: "LocationUpdated", device: 2 },
  { filter: "owntracks/+/+", decoder: "owntracks", type: "LocationUpdated", device: "owntracks" },
  { filter: "zigbee2mqtt/+", decoder: "zigbee2mqtt", type: "SensorReadingRecorded", device: 2 },
];

const windowSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("tumbling"), size: duration }),
  z.strictObject({ type: z.literal("hopping"), size: duration, hop: duration }),
  z.strictObject({ type: z.literal("session"), gap: duration }),
]);
export type WindowSpec = z.infer<typeof windowSchema>;

const ruleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "rule names are letters, digits, _ and - (they name a durable consumer)"),
  pattern: z.record(z.string(), z.unknown()),
  target: z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("jetstream"), subject: z.string().min(1) }),
    z.strictObject({
      type: z.literal("webhook"),
      url: z.string().url(),
      headers: z.record(z.string(), z.string()).optional(),
      timeout: duration.default(5000),
    }),
    z.strictObject({ type: z.literal("mqtt"), topic: z.string().min(1), url: z.string().optional(), qos: z.union([z.literal(0), z.literal(1)]).default(1) }),
  ]),
  maxAttempts: z.number().int().min(1).default(8),
  backoff: z.strictObject({ initial: duration.default(500), max: duration.default(30_000) }).prefault({}),
});
export type RuleConfig = z.infer<typeof ruleSchema>;

export const configSchema = z.strictObject({
  gatewayId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default("gw1"),
  nats: z
    .strictObject({
      url: z.string().default("nats://127.0.0.1:4222"),
      user: z.string().optional(),
      pass: z.string().optional(),
      token: z.string().optional(),
      credsFile: z.string().optional(),
    })
    .prefault({}),
  /** `broker` = external MQTT broker; `nats` = nats-server's MQTT listener. Defaults from MQTT_URL. */
  intake: z.enum(["broker", "nats"]).optional(),
  mqtt: z
    .strictObject({
      url: z.string().optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      clientId: z.string().optional(),
      protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
      /** Shared subscription group: several gateways split the load (`$share/<group>/...`). */
      sharedGroup: z.string().optional(),
      qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
      /** false = persistent session: the broker keeps QoS 1 messages while the gateway is away. */
      clean: z.boolean().default(false),
      sessionExpiry: duration.default(86_400_000),
    })
    .prefault({}),
  streams: z
    .strictObject({
      /** Prefix for stream names: `<prefix>TELEMETRY`. Keeps tests and tenants apart. */
      prefix: z.string().regex(/^[A-Za-z0-9_-]*$/).default(""),
      subjectRoot: z.string().regex(/^[A-Za-z0-9_-]+$/).default("iot"),
      partitions: z.number().int().min(1).max(1024).default(8),
      replicas: z.number().int().min(1).max(5).default(1),
      duplicateWindow: duration.default(120_000),
      maxAge: duration.default(7 * 86_400_000),
      maxBytes: size.default(1024 ** 3),
      dlqMaxAge: duration.default(30 * 86_400_000),
      /** The raw capture stream of the `nats` intake. */
      rawMaxAge: duration.default(86_400_000),
    })
    .prefault({}),
  routes: z.array(routeSchema).min(1).default(DEFAULT_ROUTES),
  limits: z
    .strictObject({
      maxPayload: size.default(256 * 1024),
      maxPast: duration.default(7 * 86_400_000),
      maxFuture: duration.default(5 * 60_000),
      maxMetrics: z.number().int().min(1).default(256),
    })
    .prefault({}),
  gateway: z
    .strictObject({
      /**
       * Device messages awaiting their JetStream ack, at most; beyond it the gateway stops reading.
       * The gateway's rate is at most maxInFlight / ack round trip: 100 covers 10 ms at 10k msgs/s,
       * plenty for a local nats-server (raise it for a distant one). Every message in flight lives
       * long enough to be promoted to V8's old generation, so more costs CPU and memory: at 10k/s
       * 500 meant 2.6 ms scavenges and a process that fell behind; 50 meant 1.4 ms and kept up.
       */
      maxInFlight: z.number().int().min(1).default(100),
      publishTimeout: duration.default(10_000),
    })
    .prefault({}),
  processor: z
    .strictObject({
      /** Partitions this process owns; empty = all. */
      partitions: z.array(z.number().int().min(0)).default([]),
      windows: z.array(windowSchema).min(1).default([{ type: "tumbling", size: 60_000 }]),
      maxOutOfOrder: duration.default(5000),
      allowedLateness: duration.default(60_000),
      idleTimeout: duration.default(30_000),
      reorderBuffer: z.number().int().min(1).default(1000),
      reorderTimeout: duration.default(5000),
      checkpointInterval: duration.default(1000),
      maxAckPending: z.number().int().min(1).default(5000),
    })
    .prefault({}),
  influx: z
    .strictObject({
      url: z.string().optional(),
      api: z.enum(["v2", "v1"]).default("v2"),
      token: z.string().optional(),
      org: z.string().default("fleetstream"),
      bucket: z.string().default("fleetstream"),
      db: z.string().default("fleetstream"),
      username: z.string().optional(),
      password: z.string().optional(),
      raw: z.boolean().default(true),
      batchSize: z.number().int().min(1).default(1000),
      flushInterval: duration.default(1000),
    })
    .prefault({}),
  rules: z.array(ruleSchema).default([]),
  http: z.strictObject({ port: z.number().int().min(0).max(65535).default(9464), host: z.string().default("0.0.0.0") }).prefault({}),
  log: z.strictObject({ level: z.enum(["debug", "info", "warn", "error"]).default("info") }).prefault({}),
});

export type Config = Readonly<z.infer<typeof configSchema>> & { readonly intake: "broker" | "nats" };

/** Environment variables and the config keys they set. `*_FILE` variants read the value from a file. */
const ENV_KEYS: Record<string, string[]> = {
  NATS_URL: ["nats", "url"],
  NATS_USER: ["nats", "user"],
  NATS_PASS: ["nats", "pass"],
  NATS_TOKEN: ["nats", "token"],
  NATS_CREDS: ["nats", "credsFile"],
  MQTT_URL: ["mqtt", "url"],
  MQTT_USERNAME: ["mqtt", "username"],
  MQTT_PASSWORD: ["mqtt", "password"],
  INFLUX_URL: ["influx", "url"],
  INFLUX_TOKEN: ["influx", "token"],
  INFLUX_ORG: ["influx", "org"],
  INFLUX_BUCKET: ["influx", "bucket"],
  INFLUX_API: ["influx", "api"],
  INFLUX_DB: ["influx", "db"],
  INFLUX_USERNAME: ["influx", "username"],
  INFLUX_PASSWORD: ["influx", "password"],
  FLEETSTREAM_GATEWAY_ID: ["gatewayId"],
  FLEETSTREAM_STREAM_PREFIX: ["streams", "prefix"],
  FLEETSTREAM_SUBJECT_ROOT: ["streams", "subjectRoot"],
  FLEETSTREAM_STREAM_REPLICAS: ["streams", "replicas"],
  FLEETSTREAM_HTTP_PORT: ["http", "port"],
  FLEETSTREAM_LOG_LEVEL: ["log", "level"],
};
const NUMERIC_ENV = new Set(["FLEETSTREAM_HTTP_PORT", "FLEETSTREAM_STREAM_REPLICAS"]);

/** Keys whose values are secrets: never logged. */
export const SECRET_KEYS = new Set(["pass", "password", "token", "credsFile"]);

export interface LoadOptions {
  /** Path of a YAML file; default `FLEETSTREAM_CONFIG`, else none. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over file and env (used by the CLI and tests). */
  overrides?: Record<string, unknown>;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== "object" || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object" && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Loads, merges and validates the configuration.
 * @throws ConfigError naming the first offending key, e.g. `streams.partitions: expected a number ...`
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  let raw: Record<string, unknown> = {};
  const path = opts.path ?? env.FLEETSTREAM_CONFIG;
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new ConfigError(`config file ${path} cannot be read (${(e as NodeJS.ErrnoException).code}): check --config or FLEETSTREAM_CONFIG`, "config", { cause: e });
    }
    try {
      raw = (parseYaml(text) as Record<string, unknown>) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(e as Error).message}`, "config", { cause: e });
    }
    if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`config file ${path} must hold a mapping of keys`, "config");
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    let value = env[name];
    const file = env[`${name}_FILE`];
    if (file !== undefined && file !== "") {
      try {
        value = readFileSync(file, "utf8").trim();
      } catch (e) {
        throw new ConfigError(`${name}_FILE=${file} cannot be read (${(e as NodeJS.ErrnoException).code}): point it at a readable file holding the value`, key.join("."), { cause: e });
      }
    }
    if (value === undefined || value === "") continue;
    setPath(fromEnv, key, NUMERIC_ENV.has(name) ? Number(value) : value);
  }
  const merged = deepMerge(deepMerge(raw, fromEnv), opts.overrides ?? {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys") throw unknownKeyError(issue.path, issue.keys);
    const key = issue.path.join(".") || "(root)";
    const envName = Object.entries(ENV_KEYS).find(([, p]) => p.join(".") === key)?.[0];
    const hint = envName ? ` (set in the config file or by ${envName})` : " (set in the config file)";
    throw new ConfigError(`invalid config at ${key}: ${issue.message}${hint}`, key);
  }
  const cfg = parsed.data;
  const intake = cfg.intake ?? (cfg.mqtt.url ? "broker" : "nats");
  if (intake === "broker" && !cfg.mqtt.url) {
    throw new ConfigError("invalid config at mqtt.url: the broker intake needs a broker URL (set MQTT_URL, e.g. mqtt://127.0.0.1:1883)", "mqtt.url");
  }
  return deepFreeze({ ...cfg, intake }) as Config;
}

/**
 * A key the schema does not have: a typo would otherwise leave its setting at the default without a
 * word (`streams.replica: 3` running one replica).
 */
function unknownKeyError(path: PropertyKey[], keys: string[]): ConfigError {
  const at = (k: string) => [...path.map(String), k].join(".");
  const known = keysAt(configSchema, path);
  const hints = keys.flatMap((k) => {
    // In a union (a rule's target, a window), the key may be another kind's.
    if (known.includes(k)) return [`${at(k)} belongs to another type than the one given`];
    const guess = known.find((c) => editDistance(c.toLowerCase(), k.toLowerCase()) <= 2);
    return guess ? [`did you mean ${at(guess)}?`] : [];
  });
  const level = path.length ? path.map(String).join(".") : "the top level";
  if (known.length) hints.push(`(${level} takes: ${known.join(", ")})`);
  return new ConfigError(`unknown config key ${keys.map(at).join(", ")}: fleetstream does not read it${hints.length ? "; " + hints.join(" ") : ""}`, at(keys[0]!));
}

/**
 * The keys of the object the schema has at `path` (array indexes step into the elements; for a union
 * of objects, such as a rule's target, the keys of all of them); [] if none.
 */
function keysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType; options?: z.ZodType[] };
  const def = (s: z.ZodType | undefined) => (s as { _zod?: { def: Def } } | undefined)?._zod?.def;
  const unwrap = (s: z.ZodType | undefined) => {
    while (def(s)?.innerType && ["default", "prefault", "optional", "nullable"].includes(def(s)!.type)) s = def(s)!.innerType;
    return s;
  };
  const objects = (s: z.ZodType | undefined): Def[] => {
    const d = def(unwrap(s));
    return d?.type === "object" ? [d] : d?.type === "union" ? (d.options ?? []).flatMap(objects) : [];
  };
  let at: Array<z.ZodType | undefined> = [schema];
  for (const seg of path) {
    at = at.flatMap((s) => {
      const d = def(unwrap(s));
      return d?.type === "array" ? [d.element] : objects(s).map((o) => o.shape?.[String(seg)]).filter((x) => x !== undefined);
    });
  }
  return [...new Set(at.flatMap(objects).flatMap((o) => Object.keys(o.shape ?? {})))];
}

/** Levenshtein distance, for suggesting a key. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Stream names with the configured prefix. */
export function streamNames(cfg: Pick<Config, "streams">) {
  const p = cfg.streams.prefix;
  return {
    telemetry: `${p}TELEMETRY`,
    location: `${p}LOCATION`,
    results: `${p}RESULTS`,
    dlq: `${p}DLQ`,
    raw: `${p}MQTT_RAW`,
  } as const;
}

/** A copy of the config with every secret replaced, safe to log. */
export function redactConfig(cfg: unknown): unknown {
  if (Array.isArray(cfg)) return cfg.map(redactConfig);
  if (cfg && typeof cfg === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(cfg)) out[k] = SECRET_KEYS.has(k) && v !== undefined ? "[redacted]" : redactConfig(v);
    return out;
  }
  if (typeof cfg === "string") return redactUrl(cfg);
  return cfg;
}

/** Hides a password embedded in a URL (`mqtt://u:secret@host` -> `mqtt://u:***@host`). */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@/\s]+@/i, "$1***@");
}

/**
 * True when the user chose a NATS server (NATS_URL, NATS_URL_FILE or `nats.url` in the file);
 * `fleetstream start` runs a local nats-server otherwise.
 */
export function natsUrlConfigured(opts: LoadOptions = {}): boolean {
  const env = opts.env ?? process.env;
  if (env.NATS_URL || env.NATS_URL_FILE) return true;
  const path = opts.path ?? env.FLEETSTREAM_CONFIG;
  if (!path) return false;
  try {
    const raw = parseYaml(readFileSync(path, "utf8")) as { nats?: { url?: string } } | null;
    return !!raw?.nats?.url;
  } catch {
    return false; // loadConfig reports the file's problem with its key
  }
}

/** The config file in use: `--config` when given, else `FLEETSTREAM_CONFIG`, else none. */
export function configPath(given?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return given ?? (env.FLEETSTREAM_CONFIG || undefined);
}
