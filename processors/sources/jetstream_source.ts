/**
 * The JetStream source: one durable pull consumer per input partition, as an Observable of
 * ackable messages. Backpressure comes from JetStream: at most `maxAckPending` messages are out
 * unacknowledged, and one pull asks for at most `maxMessages`.
 *
 * The consumer acknowledges cumulatively (`AckPolicy.All`): the processor acks the newest message
 * once everything before it is durable. On start the consumer is re-created at its ack floor, so
 * messages delivered to a crashed process but never acknowledged come again, first and in order.
 */
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { setTimeout as sleep } from "node:timers/promises";
import { Observable } from "rxjs";
import { beforeReconnect } from "../../core/on_reconnect.ts";
import { DeliveryGapError } from "../errors.ts";
import { ACK, createPullPoller, POLL_IDLE_MS, seqOfReply } from "./pull_poller.ts";
import { jsAdmin } from "../../core/streams.ts";

export { pendingOfReply, seqOfReply } from "./pull_poller.ts";

export interface JetStreamSourceOptions {
  stream: string;
  /** Durable consumer name. */
  durable: string;
  /** e.g. `iot.telemetry.3.>` */
  filterSubject: string;
  maxAckPending: number;
  /** Messages per pull, at most. */
  maxMessages: number;
  /** After a pull that did not fill, the next one follows this much later (ms). */
  pollMs: number;
  /** Redelivery after this long without an ack (ms). */
  ackWait: number;
}

/** The consumer's delivery sequence expected first: 1, for a consumer just re-created by {@link resetConsumerToAckFloor}. */
const FIRST_DELIVERY = 1;

export const DEFAULT_JETSTREAM_SOURCE_OPTIONS: Omit<JetStreamSourceOptions, "stream" | "durable" | "filterSubject"> = {
  maxAckPending: 5000,
  maxMessages: 1000,
  pollMs: POLL_IDLE_MS,
  ackWait: 30_000,
};

/**
 * (Re)creates the durable consumer so that delivery starts right after its ack floor.
 * @returns the first stream sequence it will deliver
 */
export async function resetConsumerToAckFloor(nc: NatsConnection, opts: JetStreamSourceOptions): Promise<number> {
  const jsm = await jsAdmin(nc);
  let start = 0;
  try {
    const info = await jsm.consumers.info(opts.stream, opts.durable);
    start = info.ack_floor.stream_seq + 1;
    await jsm.consumers.delete(opts.stream, opts.durable);
  } catch (e) {
    if (!/consumer not found/i.test((e as Error).message)) throw e;
  }
  await jsm.consumers.add(opts.stream, {
    durable_name: opts.durable,
    filter_subject: opts.filterSubject,
    ack_policy: AckPolicy.All,
    ack_wait: nanos(opts.ackWait),
    max_ack_pending: opts.maxAckPending,
    ...(start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All }),
  });
  return Math.max(start, 1);
}

/**
 * Messages of one durable consumer, read in polls (see `pull_poller.ts`); unsubscribing stops the
 * polling (delivered, unprocessed messages are simply not acknowledged). Reads a consumer just
 * re-created by {@link resetConsumerToAckFloor}; fails with a {@link DeliveryGapError} when a delivery
 * is skipped (see `PullEnd`), before handing on anything after it. Each message is handed on
 * as nats.js delivers it: a core `Msg` whose reply is its ack subject (ack it with {@link ackAll}).
 * @example jetStreamSource(nc, { stream: "TELEMETRY", durable: "proc_telemetry_3", filterSubject: "iot.telemetry.3.>", ... }).subscribe(handle)
 */
export function jetStreamSource(nc: NatsConnection, opts: JetStreamSourceOptions): Observable<Msg> {
  return new Observable<Msg>((subscriber) => {
    let stopped = false;
    const poller = createPullPoller(nc, { stream: opts.stream, durable: opts.durable, nextDelivery: FIRST_DELIVERY }, (m) => {
      if (!stopped) subscriber.next(m);
    });
    void (async () => {
      while (!stopped) {
        const end = await poller.pull(opts.maxMessages);
        if (stopped) break;
        if (end === "gap") throw new DeliveryGapError(`${opts.durable} on ${opts.stream} delivered past messages this process did not receive (lost with a dropped connection)`);
        if (end === "unavailable") {
          // No responders: JetStream is away (reconnecting) or the consumer is gone; only the latter is fatal.
          await assertConsumer(nc, opts);
          await sleep(1000);
        } else if (end !== "full") await sleep(opts.pollMs);
      }
    })().catch((e) => {
      if (!stopped) subscriber.error(e);
    });
    return () => {
      stopped = true;
      poller.close();
    };
  });
}

async function assertConsumer(nc: NatsConnection, opts: JetStreamSourceOptions): Promise<void> {
  try {
    // Its answer never comes when it went out as the server went away: give up on reconnect (see beforeReconnect).
    await beforeReconnect(nc, jetstreamManager(nc).then((jsm) => jsm.consumers.info(opts.stream, opts.durable)));
  } catch (e) {
    if (/consumer not found|stream not found/i.test((e as Error).message)) throw e;
  }
}

/** Acknowledges a delivered message and, the consumers being `AckPolicy.All`, every one before it. */
export function ackAll(nc: NatsConnection, msg: { reply?: string }): void {
  if (msg.reply) nc.publish(msg.reply, ACK);
}

/**
 * The stream sequence of a delivered message, read from its ack subject without the object nats.js
 * builds for `msg.seq` (see {@link seqOfReply}). Falls back to `msg.seq` for any other shape.
 */
export function streamSeqOf(msg: { reply?: string; seq?: number }): number {
  return seqOfReply(msg.reply) ?? msg.seq ?? 0;
}
