/** Errors of the processors area: each sets `name` and keeps `cause`. */
import { FleetstreamError } from "../core/errors.ts";

export class ProcessorError extends FleetstreamError {}

/** An input message that cannot be decoded into an event (goes to the DLQ as `processing_failed`). */
export class DecodeError extends ProcessorError {}

/** Writing or reading the checkpoint failed; the inputs it covers stay unacknowledged. */
export class CheckpointError extends ProcessorError {}

/** Results could not be published for good (e.g. the RESULTS stream is missing). */
export class ResultPublishError extends ProcessorError {}

/**
 * A consumer delivered past messages this process never received (lost with a dropped connection):
 * nothing after them may be acked, so what read them starts again from the consumer's ack floor.
 */
export class DeliveryGapError extends ProcessorError {}

/** Checkpoint and publish failures may pass once NATS is back; decode errors never do. */
export function isRetryableProcessorError(err: unknown): boolean {
  return err instanceof CheckpointError || err instanceof ResultPublishError;
}
