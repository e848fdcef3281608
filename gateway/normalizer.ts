/**
 * From one MQTT message to what must be stored: CloudEvents for the input streams and DLQ records for
 * rejects (CONTRACT sections 2-4). Pure and synchronous: no I/O, so it is unit-testable and the
 * intakes decide when to acknowledge.
 *
 * Order of checks: size (before parsing), route, device id, JSON, then per element the decoder. A JSON
 * array is a batch: each element succeeds or fails on its own, and a failing element becomes its own
 * DLQ record carrying `index` and the element's bytes.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import type { Config } from "../core/config.ts";
import type { DlqRecord } from "../core/dlq.ts";
import { toBase64 } from "../core/dlq.ts";
import { eventId, rfc3339, toHeaders } from "../core/envelope.ts";
import { RejectError } from "../core/errors.ts";
import type { InputKind, Subjects } from "../core/subjects.ts";
import { isIgnored } from "./decoders/decoder.ts";
import { createRouter, deviceIdOf } from "./routes.ts";

/** An event ready to publish. */
export interface OutEvent {
  kind: InputKind;
  subject: string;
  headers: MsgHdrs;
  body: string;
  /** `ce-id` = `Nats-Msg-Id`. */
  id: string;
}

/** Everything one MQTT message turns into. */
export interface Normalized {
  events: OutEvent[];
  rejects: DlqRecord[];
  /** One entry per ignored element, naming why (e.g. `owntracks_waypoint`). */
  ignored: string[];
}

export interface NormalizerOptions {
  gatewayId: string;
  routes: Config["routes"];
  limits: Config["limits"];
  subjects: Subjects;
  /**
   * Largest original (bytes) a DLQ record carries; a longer one (only possible for
   * `payload_too_large`) is cut and the record says so. Keep it well under the NATS max payload.
   */
  maxDlqOriginal: number;
}

export const DEFAULT_NORMALIZER_OPTIONS: Pick<NormalizerOptions, "maxDlqOriginal"> = { maxDlqOriginal: 512 * 1024 };

export interface Normalizer {
  normalize(topic: string, payload: Uint8Array, receivedAt: number): Normalized;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * @example
 * const n = createNormalizer({ gatewayId: "gw1", routes: cfg.routes, limits: cfg.limits, subjects: subjects("iot", 8) });
 * const { events, rejects } = n.normalize("devices/t1/telemetry", bytes, Date.now());
 */
export function createNormalizer(options: Omit<NormalizerOptions, "maxDlqOriginal"> & Partial<NormalizerOptions>): Normalizer {
  const opts: NormalizerOptions = { ...DEFAULT_NORMALIZER_OPTIONS, ...options };
  const router = createRouter(opts.routes);
  const source = `fleetstream/gateway/${opts.gatewayId}`;

  function reject(err: RejectError, topic: string, receivedAt: number, original: Uint8Array | string, extra: Partial<DlqRecord> = {}): DlqRecord {
    let bytes = original;
    let error = err.message;
    if (bytes.length > opts.maxDlqOriginal) {
      bytes = typeof bytes === "string" ? bytes.slice(0, opts.maxDlqOriginal) : bytes.subarray(0, opts.maxDlqOriginal);
      error += ` (original cut to its first ${opts.maxDlqOriginal} bytes)`;
    }
    const rec: DlqRecord = { stage: "gateway", reason: err.reason, error, topic, receivedAt: rfc3339(receivedAt), original: toBase64(bytes), ...extra };
    if (err.pointer !== undefined) rec.pointer = err.pointer;
    return rec;
  }

  return {
    normalize(topic, payload, receivedAt) {
      const out: Normalized = { events: [], rejects: [], ignored: [] };
      let device: string | undefined;
      try {
        if (payload.length > opts.limits.maxPayload) {
          throw new RejectError("payload_too_large", `payload of ${payload.length} bytes exceeds the limit of ${opts.limits.maxPayload} bytes`);
        }
        const resolved = router.match(topic);
        if (!resolved) throw new RejectError("schema_violation", `no route matches topic "${topic.slice(0, 200)}"`, "");
        device = deviceIdOf(resolved.route, topic);
        let text: string;
        let doc: unknown;
        try {
          text = utf8.decode(payload);
          doc = JSON.parse(text);
        } catch (e) {
          throw new RejectError("malformed_json", `payload is not valid UTF-8 JSON: ${(e as Error).message}`);
        }
        const batch = Array.isArray(doc);
        const elements: unknown[] = batch ? (doc as unknown[]) : [doc];
        if (batch && elements.length === 0) throw new RejectError("schema_violation", "/: expected a reading or a non-empty array of them", "");
        for (let i = 0; i < elements.length; i++) {
          const el = elements[i];
          const pointer = batch ? `/${i}` : "";
          // The bytes that identify this element: the whole payload, or the element re-serialized.
          const elBytes = batch ? JSON.stringify(el) : text;
          try {
            const d = resolved.decoder(el, { deviceId: device, topic, receivedAt, limits: opts.limits, pointer });
            if (isIgnored(d)) {
              out.ignored.push(d.ignored);
              continue;
            }
            const id = eventId(device, { id: d.id, seq: d.seq, topic, bytes: elBytes });
            const headers = toHeaders({
              specversion: "1.0",
              id,
              source,
              type: resolved.type,
              subject: device,
              time: rfc3339(d.time),
              ingesttime: rfc3339(receivedAt),
              seq: d.seq,
              timesource: d.timesource,
              datacontenttype: "application/json",
              data: d.data,
            });
            out.events.push({ kind: d.kind, subject: opts.subjects.input(d.kind, device), headers, body: JSON.stringify(d.data), id });
          } catch (e) {
            if (!(e instanceof RejectError)) throw e;
            out.rejects.push(reject(e, topic, receivedAt, batch ? elBytes : payload, batch ? { index: i, device } : { device }));
          }
        }
      } catch (e) {
        const err = e instanceof RejectError ? e : new RejectError("schema_violation", `payload could not be decoded: ${(e as Error).message}`, "");
        out.events.length = 0;
        out.ignored.length = 0;
        out.rejects = [reject(err, topic, receivedAt, payload, device ? { device } : {})];
      }
      return out;
    },
  };
}
