/**
 * Writes a batch of lines durably: network errors, 5xx, 429 (and any other failure that is not
 * about the content, e.g. 401 or a missing database, logged as such) are retried with exponential
 * backoff and jitter, or after the server's Retry-After, until they succeed or the caller aborts;
 * a batch the server refuses for its content is bisected until the offending lines stand alone,
 * and those are returned as rejected while the rest land.
 *
 * Deletes are retried the same way; a store without deletes is told once in the log, and its
 * deletes count as `unsupported` and are skipped.
 */
import type { Logger } from "../../core/logger.ts";
import { sleep } from "../ops/durable_loop.ts";
import { isContentRejection, isUnsupportedDelete, InfluxWriteError } from "./errors.ts";
import type { InfluxWriteApi, PointDeletion } from "./influx_write_api.ts";
import type { SinkMetrics } from "./metrics.ts";

/** A line and the index of the message it came from. */
export interface PendingLine {
  line: string;
  origin: number;
}

export interface Rejected extends PendingLine {
  /** The server's reason, e.g. `partial write: field type conflict: ...`. */
  error: string;
}

export interface PointWriterOptions {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Lines per request, at most. */
  maxLinesPerRequest: number;
  /** Label for metrics and logs. */
  name: string;
}

export const DEFAULT_POINT_WRITER_OPTIONS: PointWriterOptions = { backoffInitialMs: 200, backoffMaxMs: 10_000, maxLinesPerRequest: 5000, name: "influx" };

export interface PointWriter {
  /** Resolves with the rejected lines once everything else is stored; rejects only when `signal` aborts. */
  write(lines: PendingLine[], signal: AbortSignal): Promise<Rejected[]>;
  /** Resolves with the server's reason when it refused the deletion for its content, else undefined. */
  remove(deletion: PointDeletion, signal: AbortSignal): Promise<string | undefined>;
}

export function createPointWriter(api: InfluxWriteApi, metrics: SinkMetrics, log: Logger, options: Partial<PointWriterOptions> = {}): PointWriter {
  const o = { ...DEFAULT_POINT_WRITER_OPTIONS, ...options };

  // Set once the store said it has no deletes: later ones are skipped without a request.
  let toldUnsupported = false;

  /** One write of `lines`, retried. */
  async function attempt(lines: PendingLine[], signal: AbortSignal): Promise<InfluxWriteError | undefined> {
    return retried(async () => {
      await api.write(lines.map((l) => l.line));
      metrics.pointsWritten.inc({ sink: o.name }, lines.length);
    }, signal);
  }

  /** One request, retried until it succeeds or is refused for content (or, with `unsupported`, throws what it matches). */
  async function retried(request: () => Promise<void>, signal: AbortSignal, unsupported?: (e: unknown) => boolean): Promise<InfluxWriteError | undefined> {
    let delay = o.backoffInitialMs;
    for (let n = 1; ; n++) {
      const end = metrics.writeSeconds.startTimer({ sink: o.name });
      try {
        await request();
        end();
        return undefined;
      } catch (e) {
        end();
        if (unsupported?.(e)) throw e;
        if (isContentRejection(e)) {
          metrics.writeErrors.inc({ sink: o.name, kind: "rejected" });
          return e as InfluxWriteError;
        }
        metrics.writeErrors.inc({ sink: o.name, kind: "retryable" });
        if (n === 1 || n % 10 === 0) log.warn("write failed, retrying", { sink: o.name, attempt: n, delayMs: delay, err: e });
        // The server's Retry-After wins (bounded, so a bad header cannot park the sink for hours).
        const asked = e instanceof InfluxWriteError ? e.retryAfterMs : undefined;
        await sleep(asked !== undefined ? Math.min(asked, o.backoffMaxMs * 6) : delay * (0.75 + Math.random() * 0.5), signal);
        delay = Math.min(delay * 2, o.backoffMaxMs);
      }
    }
  }

  async function bisect(lines: PendingLine[], signal: AbortSignal, out: Rejected[]): Promise<void> {
    const err = await attempt(lines, signal);
    if (!err) return;
    if (lines.length === 1) {
      out.push({ ...lines[0]!, error: err.body || err.message });
      return;
    }
    metrics.batchesSplit.inc({ sink: o.name });
    const mid = Math.ceil(lines.length / 2);
    await bisect(lines.slice(0, mid), signal, out);
    await bisect(lines.slice(mid), signal, out);
  }

  return {
    async remove(deletion, signal) {
      if (!toldUnsupported) {
        try {
          const err = await retried(() => api.deletePoints(deletion), signal, isUnsupportedDelete);
          if (err) return err.body || err.message;
          metrics.deletes.inc({ sink: o.name, outcome: "deleted" });
          return undefined;
        } catch (e) {
          if (!isUnsupportedDelete(e)) throw e;
          toldUnsupported = true;
          log.warn("the store has no delete API: points of session windows that a merge superseded stay in it (RESULTS has the truth)", { sink: o.name, api: api.kind, error: (e as Error).message });
        }
      }
      metrics.deletes.inc({ sink: o.name, outcome: "unsupported" });
      return undefined;
    },
    async write(lines, signal) {
      const rejected: Rejected[] = [];
      for (let i = 0; i < lines.length; i += o.maxLinesPerRequest) await bisect(lines.slice(i, i + o.maxLinesPerRequest), signal, rejected);
      return rejected;
    },
  };
}
