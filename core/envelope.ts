/**
 * The CloudEvents 1.0 envelope over NATS headers, binary content mode (CONTRACT section 4).
 *
 * The body is the normalized data; every attribute is a `ce-` header, and `Nats-Msg-Id` repeats
 * `ce-id` so that JetStream's duplicate window removes re-sent and redelivered input.
 */
import { createHash } from "node:crypto";
import type { MsgHdrs } from "@nats-io/transport-node";
import { EventHeaders, headerBlockText, headersToRecord, readHeaders, utf8, type HeaderSource } from "./fast_headers.ts";

/** Past-tense event types fleetstream emits. */
export type EventType =
  | "SensorReadingRecorded"
  | "LocationUpdated"
  | "WindowAggregateComputed"
  | "LocationEnriched"
  | "SequenceGapDetected"
  | (string & {});

export interface CloudEvent<T = unknown> {
  specversion: "1.0";
  id: string;
  source: string;
  type: EventType;
  /** The device id. */
  subject: string;
  /** Event time, RFC 3339 with milliseconds. */
  time: string;
  ingesttime?: string;
  seq?: number;
  timesource?: "device" | "gateway";
  datacontenttype: "application/json";
  data: T;
  /** Any further `ce-` extension attributes (e.g. `revision`). */
  extensions?: Record<string, string>;
}

const ID_MAX = 128;

/**
 * The deterministic event id of CONTRACT section 4.
 * @example eventId("t1", { id: "r-42" }) // => "t1:r-42"
 * @example eventId("t1", { seq: 7 })     // => "t1:s7"
 */
export function eventId(
  deviceId: string,
  key: { id?: string; seq?: number; topic?: string; bytes?: Uint8Array | string },
): string {
  if (key.id !== undefined) return `${deviceId}:${key.id}`;
  if (key.seq !== undefined) return `${deviceId}:s${key.seq}`;
  const h = createHash("sha256");
  h.update(key.topic ?? "");
  h.update("\u0000");
  h.update(key.bytes ?? "");
  return `${deviceId}:h${h.digest("hex").slice(0, 16)}`;
}

export const MAX_IDEMPOTENCY_KEY = ID_MAX;

/** RFC 3339 with milliseconds, UTC (as `Date#toISOString`). */
export function rfc3339(ms: number): string {
  // `toISOString` costs ~1 µs; readings share the minute, so its "YYYY-MM-DDTHH:MM:" part is kept
  // (two slots: the gateway alternates a reading's event time and its receive time).
  // Fractions (truncated by Date) and years outside 0000-9999 (six digits and a sign): no shortcut.
  if (!Number.isInteger(ms) || ms < MIN_4_DIGIT_YEAR || ms > MAX_4_DIGIT_YEAR) return new Date(ms).toISOString();
  const minute = Math.floor(ms / 60_000);
  let prefix: string;
  if (minute === slotMinute[0]) prefix = slotPrefix[0]!;
  else if (minute === slotMinute[1]) prefix = slotPrefix[1]!;
  else {
    const i = (nextSlot ^= 1);
    slotMinute[i] = minute;
    prefix = slotPrefix[i] = new Date(minute * 60_000).toISOString().slice(0, 17);
  }
  const rest = ms - minute * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  return prefix + (sec < 10 ? "0" : "") + sec + (milli < 10 ? ".00" : milli < 100 ? ".0" : ".") + milli + "Z";
}
const MIN_4_DIGIT_YEAR = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const MAX_4_DIGIT_YEAR = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const slotMinute = [NaN, NaN];
const slotPrefix = ["", ""];
let nextSlot = 0;

/** Encodes an event as NATS headers (binary mode); the body is `JSON.stringify(ev.data)`. */
export function toHeaders(ev: CloudEvent): MsgHdrs {
  const e: Array<[string, string]> = [
    ["ce-specversion", "1.0"],
    ["ce-id", ev.id],
    ["ce-source", ev.source],
    ["ce-type", ev.type],
    ["ce-subject", ev.subject],
    ["ce-time", ev.time],
  ];
  if (ev.ingesttime) e.push(["ce-ingesttime", ev.ingesttime]);
  if (ev.seq !== undefined) e.push(["ce-seq", String(ev.seq)]);
  if (ev.timesource) e.push(["ce-timesource", ev.timesource]);
  if (ev.extensions) for (const [k, v] of Object.entries(ev.extensions)) e.push([`ce-${k}`, v]);
  e.push(["content-type", "application/json"], ["Nats-Msg-Id", ev.id]);
  return new EventHeaders(e);
}

const KNOWN = new Set([
  "ce-specversion", "ce-id", "ce-source", "ce-type", "ce-subject", "ce-time",
  "ce-ingesttime", "ce-seq", "ce-timesource",
]);
/** The known attribute names by length, so a header key is compared only with names it could be. */
const KNOWN_BY_LENGTH: Array<string[] | undefined> = [];
for (const k of KNOWN) (KNOWN_BY_LENGTH[k.length] ??= []).push(k);

/**
 * Decodes a received message (nats.js `Msg` or `JsMsg`): the fast path of {@link fromMessage}, which
 * reads the header block without building nats.js header objects.
 */
export function readEvent<T = unknown>(msg: HeaderSource & { data: Uint8Array }): CloudEvent<T> {
  const block = headerBlockText(msg);
  if (block === undefined) return fromMessage<T>(readHeaders(msg), msg.data);
  if (block === "") throw new Error("message has no CloudEvents headers");
  return eventFromBlock<T>(block, msg.data);
}

/**
 * Reads the attributes straight out of the header block's text: no key strings and no record in
 * between (a header object with computed keys costs a string-table lookup per key, twice per reading:
 * processor and sink). The same result as `fromMessage(parseHeaderBlock(...))`: first value of each
 * key, known attributes by exact name, other `ce-` keys (any case) as extensions.
 */
function eventFromBlock<T>(text: string, body: Uint8Array): CloudEvent<T> {
  let id: string | undefined, source: string | undefined, type: string | undefined, subject: string | undefined, time: string | undefined;
  let ingesttime: string | undefined, seqRaw: string | undefined, timesource: string | undefined;
  let extensions: Record<string, string> | undefined;
  let seenExt: Set<string> | undefined;
  let i = text.indexOf("\r\n");
  while (i >= 0) {
    const start = i + 2;
    const end = text.indexOf("\r\n", start);
    if (end <= start) break;
    i = end;
    const colon = text.indexOf(":", start);
    if (colon <= start || colon >= end) continue;
    // Every attribute header is `ce-...`; anything else (content-type, Nats-Msg-Id) is skipped unread.
    if (text.charCodeAt(start + 2) !== 45 || (text.charCodeAt(start) | 32) !== 99 || (text.charCodeAt(start + 1) | 32) !== 101) continue;
    let v = colon + 1;
    while (v < end && text.charCodeAt(v) === 32) v++;
    const known = KNOWN_BY_LENGTH[colon - start];
    let name: string | undefined;
    if (known) for (const k of known) if (text.startsWith(k, start)) name = k;
    switch (name) {
      case "ce-id": id ??= text.slice(v, end); continue;
      case "ce-source": source ??= text.slice(v, end); continue;
      case "ce-type": type ??= text.slice(v, end); continue;
      case "ce-subject": subject ??= text.slice(v, end); continue;
      case "ce-time": time ??= text.slice(v, end); continue;
      case "ce-ingesttime": ingesttime ??= text.slice(v, end); continue;
      case "ce-seq": seqRaw ??= text.slice(v, end); continue;
      case "ce-timesource": timesource ??= text.slice(v, end); continue;
      case "ce-specversion": continue;
    }
    const key = text.slice(start, colon);
    const lk = key.toLowerCase();
    if (KNOWN.has(lk) || (seenExt ??= new Set()).has(key)) continue;
    seenExt.add(key);
    (extensions ??= {})[lk.slice(3)] = text.slice(v, end);
  }
  if (!id || !type || !subject || !time) throw new Error("message lacks ce-id, ce-type, ce-subject or ce-time");
  return {
    specversion: "1.0",
    id,
    source: source || "",
    type,
    subject,
    time,
    ingesttime: ingesttime || undefined,
    seq: seqRaw ? Number(seqRaw) : undefined,
    timesource: (timesource || undefined) as CloudEvent["timesource"],
    datacontenttype: "application/json",
    data: JSON.parse(utf8(body)) as T,
    extensions,
  };
}

/** Decodes a binary-mode CloudEvent from NATS headers (or a plain header object) and a JSON body. */
export function fromMessage<T = unknown>(h: MsgHdrs | Record<string, string> | undefined, body: Uint8Array | string): CloudEvent<T> {
  const rec = h && typeof (h as MsgHdrs).keys === "function" ? headersToRecord(h as MsgHdrs) : (h as Record<string, string> | undefined);
  if (!rec) throw new Error("message has no CloudEvents headers");
  const id = rec["ce-id"];
  const type = rec["ce-type"];
  const subject = rec["ce-subject"];
  const time = rec["ce-time"];
  if (!id || !type || !subject || !time) throw new Error("message lacks ce-id, ce-type, ce-subject or ce-time");
  const seqRaw = rec["ce-seq"];
  let extensions: Record<string, string> | undefined;
  for (const k in rec) {
    // Only keys that look like `ce-...` (any case) are worth lower-casing: this runs per message.
    if (k.charCodeAt(2) !== 45 || (k.charCodeAt(0) | 32) !== 99) continue;
    const lk = k.toLowerCase();
    if (lk.startsWith("ce-") && !KNOWN.has(lk)) (extensions ??= {})[lk.slice(3)] = rec[k]!;
  }
  const text = typeof body === "string" ? body : utf8(body);
  return {
    specversion: "1.0",
    id,
    source: rec["ce-source"] || "",
    type,
    subject,
    time,
    ingesttime: rec["ce-ingesttime"] || undefined,
    seq: seqRaw ? Number(seqRaw) : undefined,
    timesource: (rec["ce-timesource"] || undefined) as CloudEvent["timesource"],
    datacontenttype: "application/json",
    data: JSON.parse(text) as T,
    extensions,
  };
}

/** The structured-mode JSON form (CloudEvents HTTP structured mode, pattern matching). */
export function toStructured(ev: CloudEvent): Record<string, unknown> {
  const { extensions, ...rest } = ev;
  const out: Record<string, unknown> = { ...rest, ...(extensions ?? {}) };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
