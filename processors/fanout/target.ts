/**
 * Where a rule delivers: a JetStream subject, an HTTP webhook or an MQTT topic (CONTRACT section 8).
 * Every target takes the same `Delivery` and rejects with `DeliveryError` saying whether a retry
 * can help.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import type { CloudEvent } from "../../core/envelope.ts";

/** One event to deliver, in both its forms. */
export interface Delivery {
  event: CloudEvent;
  /** `toStructured(event)`: what patterns match and webhooks/MQTT receive. */
  structured: Record<string, unknown>;
  /** The stored message: subject, binary-mode headers and body. */
  subject: string;
  headers?: MsgHdrs;
  data: Uint8Array;
}

export interface Target {
  /** e.g. `webhook http://...`, for logs. */
  readonly describe: string;
  deliver(d: Delivery): Promise<void>;
  close(): Promise<void>;
}
