/**
 * HTTP webhook target: CloudEvents HTTP structured mode (`application/cloudevents+json`), one POST
 * per event with a timeout. 2xx = delivered; 408, 429 and 5xx (and network errors) are retryable,
 * honouring `Retry-After`; any other status is final.
 */
import { DeliveryError } from "./errors.ts";
import type { Delivery, Target } from "./target.ts";

export interface WebhookTargetOptions {
  url: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** @example createWebhookTarget({ url: "https://example.com/hook", timeoutMs: 5000 }) */
export function createWebhookTarget(o: WebhookTargetOptions): Target {
  return {
    describe: `webhook ${o.url}`,
    async deliver(d: Delivery) {
      let r: Response;
      try {
        r = await fetch(o.url, {
          method: "POST",
          headers: { ...o.headers, "content-type": "application/cloudevents+json; charset=utf-8" },
          body: JSON.stringify(d.structured),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await r.arrayBuffer().catch(() => undefined);
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause;
        throw new DeliveryError(`POST ${o.url} failed: ${cause?.code ?? (e as Error).name}: ${(e as Error).message}`, true, undefined, { cause: e });
      }
      if (r.status >= 200 && r.status < 300) return;
      const retryable = r.status === 408 || r.status === 429 || r.status >= 500;
      throw new DeliveryError(`POST ${o.url} answered ${r.status} ${r.statusText}`, retryable, parseRetryAfter(r.headers.get("retry-after")));
    },
    async close() {},
  };
}
