/**
 * Checkpoints in a JetStream KV bucket: one key per device and input stream
 * (`t.<partition>.<device>`, `l.<partition>.<device>`), so a checkpoint writes only the devices
 * that changed. Writes go through the pipelined publisher to `$KV.<bucket>.<key>` (no round trip
 * per key); reads list the keys from the stream's subjects and get them through the KV API.
 */
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm, type Bucket, type KV } from "@nats-io/kv";
import type { JsPublisher } from "../../core/js_publisher.ts";
import { ADMIN_TIMEOUT_MS, jsAdmin, keptReplicas } from "../../core/streams.ts";
import { CheckpointError } from "../errors.ts";

export interface CheckpointStore {
  readonly bucket: string;
  /** Every entry whose key starts with `prefix` (e.g. `t.3.`), parsed. */
  load(prefix: string): Promise<Map<string, unknown>>;
  /** Writes every entry; resolves once all are stored. */
  save(entries: Array<[key: string, value: string]>): Promise<void>;
}

export interface CheckpointStoreOptions {
  bucket: string;
  replicas: number;
}

export const DEFAULT_CHECKPOINT_STORE_OPTIONS: CheckpointStoreOptions = { bucket: "fleetstream_processor", replicas: 1 };

/** Creates (or opens) the bucket. */
export async function openCheckpointStore(nc: NatsConnection, pub: JsPublisher, options: Partial<CheckpointStoreOptions> = {}): Promise<CheckpointStore> {
  const opts = { ...DEFAULT_CHECKPOINT_STORE_OPTIONS, ...options };
  let kv: KV;
  try {
    kv = await new Kvm(jetstream(nc, { timeout: ADMIN_TIMEOUT_MS })).create(opts.bucket, { history: 1, replicas: opts.replicas });
  } catch (e) {
    throw new CheckpointError(`cannot open checkpoint bucket ${opts.bucket}: ${(e as Error).message}`, { cause: e });
  }
  const jsm = await jsAdmin(nc);
  // The bucket's own stream and subject prefix, as nats.js named them (`KV_<bucket>`, `$KV.<bucket>`):
  // `load` lists keys from that stream, `save` publishes to those subjects.
  const { stream, prefix: kvPrefix } = kv as Bucket;
  // nats.js opens an existing bucket as it is: scale it up to streams.replicas, as ensureStreams does the streams.
  const current = (await jsm.streams.info(stream)).config;
  const replicas = keptReplicas(current.num_replicas, opts.replicas);
  if (current.num_replicas !== replicas) await jsm.streams.update(stream, { ...current, num_replicas: replicas });
  const base = `${kvPrefix}.`;
  const decoder = new TextDecoder();
  return {
    bucket: opts.bucket,
    async load(prefix) {
      const out = new Map<string, unknown>();
      // The stream's subject list, not `kv.keys()`: on a prefix without keys (every partition of a
      // fresh bucket) nats.js returns without removing the consumer it made for the listing, and
      // it lingers on the server for 5 minutes (16 of them after each start).
      const info = await jsm.streams.info(stream, { subjects_filter: `${base}${prefix}>` });
      const keys = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(base.length));
      // Bounded parallel gets.
      for (let i = 0; i < keys.length; i += 256) {
        const batch = keys.slice(i, i + 256);
        const entries = await Promise.all(batch.map((k) => kv.get(k)));
        entries.forEach((e, j) => {
          if (e && e.operation === "PUT" && e.value.length > 0) out.set(batch[j]!, JSON.parse(decoder.decode(e.value)));
        });
      }
      return out;
    },
    async save(entries) {
      try {
        await Promise.all(entries.map(([k, v]) => pub.publishDurably(base + k, v, natsHeaders())));
      } catch (e) {
        throw new CheckpointError(`checkpoint write failed: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}
