/**
 * The JetStream source: one durable pull consumer per input partition, as an Observable of
 * ackable messages. Backpressure comes from JetStream: at most `maxAckPending` messages are out
 * unacknowledged, and `consume` buffers at most `maxMessages`.
 *
 * The consumer acknowledges cumulatively (`AckPolicy.All`): the processor acks the newest message
 * once everything before it is durable. On start the consumer is re-created at its ack floor, so
 * messages delivered to a crashed process but never acknowledged come again, first and in order.
 */
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { Observable } from "rxjs";

export interface JetStreamSourceOptions {
  stream: string;
  /** Durable consumer name. */
  durable: string;
  /** e.g. `iot.telemetry.3.>` */
  filterSubject: string;
  maxAckPending: number;
  /** Messages `consume` buffers client-side. */
  maxMessages: number;
  /** Redelivery after this long without an ack (ms). */
  ackWait: number;
}

export const DEFAULT_JETSTREAM_SOURCE_OPTIONS: Omit<JetStreamSourceOptions, "stream" | "durable" | "filterSubject"> = {
  maxAckPending: 5000,
  maxMessages: 1000,
  ackWait: 30_000,
};

/**
 * (Re)creates the durable consumer so that delivery starts right after its ack floor.
 * @returns the first stream sequence it will deliver
 */
export async function resetConsumerToAckFloor(nc: NatsConnection, opts: JetStreamSourceOptions): Promise<number> {
  const jsm = await jetstreamManager(nc);
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
 * Messages of one durable consumer; unsubscribing stops the pull (buffered, unprocessed messages
 * are simply not acknowledged).
 * @example jetStreamSource(js, { stream: "TELEMETRY", durable: "proc_telemetry_3", filterSubject: "iot.telemetry.3.>", ... }).subscribe(handle)
 */
export function jetStreamSource(js: JetStreamClient, opts: JetStreamSourceOptions): Observable<JsMsg> {
  return new Observable<JsMsg>((subscriber) => {
    let stopped = false;
    let stop: (() => void) | undefined;
    void (async () => {
      const consumer = await js.consumers.get(opts.stream, opts.durable);
      const iter = await consumer.consume({ max_messages: opts.maxMessages });
      stop = () => iter.stop();
      if (stopped) iter.stop();
      for await (const m of iter) {
        if (stopped) break;
        subscriber.next(m);
      }
      if (!stopped) subscriber.complete();
    })().catch((e) => {
      if (!stopped) subscriber.error(e);
    });
    return () => {
      stopped = true;
      stop?.();
    };
  });
}

/**
 * The stream sequence of a delivered message, read from its ack subject without the object nats.js
 * builds for `msg.seq` (see {@link seqOfReply}). Falls back to `msg.seq` for any other shape.
 */
export function streamSeqOf(msg: JsMsg): number {
  return seqOfReply(replyOf(msg)) ?? msg.seq;
}

/**
 * The stream sequence in a JetStream ack subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...`,
 * or with domain and account hash after `ACK`); undefined for any other shape.
 */
export function seqOfReply(r: string | undefined): number | undefined {
  if (!r || !r.startsWith("$JS.ACK.")) return undefined;
  let dots = 0;
  for (let i = 0; i < r.length; i++) if (r.charCodeAt(i) === 46) dots++;
  const token = dots === 8 ? 5 : dots >= 10 ? 7 : -1;
  if (token < 0) return undefined;
  let i = 0;
  for (let seen = 0; seen < token; i++) if (r.charCodeAt(i) === 46) seen++;
  let n = 0;
  let digits = 0;
  for (; i < r.length; i++, digits++) {
    const c = r.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + (c - 48);
  }
  return digits > 0 ? n : undefined;
}

/** A delivered message's reply (ack) subject: nats.js has it on `JsMsgImpl`, not on the `JsMsg` type. */
export function replyOf(msg: JsMsg): string {
  return (msg as unknown as { reply: string }).reply;
}
