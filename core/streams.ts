/**
 * Stream provisioning (CONTRACT section 5): TELEMETRY, LOCATION, RESULTS and DLQ, plus the raw MQTT
 * capture stream of the `nats` intake. Idempotent: creates what is missing and updates what differs.
 */
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { streamNames, type Config } from "./config.ts";
import { ConfigError, NatsUnreachableError } from "./errors.ts";
import { mqttFilterToSubject } from "./topics.ts";

export interface StreamInfoRow {
  name: string;
  subjects: string[];
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: number;
  replicas: number;
}

type StreamSpec = Partial<StreamConfig> & { name: string; subjects: string[] };

/** The stream configs fleetstream needs, from config. `raw` only for the `nats` intake. */
export function streamSpecs(cfg: Pick<Config, "streams" | "routes" | "intake">): StreamSpec[] {
  const s = cfg.streams;
  const names = streamNames(cfg);
  const root = s.subjectRoot;
  const base = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: s.replicas,
    duplicate_window: nanos(s.duplicateWindow),
    max_age: nanos(s.maxAge),
    max_bytes: s.maxBytes,
  };
  const specs: StreamSpec[] = [
    { ...base, name: names.telemetry, subjects: [`${root}.telemetry.>`], description: "SensorReadingRecorded events, partitioned by device" },
    { ...base, name: names.location, subjects: [`${root}.location.>`], description: "LocationUpdated events, partitioned by device" },
    { ...base, name: names.results, subjects: [`${root}.results.>`, `${root}.events.>`], description: "Window aggregates, enriched locations and derived events" },
    { ...base, name: names.dlq, subjects: [`${root}.dlq.>`], max_age: nanos(s.dlqMaxAge), description: "Rejected and failed messages with their originals" },
  ];
  if (cfg.intake === "nats") {
    specs.push({
      ...base,
      name: names.raw,
      subjects: [...new Set(cfg.routes.map((r) => mqttFilterToSubject(r.filter)))],
      max_age: nanos(s.rawMaxAge),
      description: "Raw MQTT messages from nats-server's MQTT listener",
    });
  }
  return specs;
}

/**
 * How long setup requests to JetStream's API (creating or changing streams and consumers) may take.
 * On a cluster each waits for the Raft group of what it creates; under load that passed nats.js's
 * 5 s default (`fleetstream start` on three nodes, in a loaded test run, exited "TimeoutError").
 */
export const ADMIN_TIMEOUT_MS = 30_000;

/** JetStream's management API with {@link ADMIN_TIMEOUT_MS}, for setting up streams and consumers. */
export function jsAdmin(nc: NatsConnection, timeoutMs = ADMIN_TIMEOUT_MS): Promise<JetStreamManager> {
  return jetstreamManager(nc, { timeout: timeoutMs });
}

export interface EnsureStreamsOptions {
  /** How long each request may wait for JetStream (ms; default {@link ADMIN_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Lower the replicas of existing streams to `streams.replicas` too (see {@link keptReplicas}). */
  scaleDown?: boolean;
}

/**
 * Creates or updates every stream; returns what it did per stream.
 * @throws ConfigError when the streams do not fit the server (storage, replicas); NatsUnreachableError
 * when JetStream does not answer within `timeoutMs`
 */
export async function ensureStreams(
  nc: NatsConnection,
  cfg: Pick<Config, "streams" | "routes" | "intake">,
  { timeoutMs = ADMIN_TIMEOUT_MS, scaleDown = false }: EnsureStreamsOptions = {},
): Promise<Array<{ name: string; action: "created" | "updated" | "unchanged" }>> {
  // nats.js asks JetStream for the account's info before it hands out the manager.
  const jsm = await jsAdmin(nc, timeoutMs).catch((e: Error) => {
    if (e.name === "TimeoutError") throw unanswered("looking up the JetStream account", timeoutMs, e);
    if (/jetstream is not enabled/i.test(e.message)) {
      throw new NatsUnreachableError(
        `nats-server at ${nc.getServer()} runs without JetStream (${e.message}): start it with -js or a jetstream block in its config (fleetstream keeps everything in JetStream streams), or set NATS_URL to one that has it`,
        { cause: e },
      );
    }
    throw e;
  });
  const out: Array<{ name: string; action: "created" | "updated" | "unchanged" }> = [];
  const specs = streamSpecs(cfg);
  for (const spec of specs) {
    try {
      out.push({ name: spec.name, action: await ensureStream(jsm, spec, scaleDown) });
    } catch (e) {
      const msg = (e as Error).message;
      if ((e as Error).name === "TimeoutError") throw unanswered(`setting up stream ${spec.name}`, timeoutMs, e);
      if (/insufficient storage resources/i.test(msg)) throw storageLimitError(spec, specs, e);
      if (/replicas > 1 not supported|no suitable peers|insufficient resources/i.test(msg)) {
        throw new ConfigError(
          `JetStream cannot place stream ${spec.name} with streams.replicas ${cfg.streams.replicas} (${msg}): set streams.replicas ` +
            `(FLEETSTREAM_STREAM_REPLICAS) to at most the number of JetStream nodes running, 1 for a single nats-server`,
          "streams.replicas",
          { cause: e },
        );
      }
      throw e;
    }
  }
  return out;
}

function unanswered(what: string, timeoutMs: number, cause: unknown): NatsUnreachableError {
  return new NatsUnreachableError(
    `JetStream did not answer within ${timeoutMs / 1000} s while ${what}: check that nats-server runs with JetStream and, on a ` +
      `cluster, that a majority of its nodes are up`,
    { cause },
  );
}

/**
 * JetStream reserves each stream's `max_bytes` against the server's (or account's) storage limit, so
 * streams that fit on disk can still be refused: say which key to change, and by how much.
 */
function storageLimitError(spec: StreamSpec, specs: StreamSpec[], cause: unknown): ConfigError {
  const gib = (n: number) => `${+(n / 1024 ** 3).toFixed(2)} GiB`;
  const total = specs.reduce((sum, s) => sum + (s.max_bytes ?? 0), 0);
  return new ConfigError(
    `JetStream refused to reserve streams.maxBytes (${gib(spec.max_bytes ?? 0)}) for stream ${spec.name}: the server's storage limit ` +
      `(max_file_store in its jetstream block, or the account's limit) has no room left. Each of the ${specs.length} streams ` +
      `(${specs.map((s) => s.name).join(", ")}) reserves streams.maxBytes, ${gib(total)} in all: lower streams.maxBytes ` +
      `or raise max_file_store.`,
    "streams.maxBytes",
    { cause },
  );
}

/**
 * The replicas a stream keeps: `streams.replicas` when it is more than the stream has, else the
 * stream's own. Every fleetstream process ensures the streams at start, so one started with a stale
 * or default config (replicas 1) must not take a cluster's copies away; scaling down is asked for
 * (`fleetstream streams create --scale-down`).
 */
export function keptReplicas(current: number | undefined, wanted: number | undefined): number {
  return Math.max(current ?? 1, wanted ?? 1);
}

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, scaleDown: boolean): Promise<"created" | "updated" | "unchanged"> {
  try {
    const info = await jsm.streams.info(spec.name);
    const c = info.config;
    // Raising streams.replicas on a cluster scales the existing streams (nats-server moves the data);
    // a lower value scales them down only when asked to (see keptReplicas).
    const replicas = scaleDown ? (spec.num_replicas ?? 1) : keptReplicas(c.num_replicas, spec.num_replicas);
    const same =
      JSON.stringify([...c.subjects].sort()) === JSON.stringify([...spec.subjects].sort()) &&
      c.max_age === spec.max_age &&
      c.max_bytes === spec.max_bytes &&
      c.duplicate_window === spec.duplicate_window &&
      c.num_replicas === replicas;
    if (same) return "unchanged";
    await jsm.streams.update(spec.name, { ...spec, num_replicas: replicas, storage: undefined, retention: undefined } as never);
    return "updated";
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
    await jsm.streams.add(spec);
    return "created";
  }
}

/** One row per fleetstream stream that exists. */
export async function listStreams(nc: NatsConnection, cfg: Pick<Config, "streams" | "routes" | "intake">): Promise<StreamInfoRow[]> {
  const jsm = await jetstreamManager(nc);
  const rows: StreamInfoRow[] = [];
  for (const spec of streamSpecs(cfg)) {
    try {
      const i = await jsm.streams.info(spec.name);
      rows.push({
        name: spec.name,
        subjects: i.config.subjects,
        messages: i.state.messages,
        bytes: i.state.bytes,
        firstSeq: i.state.first_seq,
        lastSeq: i.state.last_seq,
        consumers: i.state.consumer_count,
        replicas: i.config.num_replicas,
      });
    } catch (e) {
      if (!/stream not found/i.test((e as Error).message)) throw e;
    }
  }
  return rows;
}
