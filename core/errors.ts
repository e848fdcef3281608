/** Errors of the core area: each sets `name` and keeps `cause`. */

export class FleetstreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing or invalid; the message names the key and the fix. */
export class ConfigError extends FleetstreamError {
  constructor(
    message: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** NATS (or its JetStream) could not be reached at start-up; later outages are ridden out by reconnecting. */
export class NatsUnreachableError extends FleetstreamError {}

/** JetStream refused or failed to store a publish. */
export class PublishError extends FleetstreamError {
  constructor(
    message: string,
    readonly code?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Input that can never become an event; carries the DLQ reason of CONTRACT section 3. */
export class RejectError extends FleetstreamError {
  constructor(
    readonly reason: DlqReason,
    message: string,
    readonly pointer?: string,
  ) {
    super(message);
  }
}

export type DlqReason =
  | "malformed_json"
  | "schema_violation"
  | "invalid_device_id"
  | "payload_too_large"
  | "timestamp_out_of_range"
  | "late_event"
  | "delivery_failed"
  | "processing_failed";

export const DLQ_REASONS: readonly DlqReason[] = [
  "malformed_json", "schema_violation", "invalid_device_id", "payload_too_large",
  "timestamp_out_of_range", "late_event", "delivery_failed", "processing_failed",
];

/** Network trouble, timeouts, HTTP 5xx and 429 are worth retrying; other 4xx are not. */
export function isRetryable(err: unknown): boolean {
  if (err && typeof err === "object") {
    const status = (err as { statusCode?: number; status?: number }).statusCode ?? (err as { status?: number }).status;
    if (typeof status === "number") return status >= 500 || status === 429;
    const code = (err as { code?: string }).code;
    if (typeof code === "string" && /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR)/.test(code)) return true;
    const name = (err as { name?: string }).name;
    if (name === "TimeoutError" || name === "AbortError" || name === "RequestError") return true;
  }
  return false;
}
