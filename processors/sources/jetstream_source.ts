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
import { ACK, createPullPoller, POLL_IDLE_MS } from "./pull_poller.ts";

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
 * Messages of one durable consumer, read in polls (see `pull_poller.ts`); unsubscribing stops the
 * polling (delivered, unprocessed messages are simply not acknowledged). Each message is handed on
 * as nats.js delivers it: a core `Msg` whose reply is its ack subject (ack it with {@link ackAll}).
 * @example jetStreamSource(nc, { stream: "TELEMETRY", durable: "proc_telemetry_3", filterSubject: "iot.telemetry.3.>", ... }).subscribe(handle)
 */
export function jetStreamSource(nc: NatsConnection, opts: JetStreamSourceOptions): Observable<Msg> {
  return new Observable<Msg>((subscriber) => {
    let stopped = false;
    const poller = createPullPoller(nc, { stream: opts.stream, durable: opts.durable }, (m) => {
      if (!stopped) subscriber.next(m);
    });
    void (async () => {
      while (!stopped) {
        const end = await poller.pull(opts.maxMessages);
        if (stopped) break;
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
    await (await jetstreamManager(nc)).consumers.info(opts.stream, opts.durable);
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

/**
 * The stream sequence in a JetStream ack subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...`,
 * or with domain and account hash after `ACK`); undefined for any other shape.
 */
export function seqOfReply(r: string | undefined): number | undefined {
  return ackToken(r, 0);
}

/** Messages the consumer still had to deliver when it sent this one (the ack subject's `pending`). */
export function pendingOfReply(r: string | undefined): number | undefined {
  return ackToken(r, 3);
}

/** The number `after` tokens past the stream sequence in an ack subject. */
function ackToken(r: string | undefined, after: number): number | undefined {
  if (!r || !r.startsWith("$JS.ACK.")) return undefined;
  let dots = 0;
  for (let i = 0; i < r.length; i++) if (r.charCodeAt(i) === 46) dots++;
  const token = (dots === 8 ? 5 : dots >= 10 ? 7 : -1) + after;
  if (token < after) return undefined;
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
