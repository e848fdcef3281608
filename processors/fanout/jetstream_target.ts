/**
 * JetStream target: re-publishes the event in binary mode (same headers and body) to a subject,
 * with `Nats-Msg-Id` = the event id so that redeliveries deduplicate.
 */
import { headers as natsHeaders } from "@nats-io/transport-node";
import { PublishError } from "../../core/errors.ts";
import type { JsPublisher } from "../../core/js_publisher.ts";
import { DeliveryError } from "./errors.ts";
import type { Delivery, Target } from "./target.ts";

export function createJetStreamTarget(pub: JsPublisher, subject: string): Target {
  return {
    describe: `jetstream ${subject}`,
    async deliver(d: Delivery) {
      const h = natsHeaders();
      if (d.headers) for (const k of d.headers.keys()) h.set(k, d.headers.get(k));
      h.set("Nats-Msg-Id", d.event.id);
      try {
        await pub.publish(subject, d.data, h);
      } catch (e) {
        // 4xx from JetStream means it understood and refused (e.g. a stream mismatch): final.
        const code = e instanceof PublishError ? e.code : undefined;
        const final = code !== undefined && code >= 400 && code < 500 && code !== 408;
        throw new DeliveryError(`publish to ${subject} failed: ${(e as Error).message}`, !final, undefined, { cause: e });
      }
    },
    async close() {},
  };
}
