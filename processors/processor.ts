/**
 * The processor: every owned partition of TELEMETRY (windows) and LOCATION (enrichment), each a
 * {@link createPartitionPipeline}, sharing one pipelined publisher and one checkpoint bucket.
 * Embeddable: `fleetstream processor` runs it alone, `fleetstream start` beside the gateway.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { SchedulerLike } from "rxjs";
import { systemClock, type Clock } from "../core/clock.ts";
import { streamNames, type Config } from "../core/config.ts";
import { ConfigError } from "../core/errors.ts";
import { createJsPublisher, type JsPublisher } from "../core/js_publisher.ts";
import type { Logger } from "../core/logger.ts";
import { createRetentionWatch } from "../core/retention_watch.ts";
import type { Registry } from "../core/metrics.ts";
import { ensureStreams } from "../core/streams.ts";
import { subjects } from "../core/subjects.ts";
import { createProcessorMetrics } from "./metrics.ts";
import { createPartitionPipeline, type PartitionPipeline } from "./pipelines/partition_pipeline.ts";
import { openCheckpointStore } from "./state/checkpoint_store.ts";

export interface ProcessorDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
  clock?: Clock;
}

export interface ProcessorOptions {
  /** Create or update the streams on start (idempotent). */
  ensureStreams: boolean;
  /** Which inputs to process. */
  kinds: Array<"telemetry" | "location">;
  /** Publishes awaiting their JetStream ack, at most. */
  maxInFlight: number;
  /** Recent `ce-id`s remembered per device for de-duplication. */
  dedupeIds: number;
  /** Redelivery of unacknowledged input after this long (ms); longer than a checkpoint ever takes. */
  ackWait: number;
  /** `ce-source` of the results. */
  source: string;
  /** Processing-time scheduler of the operators (tests may inject one). */
  scheduler?: SchedulerLike;
  /**
   * Results or checkpoints could not be made durable. Default: log and exit the process (code 70),
   * so that everything unacknowledged is redelivered to the next run.
   */
  onFatal?: (err: Error) => void;
}

export const DEFAULT_PROCESSOR_OPTIONS: ProcessorOptions = {
  ensureStreams: true,
  kinds: ["telemetry", "location"],
  maxInFlight: 4000,
  dedupeIds: 128,
  ackWait: 30_000,
  source: "fleetstream/processor",
};

export interface Processor {
  start(): Promise<void>;
  /** Stops consuming, publishes and checkpoints what was applied, acks it (drain). */
  stop(): Promise<void>;
  /** Forces a checkpoint of every partition. */
  checkpoint(): Promise<void>;
  /** Partitions this process owns. */
  readonly partitions: number[];
}

/** Validates the processor part of the config: owned partitions must exist. */
export function processorPartitions(cfg: Config): number[] {
  const n = cfg.streams.partitions;
  const owned = cfg.processor.partitions.length ? [...new Set(cfg.processor.partitions)].sort((a, b) => a - b) : Array.from({ length: n }, (_, i) => i);
  for (const p of owned) {
    if (p >= n) throw new ConfigError(`invalid config at processor.partitions: partition ${p} does not exist (streams.partitions is ${n})`, "processor.partitions");
  }
  return owned;
}

/**
 * @example
 * const proc = createProcessor({ nc, cfg, log, registry });
 * await proc.start();
 * process.once("SIGTERM", () => proc.stop());
 */
export function createProcessor(deps: ProcessorDeps, options: Partial<ProcessorOptions> = {}): Processor {
  const opts = { ...DEFAULT_PROCESSOR_OPTIONS, ...options };
  const { nc, cfg } = deps;
  const log = deps.log.child({ component: "processor" });
  const clock = deps.clock ?? systemClock;
  const partitions = processorPartitions(cfg);
  const names = streamNames(cfg);
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const metrics = createProcessorMetrics(deps.registry);
  const pc = cfg.processor;
  let pub: JsPublisher | undefined;
  let pipelines: PartitionPipeline[] = [];
  const retention = createRetentionWatch(nc, deps.registry, log);
  const unwatch: Array<() => void> = [];
  let fatal = false;
  const onFatal =
    opts.onFatal ??
    ((err: Error) => {
      log.error("processor cannot make its work durable; exiting for a clean redelivery", { err });
      process.exit(70);
    });

  return {
    partitions,
    async start() {
      if (opts.ensureStreams) await ensureStreams(nc, cfg);
      pub = createJsPublisher(nc, { maxInFlight: opts.maxInFlight, timeoutMs: 10_000 });
      const store = await openCheckpointStore(nc, pub, { bucket: `${cfg.streams.prefix}fleetstream_processor`, replicas: cfg.streams.replicas });
      const pdeps = {
        nc,
        pub,
        store,
        subj,
        log,
        metrics,
        clock,
        onFatal: (err: Error) => {
          if (fatal) return;
          fatal = true;
          onFatal(err);
        },
      };
      for (const kind of opts.kinds) {
        for (const p of partitions) {
          const stream = kind === "telemetry" ? names.telemetry : names.location;
          const durable = `${cfg.streams.prefix}processor_${kind}_${p}`;
          unwatch.push(retention.add(stream, durable));
          pipelines.push(
            createPartitionPipeline(pdeps, {
              kind,
              partition: p,
              stream,
              durable,
              windows: [...pc.windows],
              maxOutOfOrder: pc.maxOutOfOrder,
              allowedLateness: pc.allowedLateness,
              idleTimeout: pc.idleTimeout,
              reorderBuffer: pc.reorderBuffer,
              reorderTimeout: pc.reorderTimeout,
              checkpointInterval: pc.checkpointInterval,
              maxAckPending: pc.maxAckPending,
              dedupeIds: opts.dedupeIds,
              ackWait: opts.ackWait,
              source: opts.source,
              ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
            }),
          );
        }
      }
      await Promise.all(pipelines.map((p) => p.start()));
      log.info("processor started", { partitions, kinds: opts.kinds, windows: pc.windows });
    },
    async checkpoint() {
      await Promise.all(pipelines.map((p) => p.checkpoint()));
    },
    async stop() {
      for (const u of unwatch.splice(0)) u();
      await Promise.allSettled(pipelines.map((p) => p.stop()));
      pipelines = [];
      await pub?.close();
      log.info("processor stopped");
    },
  };
}
