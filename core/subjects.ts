/**
 * Subject names and the partition hash (CONTRACT section 5).
 *
 * Every event of one device lives in one partition so that a single consumer sees it in order.
 * The hash is FNV-1a 32-bit over the device id's bytes, mod the partition count: the same function
 * nats-server uses for its `partition(n, ...)` subject-mapping transform, so a server-side mapping
 * and this code always agree.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** FNV-1a 32-bit hash of a string's UTF-8 bytes, as an unsigned integer. */
export function fnv1a32(key: string): number {
  let h = FNV_OFFSET;
  // Device ids are ASCII (CONTRACT section 2): an ASCII char is its own UTF-8 byte, so no encoding
  // (once per event). A non-ASCII key starts over on its UTF-8 bytes.
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return fnvBytes(encoder.encode(key));
    h ^= c;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

function fnvBytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/**
 * The partition a device's events belong to.
 * @example partitionOf("truck-7", 8) // => same as nats-server `{{partition(8,1)}}` on "truck-7"
 */
export function partitionOf(deviceId: string, partitions: number): number {
  return fnv1a32(deviceId) % partitions;
}

export const DEVICE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Event kinds carried by the input streams. */
export type InputKind = "telemetry" | "location";

/** Builds every subject name from the configured root (`iot` by default). */
export interface Subjects {
  readonly root: string;
  readonly partitions: number;
  /** `iot.telemetry.<p>.<deviceId>` / `iot.location.<p>.<deviceId>` */
  input(kind: InputKind, deviceId: string): string;
  /** Filter for one partition of an input stream: `iot.telemetry.3.>` */
  inputPartition(kind: InputKind, partition: number): string;
  /** Filter for a whole input stream: `iot.telemetry.>` */
  inputAll(kind: InputKind): string;
  windowResult(deviceId: string): string;
  locationResult(deviceId: string): string;
  derivedEvent(eventType: string, deviceId: string): string;
  resultsAll(): string[];
  dlq(stage: string, reason: string): string;
  dlqAll(): string;
  /** Raw MQTT capture subjects for the `nats` intake (nats-server maps MQTT topics under `$MQTT.msgs`). */
  mqttRaw(): string;
}

/**
 * @example subjects("iot", 8).input("telemetry", "truck-7") // => "iot.telemetry.<p>.truck-7"
 */
export function subjects(root = "iot", partitions = 8): Subjects {
  return {
    root,
    partitions,
    input: (kind, deviceId) => `${root}.${kind}.${partitionOf(deviceId, partitions)}.${deviceId}`,
    inputPartition: (kind, p) => `${root}.${kind}.${p}.>`,
    inputAll: (kind) => `${root}.${kind}.>`,
    windowResult: (d) => `${root}.results.window.${d}`,
    locationResult: (d) => `${root}.results.location.${d}`,
    derivedEvent: (t, d) => `${root}.events.${t}.${d}`,
    resultsAll: () => [`${root}.results.>`, `${root}.events.>`],
    dlq: (stage, reason) => `${root}.dlq.${stage}.${reason}`,
    dlqAll: () => `${root}.dlq.>`,
    mqttRaw: () => `$MQTT.msgs.>`,
  };
}
