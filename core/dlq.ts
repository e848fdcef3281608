/**
 * Dead-letter records (CONTRACT section 3): the original bytes (base64), where they came from, when,
 * which stage gave up and why. Published to `<root>.dlq.<stage>.<reason>` in the DLQ stream.
 */
import { createHash } from "node:crypto";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import type { DlqReason } from "./errors.ts";
import type { JsPublisher, PubAck } from "./js_publisher.ts";
import type { Subjects } from "./subjects.ts";

export type DlqStage = "gateway" | "processor" | "sink" | "fanout";

export interface DlqRecord {
  stage: DlqStage;
  reason: DlqReason;
  /** Human-readable cause, e.g. `/metrics/temp: expected a finite number`. */
  error: string;
  /** JSON pointer into the payload, for `schema_violation`. */
  pointer?: string;
  /** The MQTT topic the original arrived on (gateway). */
  topic?: string;
  /** The NATS subject the original was stored under (processors, sinks, fan-out). */
  subject?: string;
  /** Original headers (processors, sinks, fan-out), so a redrive restores the envelope. */
  headers?: Record<string, string>;
  /** The fan-out rule or sink that failed. */
  target?: string;
  /** The device, when known. */
  device?: string;
  /** Index of the element inside a batch, when one element of a batch was rejected. */
  index?: number;
  receivedAt: string;
  /** The original bytes, base64. */
  original: string;
}

/**
 * A DLQ record's id is deterministic so that a re-processed reject does not land twice:
 * stage, reason, origin and bytes (and the event id, when the record has CloudEvents headers).
 */
export function dlqRecordId(rec: DlqRecord): string {
  const h = createHash("sha256");
  h.update(`${rec.stage}\u0000${rec.reason}\u0000${rec.topic ?? rec.subject ?? ""}\u0000${rec.target ?? ""}\u0000${rec.index ?? ""}\u0000`);
  h.update(rec.original);
  // Two events can share bytes and subject (the time travels in headers): their event ids keep
  // their records apart. Records without headers (gateway) keep the id they always had.
  const ceId = rec.headers?.["ce-id"];
  if (ceId) h.update(`\u0000ce-id:${ceId}`);
  return `dlq:${h.digest("hex").slice(0, 32)}`;
}

export function encodeDlq(rec: DlqRecord): { headers: MsgHdrs; body: string } {
  const h = natsHeaders();
  h.set("Nats-Msg-Id", dlqRecordId(rec));
  h.set("fs-stage", rec.stage);
  h.set("fs-reason", rec.reason);
  h.set("content-type", "application/json");
  return { headers: h, body: JSON.stringify(rec) };
}

/** Publishes a record and resolves once the DLQ stream stored it. */
export function publishDlq(pub: JsPublisher, subj: Subjects, rec: DlqRecord): Promise<PubAck> {
  const { headers, body } = encodeDlq(rec);
  return pub.publishDurably(subj.dlq(rec.stage, rec.reason), body, headers);
}

export function toBase64(bytes: Uint8Array | string): string {
  return (typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString("base64");
}
