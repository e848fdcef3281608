/**
 * One input partition of one stream, end to end: JetStream source -> decode -> skip what a previous
 * run already applied -> reorderBySeq -> eventTimeWindow | enrichLocation -> RESULTS / DLQ, with
 * checkpoints that make it crash-safe.
 *
 * Crash safety. Each device's state (sequencer, windows or last fix) is stored with the stream
 * sequence of the last message applied to it. A checkpoint (every `checkpointInterval`, or when half
 * of `maxAckPending` is unacknowledged) first waits until every result and DLQ record produced so
 * far is stored, then writes the changed devices' states, and only then acks the newest input
 * (cumulative ack). After a crash the consumer restarts at its ack floor; a message whose stream
 * sequence is not above its device's checkpointed one was already applied and is skipped, the rest
 * are applied again from the checkpointed state and give the same results under the same
 * deterministic ids, which RESULTS de-duplicates.
 *
 * Processing-time rules (idle close, reorder timeout) are the one thing a replay would not repeat.
 * They run only at the start of a checkpoint: their results go into that checkpoint as an outbox
 * and are published once it is stored (and again after a restart), and results of later input are
 * held back until then, so no published result ever depends on state a crash could forget.
 */
import { headersToRecord } from "../../core/fast_headers.ts";
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { asyncScheduler, Subject, type Observable, type SchedulerLike, type Subscription } from "rxjs";
import type { WindowSpec } from "../../core/config.ts";
import { encodeDlq, toBase64 } from "../../core/dlq.ts";
import type { DlqReason } from "../../core/errors.ts";
import { rfc3339, toHeaders, type EventType } from "../../core/envelope.ts";
import type { JsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import type { LocationData, SensorReadingData } from "../../core/results.ts";
import type { InputKind, Subjects } from "../../core/subjects.ts";
import type { Clock } from "../../core/clock.ts";
import type { ProcessorMetrics } from "../metrics.ts";
import { enrichLocation } from "../operators/enrich_location.ts";
import { eventTimeWindow } from "../operators/event_time_window.ts";
import { reorderBySeq } from "../operators/reorder_by_seq.ts";
import { decodeMessage } from "../sources/decode_message.ts";
import { DeliveryGapError } from "../errors.ts";
import { ackAll, jetStreamSource, pendingOfReply, resetConsumerToAckFloor, streamSeqOf } from "../sources/jetstream_source.ts";
import { POLL_IDLE_MS } from "../sources/pull_poller.ts";
import type { CheckpointStore } from "../state/checkpoint_store.ts";
import { DeviceWindows, type DeviceWindowsState } from "../state/device_windows.ts";
import type { InputEvent, ProcessorItem } from "../state/events.ts";
import { LocationTracker, type LocationTrackerState } from "../state/location_tracker.ts";
import { Sequencer, type SequencerState } from "../state/sequencer.ts";

export interface PartitionPipelineDeps {
  nc: NatsConnection;
  pub: JsPublisher;
  store: CheckpointStore;
  subj: Subjects;
  log: Logger;
  metrics: ProcessorMetrics;
  clock: Clock;
  /** Called when results or checkpoints cannot be made durable: the process should stop without acking more. */
  onFatal(err: Error): void;
}

export interface PartitionPipelineOptions {
  kind: InputKind;
  partition: number;
  stream: string;
  durable: string;
  windows: WindowSpec[];
  maxOutOfOrder: number;
  allowedLateness: number;
  idleTimeout: number;
  reorderBuffer: number;
  reorderTimeout: number;
  dedupeIds: number;
  checkpointInterval: number;
  maxAckPending: number;
  /** A caught-up partition pulls again after this long (ms): see `pull_poller.ts`. */
  pollMs: number;
  ackWait: number;
  /** `ce-source` of published results. */
  source: string;
  scheduler: SchedulerLike;
}

export const DEFAULT_PARTITION_PIPELINE_OPTIONS: Omit<PartitionPipelineOptions, "kind" | "partition" | "stream" | "durable"> = {
  windows: [{ type: "tumbling", size: 60_000 }],
  maxOutOfOrder: 5000,
  allowedLateness: 60_000,
  idleTimeout: 30_000,
  reorderBuffer: 1000,
  reorderTimeout: 5000,
  dedupeIds: 128,
  checkpointInterval: 1000,
  maxAckPending: 5000,
  pollMs: POLL_IDLE_MS,
  ackWait: 30_000,
  source: "fleetstream/processor",
  scheduler: asyncScheduler,
};

/** The checkpointed form of one device. */
interface DeviceCheckpoint {
  /** Stream sequence of the last message applied. */
  s: number;
  q: SequencerState;
  w?: DeviceWindowsState;
  l?: LocationTrackerState;
  /** Outbox: results of processing-time rules, published after this checkpoint was stored. */
  o?: Array<{ s: string; b: string; h: Record<string, string> }>;
}

/** A message to publish durably (result or DLQ record). */
interface Outgoing {
  device: string;
  subject: string;
  body: string;
  headers: MsgHdrs;
}

export interface PartitionPipeline {
  start(): Promise<void>;
  /** Stops consuming, makes everything applied durable, acks it. */
  stop(): Promise<void>;
  /** Forces a checkpoint now (tests, shutdown). */
  checkpoint(): Promise<void>;
  readonly devices: number;
}

const noop = () => {};

export function createPartitionPipeline(deps: PartitionPipelineDeps, options: Pick<PartitionPipelineOptions, "kind" | "partition" | "stream" | "durable"> & Partial<PartitionPipelineOptions>): PartitionPipeline {
  const opts = { ...DEFAULT_PARTITION_PIPELINE_OPTIONS, ...options };
  const { pub, subj, metrics, log } = deps;
  const kind = opts.kind;
  const keyPrefix = `${kind === "telemetry" ? "t" : "l"}.${opts.partition}.`;
  const partLabel = String(opts.partition);

  const seqStore = new Map<string, Sequencer<unknown>>();
  const winStore = new Map<string, DeviceWindows>();
  const locStore = new Map<string, LocationTracker>();
  const applied = new Map<string, number>();
  const dirty = new Set<string>();
  const touch = (d: string) => void dirty.add(d);

  let pending: Promise<void>[] = [];
  let failure: Error | undefined;
  let lastMsg: Msg | undefined;
  /** The device of the last event applied: the watermark-delay gauge follows it. */
  let lastDevice: string | undefined;
  let unacked = 0;
  let sourceSub: Subscription | undefined;
  let pipeSub: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let cpRunning: Promise<void> | undefined;
  let cpAgain = false;
  let stopped = false;

  const m = {
    lag: metrics.consumerLag.labels(kind, partLabel),
    wmDelay: metrics.watermarkDelay.labels(partLabel),
    applied: metrics.messages.labels(kind, "applied"),
    replayed: metrics.messages.labels(kind, "replayed"),
    failed: metrics.messages.labels(kind, "failed"),
    dups: metrics.duplicates.labels(kind),
    gaps: metrics.gaps.labels(kind),
    ooo: metrics.outOfOrder.labels(kind),
  };

  // Hot-path counters are summed here and handed to prom-client at each checkpoint (label hashing per message is costly).
  const counts = { applied: 0, replayed: 0, dups: 0 };
  const flushCounts = () => {
    if (counts.applied) m.applied.inc(counts.applied);
    if (counts.replayed) m.replayed.inc(counts.replayed);
    if (counts.dups) m.dups.inc(counts.dups);
    counts.applied = counts.replayed = counts.dups = 0;
  };

  const track = (p: Promise<unknown>) => {
    pending.push(
      p.then(noop, (e: Error) => {
        failure ??= e;
      }),
    );
  };

  /** Outputs of a processing-time tick are captured here; outputs after it wait in `held`. */
  let capture: Outgoing[] | undefined;
  let held: Outgoing[] | undefined;
  const send = (o: Outgoing) => {
    if (capture) capture.push(o);
    else if (held) held.push(o);
    else track(pub.publishDurably(o.subject, o.body, o.headers));
  };

  const publishEvent = (subject: string, type: EventType, id: string, device: string, time: number, data: unknown) => {
    const h = toHeaders({ specversion: "1.0", id, source: opts.source, type, subject: device, time: rfc3339(time), datacontenttype: "application/json", data });
    send({ device, subject, body: JSON.stringify(data), headers: h });
    metrics.results.labels(type).inc();
  };

  const deadLetter = (reason: DlqReason, ev: InputEvent<unknown> | undefined, msg: Msg | undefined, error: string) => {
    const raw = ev?.raw ?? (msg ? { subject: msg.subject, headers: msg.headers, data: msg.data } : undefined);
    const { headers, body } = encodeDlq({
      stage: "processor",
      reason,
      error,
      subject: raw?.subject ?? (ev ? subj.input(kind, ev.device) : undefined),
      headers: headersToRecord(raw?.headers),
      device: ev?.device,
      receivedAt: new Date(deps.clock.now()).toISOString(),
      original: toBase64(raw?.data ?? JSON.stringify(ev?.data ?? null)),
    });
    send({ device: ev?.device ?? "", subject: subj.dlq("processor", reason), body, headers });
    metrics.dlq.labels(reason).inc();
  };

  const onItem = (item: ProcessorItem<unknown>) => {
    switch (item.kind) {
      case "window": {
        const r = item.result;
        publishEvent(subj.windowResult(r.device), "WindowAggregateComputed", `${r.device}:w:${r.window}:${r.start}:r${r.revision}`, r.device, r.start, r);
        metrics.windowEmitLatency.labels(r.window).observe(Math.max(0, deps.clock.now() - r.end) / 1000);
        break;
      }
      case "location": {
        const r = item.result;
        publishEvent(subj.locationResult(r.device), "LocationEnriched", `${item.ev.id}:loc`, r.device, r.ts, r);
        if (r.outOfOrder) m.ooo.inc();
        break;
      }
      case "gap": {
        const g = item.gap;
        publishEvent(subj.derivedEvent("SequenceGapDetected", g.device), "SequenceGapDetected", `${g.device}:gap:${g.from}-${g.to}`, g.device, item.time, g);
        m.gaps.inc();
        break;
      }
      case "duplicate":
        counts.dups++;
        break;
      case "late":
        metrics.lateEvents.inc();
        deadLetter("late_event", item.ev, undefined, `event time ${rfc3339(item.ev.time)} is more than allowedLateness (${opts.allowedLateness} ms) behind the device watermark ${rfc3339(item.watermark)}`);
        break;
      case "failed":
        m.failed.inc();
        // So that a redrive of it (`dlq redrive`) is applied, not dropped as already seen.
        seqStore.get(item.ev.device)?.forget(item.ev);
        touch(item.ev.device);
        deadLetter("processing_failed", item.ev, undefined, item.error);
        break;
      case "event":
        break;
    }
  };

  const input = new Subject<InputEvent<unknown>>();
  const tick$ = new Subject<void>();
  // Idle close and reorder timeouts are checked at each checkpoint (see above), not on their own timers.
  const sched = { scheduler: opts.scheduler, onTouch: touch, tick: tick$ };
  const sequenced = input.pipe(
    reorderBySeq<unknown>({ ...sched, store: seqStore, reorderBuffer: opts.reorderBuffer, reorderTimeout: opts.reorderTimeout, dedupeIds: opts.dedupeIds }),
  );
  const processed: Observable<ProcessorItem<unknown>> =
    kind === "telemetry"
      ? sequenced.pipe((s) =>
          eventTimeWindow({
            ...sched,
            store: winStore,
            windows: opts.windows,
            maxOutOfOrder: opts.maxOutOfOrder,
            allowedLateness: opts.allowedLateness,
            idleTimeout: opts.idleTimeout,
          })(s as never) as never,
        )
      : sequenced.pipe((s) => enrichLocation({ store: locStore, onTouch: touch })(s as never) as never);

  const onMessage = (msg: Msg) => {
    lastMsg = msg;
    unacked++;
    const seq = streamSeqOf(msg);
    let ev: InputEvent<SensorReadingData | LocationData>;
    try {
      ev = decodeMessage(kind, msg, seq);
    } catch (e) {
      m.failed.inc();
      deadLetter("processing_failed", undefined, msg, (e as Error).message);
      maybeCheckpoint();
      return;
    }
    const device = ev.device;
    if (seq <= (applied.get(device) ?? 0)) {
      counts.replayed++;
      maybeCheckpoint();
      return;
    }
    applied.set(device, seq);
    dirty.add(device);
    // The message itself is the raw reference (subject, headers, data): no copy per event.
    ev.raw = msg;
    counts.applied++;
    input.next(ev);
    lastDevice = device;
    maybeCheckpoint();
  };

  const maybeCheckpoint = () => {
    if (unacked >= opts.maxAckPending / 2 && !cpRunning) void checkpoint().catch(noop);
  };

  const snapshot = (device: string, outbox?: Outgoing[]): DeviceCheckpoint => ({
    s: applied.get(device) ?? 0,
    q: encodeSequencer(seqStore.get(device)?.toJSON() as SequencerState | undefined),
    w: winStore.get(device)?.toJSON(),
    l: locStore.get(device)?.toJSON(),
    o: outbox?.map((x) => ({ s: x.subject, b: x.body, h: headersToRecord(x.headers) ?? {} })),
  });

  /**
   * The lag and watermark-delay gauges, at each checkpoint (every `checkpointInterval`): sampled per
   * message count instead, a partition of a small fleet left them unset for minutes.
   */
  const sampleGauges = () => {
    const pending = pendingOfReply(lastMsg?.reply);
    if (pending !== undefined) m.lag.set(pending);
    const w = kind === "telemetry" && lastDevice !== undefined ? winStore.get(lastDevice) : undefined;
    if (w && Number.isFinite(w.watermark)) m.wmDelay.set((deps.clock.now() - w.watermark) / 1000);
  };

  const checkpointOnce = async () => {
    const t0 = performance.now();
    sampleGauges();
    flushCounts();
    // Processing-time rules, recorded in this checkpoint before anything they cause is published.
    const outbox: Outgoing[] = [];
    capture = outbox;
    try {
      tick$.next();
    } finally {
      capture = undefined;
    }
    const byDevice = new Map<string, Outgoing[]>();
    for (const o of outbox) {
      dirty.add(o.device);
      if (!byDevice.has(o.device)) byDevice.set(o.device, []);
      byDevice.get(o.device)!.push(o);
    }
    if (outbox.length > 0) held = [];
    const ackMsg = lastMsg;
    lastMsg = undefined;
    unacked = 0;
    const pubs = pending;
    pending = [];
    const entries: Array<[string, string]> = [];
    for (const d of dirty) entries.push([keyPrefix + d, JSON.stringify(snapshot(d, byDevice.get(d)))]);
    dirty.clear();
    if (!ackMsg && entries.length === 0 && pubs.length === 0) return;
    try {
      await Promise.all(pubs);
      if (failure) throw failure;
      await deps.store.save(entries);
    } finally {
      // Outbox first, then what waited for it: publish order is RESULTS order.
      const h = held ?? [];
      held = undefined;
      if (!failure) {
        for (const o of outbox) send(o);
        for (const o of h) send(o);
      }
      // Devices with an outbox are rewritten without it by the next checkpoint.
      for (const d of byDevice.keys()) dirty.add(d);
    }
    // The lag gauge was sampled from this same message above.
    if (ackMsg) ackAll(deps.nc, ackMsg);
    metrics.checkpointedDevices.inc(entries.length);
    metrics.checkpointDuration.observe((performance.now() - t0) / 1000);
  };

  const checkpoint = (): Promise<void> => {
    if (cpRunning) {
      cpAgain = true;
      return cpRunning;
    }
    cpRunning = (async () => {
      try {
        do {
          cpAgain = false;
          await checkpointOnce();
        } while (cpAgain);
      } catch (e) {
        log.error("checkpoint failed: stopping so that unacknowledged input is redelivered", { partition: opts.partition, stream: opts.stream, err: e });
        deps.onFatal(e as Error);
        throw e;
      } finally {
        cpRunning = undefined;
      }
    })();
    return cpRunning;
  };

  const srcOpts = {
    stream: opts.stream,
    durable: opts.durable,
    filterSubject: subj.inputPartition(kind, opts.partition),
    maxAckPending: opts.maxAckPending,
    maxMessages: Math.max(1, Math.min(1000, Math.floor(opts.maxAckPending / 2))),
    pollMs: opts.pollMs,
    ackWait: opts.ackWait,
  };

  /** Re-creates the consumer at its ack floor and reads it. @returns the first stream sequence it delivers */
  const readFromAckFloor = async (): Promise<number> => {
    const from = await resetConsumerToAckFloor(deps.nc, srcOpts);
    if (stopped) return from; // stop() came while a gap was being recovered
    sourceSub = jetStreamSource(deps.nc, srcOpts).subscribe({
      next: onMessage,
      error: (e) => {
        if (stopped) return;
        if (e instanceof DeliveryGapError) void recoverGap();
        else deps.onFatal(e as Error);
      },
    });
    return from;
  };

  /**
   * The source skipped deliveries (lost with a dropped connection) and handed on nothing after them:
   * everything applied came before them, so a checkpoint acks exactly that, and reading again from
   * the ack floor brings the lost ones next (any already applied are skipped by their sequence).
   */
  const recoverGap = async (): Promise<void> => {
    log.warn("deliveries were lost with the connection: checkpointing and reading again from there", { stream: opts.stream, partition: opts.partition });
    try {
      await checkpoint();
    } catch {
      return; // checkpoint() has called onFatal
    }
    for (let attempt = 1; !stopped; attempt++) {
      try {
        await readFromAckFloor();
        return;
      } catch (e) {
        if (attempt >= 10) return deps.onFatal(e as Error);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  return {
    get devices() {
      return kind === "telemetry" ? winStore.size : locStore.size;
    },
    async start() {
      const restored = await deps.store.load(keyPrefix);
      const now = opts.scheduler.now();
      const seqOpts = { reorderBuffer: opts.reorderBuffer, reorderTimeout: opts.reorderTimeout, dedupeIds: opts.dedupeIds, missingRanges: 32 };
      for (const [key, value] of restored) {
        const device = key.slice(keyPrefix.length);
        const cp = value as DeviceCheckpoint;
        applied.set(device, cp.s);
        // An outbox may not have been published before the crash: publish it (again; ids dedupe).
        for (const o of cp.o ?? []) {
          const h = natsHeaders();
          for (const [k, v] of Object.entries(o.h)) h.set(k, v);
          send({ device, subject: o.s, body: o.b, headers: h });
          dirty.add(device);
        }
        seqStore.set(device, new Sequencer(device, seqOpts, decodeSequencer(cp.q)));
        if (cp.w) winStore.set(device, new DeviceWindows(device, { windows: opts.windows, maxOutOfOrder: opts.maxOutOfOrder, allowedLateness: opts.allowedLateness, idleTimeout: opts.idleTimeout }, now, cp.w));
        if (cp.l) locStore.set(device, new LocationTracker(device, cp.l));
      }
      pipeSub = processed.subscribe({ next: onItem, error: (e) => deps.onFatal(e as Error) });
      const from = await readFromAckFloor();
      log.debug("partition started", { stream: opts.stream, partition: opts.partition, devices: restored.size, fromSeq: from });
      timer = setInterval(() => void checkpoint().catch(noop), opts.checkpointInterval);
    },
    checkpoint,
    async stop() {
      stopped = true;
      sourceSub?.unsubscribe();
      if (timer) clearInterval(timer);
      pipeSub?.unsubscribe();
      await checkpoint();
    },
  };
}

/** Buffered events keep their original bytes and headers, so a later DLQ record is the same after a restart. */
function encodeSequencer(q: SequencerState | undefined): SequencerState {
  if (!q) return { missing: [], buffer: [], ids: [] };
  return {
    ...q,
    buffer: q.buffer.map(({ at, ev }) => {
      const raw = ev.raw;
      const enc = raw ? { subject: raw.subject, headers: headersToRecord(raw.headers), data: toBase64(raw.data) } : undefined;
      return { at, ev: { ...ev, raw: enc as never } };
    }),
  };
}

function decodeSequencer(q: SequencerState): SequencerState {
  return {
    ...q,
    buffer: q.buffer.map(({ at, ev }) => {
      const enc = ev.raw as unknown as { subject: string; headers?: Record<string, string>; data: string } | undefined;
      if (!enc) return { at, ev };
      const h = natsHeaders();
      for (const [k, v] of Object.entries(enc.headers ?? {})) h.set(k, v);
      return { at, ev: { ...ev, raw: { subject: enc.subject, headers: h, data: new Uint8Array(Buffer.from(enc.data, "base64")) } } };
    }),
  };
}
