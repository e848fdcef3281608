// Proves: delivery retries retryable failures with growing delays, honours Retry-After, stops at maxAttempts or a final refusal.
import { describe, expect, it } from "vitest";
import { deliverWithRetry } from "./delivery.ts";
import { DeliveryError } from "./errors.ts";
import type { Delivery, Target } from "./target.ts";
import { parseRetryAfter } from "./webhook_target.ts";

const d = {} as Delivery;
function flaky(errors: Array<DeliveryError | undefined>): Target & { times: number[] } {
  const times: number[] = [];
  return {
    describe: "test",
    times,
    async deliver() {
      times.push(Date.now());
      const e = errors.shift();
      if (e) throw e;
    },
    async close() {},
  };
}

describe("deliverWithRetry", () => {
  const signal = new AbortController().signal;
  it("retries until delivered", async () => {
    const t = flaky([new DeliveryError("503", true), new DeliveryError("503", true), undefined]);
    expect(await deliverWithRetry(t, d, { maxAttempts: 5, initialMs: 20, maxMs: 100 }, signal)).toEqual({ ok: true, attempts: 3 });
    expect(t.times[2]! - t.times[1]!).toBeGreaterThanOrEqual(18); // second wait >= 50 % of 40 ms
  });
  it("gives up after maxAttempts", async () => {
    const t = flaky(Array.from({ length: 9 }, () => new DeliveryError("down", true)));
    expect(await deliverWithRetry(t, d, { maxAttempts: 3, initialMs: 1, maxMs: 2 }, signal)).toEqual({ ok: false, attempts: 3, error: "down" });
  });
  it("stops at once on a final refusal", async () => {
    const t = flaky([new DeliveryError("400 Bad Request", false)]);
    expect(await deliverWithRetry(t, d, { maxAttempts: 5, initialMs: 1, maxMs: 2 }, signal)).toEqual({ ok: false, attempts: 1, error: "400 Bad Request" });
  });
  it("waits as long as Retry-After asks", async () => {
    const t = flaky([new DeliveryError("429", true, 300), undefined]);
    await deliverWithRetry(t, d, { maxAttempts: 3, initialMs: 1, maxMs: 1000 }, signal);
    expect(t.times[1]! - t.times[0]!).toBeGreaterThanOrEqual(290);
  });
  it("parses Retry-After seconds and dates", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
