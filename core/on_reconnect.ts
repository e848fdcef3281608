/**
 * A hook on a NATS connection coming back after a drop. Its own module, without core/nats.ts's side
 * effect on nats.js's encoder, so that the benchmarks' passthrough can use the publisher as it is.
 */
import type { NatsConnection, Status } from "@nats-io/transport-node";

/**
 * Calls `fn` each time the connection is re-established after a drop.
 *
 * What was sent before then and not answered is lost: the socket took it (the server may or may not
 * have acted on it), and nats.js discards what is published while disconnected at each attempt to
 * reconnect (nats-core 3.x empties its outbound buffer when it dials). No answer will come, so callers
 * re-send such work here rather than wait out its timeout.
 * @returns stops watching
 * @example const unwatch = onReconnect(nc, () => resendPending()); ...; unwatch();
 */
export function onReconnect(nc: NatsConnection, fn: () => void): () => void {
  const statuses = nc.status() as AsyncIterable<Status> & { stop(): void };
  void (async () => {
    for await (const s of statuses) if (s.type === "reconnect") fn();
  })().catch(() => {});
  return () => statuses.stop();
}

/** What {@link beforeReconnect} rejects with: the connection dropped, so the answer will not come. */
export class ReconnectedError extends Error {
  override name = "ReconnectedError";
}

/**
 * Settles as `work` (a request) does, or rejects with a {@link ReconnectedError} as soon as the
 * connection is back after a drop: a request sent before then gets no answer, and its timeout would
 * hold the caller for nothing.
 * @example await beforeReconnect(nc, jsm.consumers.info(stream, durable)).catch((e) => { if (!(e instanceof ReconnectedError)) throw e; })
 */
export function beforeReconnect<T>(nc: NatsConnection, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const unwatch = onReconnect(nc, () => reject(new ReconnectedError("the connection to NATS dropped before the answer came")));
    work.then(resolve, reject).finally(unwatch);
  });
}
