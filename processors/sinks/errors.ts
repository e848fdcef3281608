/** Errors of the sinks area: each sets `name` and keeps `cause`. */
import { FleetstreamError } from "../../core/errors.ts";

/** A write the server answered with an error status; `body` holds the server's message. */
export class InfluxWriteError extends FleetstreamError {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
    /** The server asked to wait this long (Retry-After on 429/503), in ms. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A message that cannot become points (bad headers, JSON or data shape). */
export class PointMappingError extends FleetstreamError {}

/**
 * The server refused the batch for its content (a field type conflict, a parse error, a partial
 * write, a too-large body): splitting the batch isolates the offending points.
 */
export function isContentRejection(err: unknown): boolean {
  return err instanceof InfluxWriteError && (err.status === 400 || err.status === 413 || err.status === 422);
}

/**
 * The store has no delete API: VictoriaMetrics answers `/api/v2/delete` with 400 "unsupported path",
 * others with 404, 405 or 501.
 */
export function isUnsupportedDelete(err: unknown): boolean {
  if (!(err instanceof InfluxWriteError)) return false;
  return err.status === 404 || err.status === 405 || err.status === 501 || (err.status === 400 && /unsupported path/i.test(err.body));
}
