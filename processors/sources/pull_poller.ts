/**
 * Reads a durable pull consumer in polls: a pull request with `no_wait` takes what is stored now (up
 * to `batch`) and ends at once; when it came back full there is more, and the next pull follows at
 * once, otherwise after `idleMs`.
 *
 * Why not nats.js's `consume()`: it keeps a pull request waiting on the server, so nats-server wakes
 * the consumer and sends one message each time a message is stored. Polled, a consumer that is
 * caught up gets what arrived in the last `idleMs` in one go. `npm run bench -- readers` measures
 * it with the consumers `fleetstream start` has on TELEMETRY (README, "JetStream -> processors").
 * Delivery waits up to `idleMs` longer: nothing next to a window's lateness or the sink's batching.
 *
 * Deliveries are handed on in the order they arrive, including any of a pull that was given up on
 * (a reconnect can lose its end): with cumulative acks, skipping one and acking a later one would
 * lose it.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { createInbox } from "@nats-io/transport-node";
import { onReconnect } from "../../core/on_reconnect.ts";

export interface PullPollerOptions {
  stream: string;
  durable: string;
  /** A pull whose end has not come by then is given up, so that the next one can be sent (ms; default 5000). */
  pullTimeoutMs?: number;
  /**
   * The consumer's delivery sequence expected next (its `delivered.consumer_seq` + 1; 1 for a new
   * consumer). With it the poller checks that no delivery is skipped, see {@link PullEnd} `gap`.
   */
  nextDelivery?: number;
}

/** How long the callers wait after a pull that did not come back full before the next one (ms). */
export const POLL_IDLE_MS = 50;

/** The ack that acks a delivered message (and, with `AckPolicy.All`, every one before it). */
export const ACK = Uint8Array.of(43, 65, 67, 75); // +ACK

/**
 * How a pull ended. `unavailable`: no responders (the consumer, its stream or JetStream is missing).
 * `reconnected`: the connection came back after a drop, so the pull's end will not come.
 * `gap`: a delivery came that is not the one expected: those in between were lost with a dropped
 * connection (the server counts them as delivered, and redelivers them only after `ack_wait`) or went
 * to another client. With cumulative acks, acking anything after them would ack them unseen, so the
 * poller hands nothing more on and every pull ends `gap`: its owner re-creates the consumer at its ack
 * floor and reads with a new poller.
 */
export type PullEnd = "full" | "drained" | "unavailable" | "timeout" | "reconnected" | "gap";

export interface PullPoller {
  /**
   * Sends one pull for up to `max` messages stored now; each delivery goes to the poller's `onMsg` as it
   * arrives. Resolves when the server has ended the pull.
   */
  pull(max: number): Promise<PullEnd>;
  /** Stops listening; deliveries still in flight are not handed on (and stay unacked). */
  close(): void;
}

const ACK_PREFIX = "$JS.ACK.";

/** @example const p = createPullPoller(nc, { stream: "TELEMETRY", durable: "proc_3" }, (m) => handle(m)); await p.pull(1000); */
export function createPullPoller(nc: NatsConnection, opts: PullPollerOptions, onMsg: (m: Msg) => void): PullPoller {
  const inbox = createInbox();
  const subject = `$JS.API.CONSUMER.MSG.NEXT.${opts.stream}.${opts.durable}`;
  let current: { want: number; got: number; end(e: PullEnd): void } | undefined;
  let next = opts.nextDelivery;
  let gap = false;

  const sub: Subscription = nc.subscribe(inbox, {
    callback: (err, m) => {
      if (gap) return;
      if (err) return current?.end("unavailable");
      if (m.reply?.startsWith(ACK_PREFIX)) {
        if (next !== undefined) {
          const d = deliveryOfReply(m.reply);
          if (d !== next) {
            gap = true;
            return current?.end("gap");
          }
          next = d + 1;
        }
        onMsg(m);
        if (current && ++current.got >= current.want) current.end("full");
        return;
      }
      // A status message ends the pull: 404 nothing stored, 408 fewer than asked, 409 a consumer limit.
      current?.end(m.headers?.code === 503 ? "unavailable" : "drained");
    },
  });

  // A pull sent before a reconnect gets no end (see onReconnect): give it up, so the next one goes out.
  const unwatch = onReconnect(nc, () => current?.end("reconnected"));

  return {
    pull(max) {
      if (gap) return Promise.resolve<PullEnd>("gap");
      return new Promise<PullEnd>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const me = {
          want: max,
          got: 0,
          end: (e: PullEnd) => {
            if (current === me) current = undefined;
            clearTimeout(timer);
            resolve(e);
          },
        };
        current = me;
        timer = setTimeout(() => me.end("timeout"), opts.pullTimeoutMs ?? 5000);
        try {
          nc.publish(subject, JSON.stringify({ batch: max, no_wait: true }), { reply: inbox });
        } catch {
          me.end("unavailable");
        }
      });
    },
    close() {
      current?.end("drained");
      unwatch();
      sub.unsubscribe();
    },
  };
}

/**
 * The stream sequence in a JetStream ack subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...`,
 * or with domain and account hash after `ACK`); undefined for any other shape.
 */
export function seqOfReply(r: string | undefined): number | undefined {
  return ackToken(r, 0);
}

/**
 * The consumer's delivery sequence in an ack subject: every delivery of a consumer (redeliveries too)
 * takes the next one, so a delivery that is not the one after the last seen means others were lost.
 */
export function deliveryOfReply(r: string | undefined): number | undefined {
  return ackToken(r, 1);
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
