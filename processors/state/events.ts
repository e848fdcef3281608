/**
 * What flows through the processors: decoded input events, and the items the operators emit
 * (applied events, duplicates, gaps, window results, late events, enriched locations).
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import type { LocationData, LocationEnrichedData, SensorReadingData, SequenceGapData, WindowAggregateData } from "../../core/results.ts";

/** Where an input event came from, kept so a late or failed one can go to the DLQ with its original bytes. */
export interface RawRef {
  subject: string;
  headers?: MsgHdrs;
  data: Uint8Array;
}

/** One decoded input event of one device. */
export interface InputEvent<D = unknown> {
  /** `ce-id`. */
  id: string;
  /** `ce-subject`: the device id. */
  device: string;
  /** `ce-seq`, when the device sent one. */
  seq?: number;
  /** Event time (`ce-time`), epoch ms. */
  time: number;
  data: D;
  /** JetStream stream sequence of the input message, when read from a stream. */
  streamSeq?: number;
  raw?: RawRef;
}

export type ReadingEvent = InputEvent<SensorReadingData>;
export type LocationEvent = InputEvent<LocationData>;

/** Items emitted by the operators; each operator handles some kinds and passes the others through. */
export type ProcessorItem<D = unknown> =
  /** An event applied in per-device order. */
  | { kind: "event"; ev: InputEvent<D> }
  /** Dropped: same `ce-id` or a `seq` already applied. */
  | { kind: "duplicate"; ev: InputEvent<D> }
  /** Sequence numbers that never arrived within the reorder bound. `time`: event time of the event after the gap. */
  | { kind: "gap"; gap: SequenceGapData; time: number }
  /** A window result (first emission or a correction). */
  | { kind: "window"; result: WindowAggregateData }
  /** Beyond allowed lateness: goes to the DLQ. */
  | { kind: "late"; ev: InputEvent<D>; watermark: number }
  /** An enriched location fix. */
  | { kind: "location"; result: LocationEnrichedData; ev: InputEvent<D> }
  /** Applying it threw: goes to the DLQ as `processing_failed`; the stream goes on. */
  | { kind: "failed"; ev: InputEvent<D>; error: string };
