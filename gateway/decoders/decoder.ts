/**
 * What a decoder is: a function from one parsed JSON element (a whole payload, or one element of a
 * batch) to a normalized event, or "ignored". It throws `RejectError` for bad input. Batching,
 * JSON parsing, size limits, device ids and the envelope are the normalizer's job.
 */
import type { LocationData, SensorReadingData } from "../../core/results.ts";
import type { InputKind } from "../../core/subjects.ts";
import type { ValidationLimits } from "./validation.ts";

export interface DecodeContext {
  /** The device id derived from the topic (already validated). */
  deviceId: string;
  topic: string;
  /** Receive time, epoch ms: the event time when the payload has none. */
  receivedAt: number;
  limits: ValidationLimits;
  /** JSON pointer of this element: `""` for a single payload, `"/2"` for batch element 2. */
  pointer: string;
}

/** A decoded element that becomes an event. */
export interface DecodedEvent {
  kind: InputKind;
  data: SensorReadingData | LocationData;
  /** Event time, epoch ms. */
  time: number;
  timesource: "device" | "gateway";
  seq?: number;
  /** The device's idempotency key. */
  id?: string;
}

/** A decoded element that is acknowledged and counted but not stored (e.g. OwnTracks `_type: waypoint`). */
export interface IgnoredElement {
  ignored: string;
}

export type Decoded = DecodedEvent | IgnoredElement;

/** @throws RejectError for input that can never become an event. */
export type Decoder = (element: unknown, ctx: DecodeContext) => Decoded;

export function isIgnored(d: Decoded): d is IgnoredElement {
  return "ignored" in d;
}
