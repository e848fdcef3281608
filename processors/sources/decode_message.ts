/**
 * Decoding an input message (CloudEvents binary mode, CONTRACT section 4) into an {@link InputEvent},
 * with the shape checks the processors rely on. A message that fails them is a poison message.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import { readEvent } from "../../core/envelope.ts";
import type { LocationData, SensorReadingData } from "../../core/results.ts";
import type { InputKind } from "../../core/subjects.ts";
import { DecodeError } from "../errors.ts";
import type { InputEvent } from "../state/events.ts";

/** What a decoder needs of a JetStream message. */
export interface MessageLike {
  subject: string;
  seq?: number;
  headers?: MsgHdrs;
  data: Uint8Array;
}

/**
 * @throws DecodeError naming what is wrong
 * @example const ev = decodeMessage("telemetry", jsMsg) // ev.data.metrics.temperature
 */
export function decodeMessage(kind: "telemetry", msg: MessageLike, streamSeq?: number): InputEvent<SensorReadingData>;
export function decodeMessage(kind: "location", msg: MessageLike, streamSeq?: number): InputEvent<LocationData>;
export function decodeMessage(kind: InputKind, msg: MessageLike, streamSeq?: number): InputEvent<SensorReadingData | LocationData>;
export function decodeMessage(kind: InputKind, msg: MessageLike, streamSeq = msg.seq): InputEvent<SensorReadingData | LocationData> {
  let ce;
  try {
    ce = readEvent<Record<string, unknown>>(msg);
  } catch (e) {
    throw new DecodeError(`cannot decode event: ${(e as Error).message}`, { cause: e });
  }
  const time = Date.parse(ce.time);
  if (!Number.isFinite(time)) throw new DecodeError(`ce-time "${ce.time}" is not an RFC 3339 time`);
  if (ce.seq !== undefined && !(Number.isInteger(ce.seq) && ce.seq >= 0)) throw new DecodeError(`ce-seq must be an integer >= 0`);
  const d = ce.data;
  if (!d || typeof d !== "object") throw new DecodeError("event data must be a JSON object");
  if (kind === "telemetry") {
    if (!d.metrics || typeof d.metrics !== "object" || Array.isArray(d.metrics)) throw new DecodeError("telemetry data lacks a metrics object");
  } else if (typeof d.lat !== "number" || typeof d.lon !== "number" || !Number.isFinite(d.lat) || !Number.isFinite(d.lon)) {
    throw new DecodeError("location data lacks numeric lat and lon");
  }
  return {
    id: ce.id,
    device: ce.subject,
    seq: ce.seq,
    time,
    data: d as unknown as SensorReadingData | LocationData,
    streamSeq,
  };
}
