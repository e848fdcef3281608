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
