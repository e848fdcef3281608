/**
 * Delivering one event to a target with exponential backoff and jitter, honouring a target's
 * `Retry-After`, up to the rule's `maxAttempts`.
 */
import { sleep } from "../ops/durable_loop.ts";
import { DeliveryError } from "./errors.ts";
import type { Delivery, Target } from "./target.ts";

export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  maxMs: number;
}

export type DeliveryOutcome = { ok: true; attempts: number } | { ok: false; attempts: number; error: string };

/**
 * Resolves with the outcome; rejects only when `signal` aborts (the event is then left for redelivery).
 * @example const r = await deliverWithRetry(target, delivery, { maxAttempts: 8, initialMs: 500, maxMs: 30000 }, signal)
 */
export async function deliverWithRetry(
  target: Target,
  d: Delivery,
  policy: RetryPolicy,
  signal: AbortSignal,
  onAttempt?: (ok: boolean, seconds: number, err?: unknown) => void,
): Promise<DeliveryOutcome> {
  let delay = policy.initialMs;
  let last = "";
  for (let n = 1; n <= policy.maxAttempts; n++) {
    if (signal.aborted) throw signal.reason ?? new Error("aborted");
    const t0 = performance.now();
    try {
      await target.deliver(d);
      onAttempt?.(true, (performance.now() - t0) / 1000);
      return { ok: true, attempts: n };
    } catch (e) {
      onAttempt?.(false, (performance.now() - t0) / 1000, e);
      last = (e as Error).message;
      const retryable = e instanceof DeliveryError ? e.retryable : true;
      if (!retryable || n === policy.maxAttempts) return { ok: false, attempts: n, error: last };
      const asked = e instanceof DeliveryError ? e.retryAfterMs : undefined;
      // Jitter in [50 %, 100 %] of the step keeps many consumers from retrying in lockstep.
      const wait = asked !== undefined ? Math.min(asked, policy.maxMs * 10) : delay * (0.5 + Math.random() * 0.5);
      await sleep(wait, signal);
      delay = Math.min(delay * 2, policy.maxMs);
    }
  }
  return { ok: false, attempts: policy.maxAttempts, error: last };
}
