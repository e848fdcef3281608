/** Errors of the fan-out area: each sets `name` and keeps `cause`. */
import { ConfigError, FleetstreamError } from "../../core/errors.ts";

/**
 * A rule's pattern is invalid; `path` points at the offending part, e.g. `rules[2].pattern.data.temp`.
 * A `ConfigError`, so the CLI reports it as one clear line (exit 78).
 */
export class PatternError extends ConfigError {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`, path);
  }
}

/** A target refused or failed a delivery. `retryable` false = retrying cannot help (e.g. HTTP 400). */
export class DeliveryError extends FleetstreamError {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The target asked to wait this long (HTTP Retry-After), in ms. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
