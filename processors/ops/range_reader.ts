/**
 * Reads a stored range of a stream through an ordered consumer (no acks, no server-side state
 * left behind): from a start time (or the beginning) up to an end time or the end of the stream
 * as it was when reading began. Used by `replay` and `dlq ls`.
 */
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

export interface RangeOptions {
  /** Empty = the whole stream. */
  filterSubjects: string[];
  /** Stream time (when JetStream stored the message), epoch ms; absent = from the first message. */
  fromMs?: number;
  /** Stream time, epoch ms, exclusive; absent = up to the last message stored when reading began. */
  toMs?: number;
  /** Messages handed to `onBatch` at once, at most. */
  batch: number;
}

/**
 * Calls `onBatch` with consecutive batches; resolves with the number of messages read.
 * @example await readRange(nc, "RESULTS", { filterSubjects: ["iot.results.>"], fromMs, toMs, batch: 500 }, async (msgs) => {...})
 */
export async function readRange(nc: NatsConnection, stream: string, o: RangeOptions, onBatch: (msgs: JsMsg[]) => Promise<void>): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const lastSeq = info.state.last_seq;
  if (info.state.messages === 0) return 0;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, {
    ...(o.filterSubjects.length ? { filter_subjects: o.filterSubjects.length === 1 ? o.filterSubjects[0]! : o.filterSubjects } : {}),
    ...(o.fromMs !== undefined ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(o.fromMs).toISOString() } : { deliver_policy: DeliverPolicy.All }),
  });
  let total = 0;
  for (;;) {
    const iter = await consumer.fetch({ max_messages: o.batch, expires: 1000 });
    const msgs: JsMsg[] = [];
    let done = false;
    for await (const m of iter) {
      if (m.seq > lastSeq || (o.toMs !== undefined && m.time.getTime() >= o.toMs)) {
        done = true;
        continue;
      }
      msgs.push(m);
      if (m.info.pending === 0 || m.seq === lastSeq) done = true;
    }
    if (msgs.length > 0) {
      total += msgs.length;
      await onBatch(msgs);
    }
    if (done || msgs.length === 0) break;
  }
  await consumer.delete().catch(() => false);
  return total;
}
