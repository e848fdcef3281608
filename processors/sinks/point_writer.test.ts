// Proves: the point writer's policy on its own (the real-server behaviour is in the influx_sink tests): bisection isolates exactly the refused lines, retryable failures are retried (honouring Retry-After) until stored, and deletes are retried, refused with the server's reason, or skipped for good once the store says it has no deletes.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { InfluxWriteError } from "./errors.ts";
import type { InfluxWriteApi } from "./influx_write_api.ts";
import { createSinkMetrics } from "./metrics.ts";
import { createPointWriter, LineBlock } from "./point_writer.ts";

/**
 * A write API that refuses batches holding a "bad" line and fails the first `outages` calls with 503;
 * deletes answer `deleteStatus` (e.g. 400 "unsupported path" as VictoriaMetrics does) or succeed.
 */
function scripted(outages: number, retryAfterMs?: number, deleteStatus?: { status: number; body: string }): InfluxWriteApi & { stored: string[]; calls: number[]; deleted: number[] } {
  const stored: string[] = [];
  const calls: number[] = [];
  const deleted: number[] = [];
  return {
    kind: "v1",
    stored,
    calls,
    deleted,
    async deletePoints(d) {
      calls.push(Date.now());
      if (outages-- > 0) throw new InfluxWriteError("503", 503, "unavailable", retryAfterMs);
      if (deleteStatus) throw new InfluxWriteError(String(deleteStatus.status), deleteStatus.status, deleteStatus.body);
      deleted.push(d.time);
    },
    async write(body) {
      const lines = body.split("\n");
      calls.push(Date.now());
      if (outages-- > 0) throw new InfluxWriteError("503", 503, "unavailable", retryAfterMs);
      if (lines.some((l) => l.includes("bad"))) throw new InfluxWriteError("400", 400, "field type conflict");
      stored.push(...lines);
    },
  };
}

describe("LineBlock", () => {
  it("gives back any range of its lines as one body, through growth and non-ASCII text", () => {
    // Past the first 16 KiB and 256 lines several times, with 2- and 4-byte UTF-8 in tag values.
    const lines = Array.from({ length: 3000 }, (_, i) => `sensor_reading,device=d${i}${i % 7 === 0 ? "-é" : i % 11 === 0 ? "-😀" : ""} temperature=${i}.5 ${1764500000000 + i}`);
    const b = LineBlock.of(lines.map((line, i) => ({ line, origin: i * 2 })));
    expect(b.count).toBe(3000);
    expect(b.text()).toBe(lines.join("\n"));
    for (const [from, to] of [[0, 1], [7, 8], [11, 12], [255, 257], [1023, 1025], [500, 2999], [2999, 3000], [5, 5]] as const) expect(b.text(from, to)).toBe(lines.slice(from, to).join("\n"));
    expect([b.origin(0), b.origin(1024), b.origin(2999)]).toEqual([0, 2048, 5998]);
  });
});

describe("createPointWriter", () => {
  const signal = new AbortController().signal;
  it("bisects a refused batch down to the offending lines", async () => {
    const api = scripted(0);
    const registry = createRegistry();
    const w = createPointWriter(api, createSinkMetrics(registry), silentLogger, { backoffInitialMs: 1 });
    const lines = Array.from({ length: 16 }, (_, i) => ({ line: i === 3 || i === 12 ? `bad${i}` : `ok${i}`, origin: i }));
    const rejected = await w.write(LineBlock.of(lines), signal);
    expect(rejected).toEqual([
      { line: "bad3", origin: 3, error: "field type conflict" },
      { line: "bad12", origin: 12, error: "field type conflict" },
    ]);
    expect(api.stored.sort()).toEqual(lines.filter((l) => l.line.startsWith("ok")).map((l) => l.line).sort());
    expect(api.calls.length).toBeLessThanOrEqual(1 + 2 * 2 * 4); // log2(16) levels, two bad lines
  });
  it("retries an unavailable store until it takes the batch, waiting as Retry-After asks", async () => {
    const api = scripted(2, 150);
    const w = createPointWriter(api, createSinkMetrics(createRegistry()), silentLogger, { backoffInitialMs: 1, backoffMaxMs: 1000 });
    expect(await w.write(LineBlock.of([{ line: "ok", origin: 0 }]), signal)).toEqual([]);
    expect(api.stored).toEqual(["ok"]);
    expect(api.calls).toHaveLength(3);
    expect(api.calls[2]! - api.calls[1]!).toBeGreaterThanOrEqual(140);
  });
  it("gives up only when aborted, leaving the batch unwritten", async () => {
    const api = scripted(1_000_000);
    const w = createPointWriter(api, createSinkMetrics(createRegistry()), silentLogger, { backoffInitialMs: 5 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error("stop")), 100);
    await expect(w.write(LineBlock.of([{ line: "ok", origin: 0 }]), abort.signal)).rejects.toThrow("stop");
    expect(api.stored).toEqual([]);
  });
  it("retries a delete through an outage; returns the reason of a refused one; skips deletes for good on a store without them", async () => {
    const deletion = (time: number) => ({ measurement: "sensor_window", tags: { device: "d1", window: "session_30s" }, time });
    const ok = scripted(2, undefined);
    expect(await createPointWriter(ok, createSinkMetrics(createRegistry()), silentLogger, { backoffInitialMs: 1 }).remove(deletion(5), signal)).toBeUndefined();
    expect(ok.deleted).toEqual([5]);
    expect(ok.calls).toHaveLength(3);

    const refused = scripted(0, undefined, { status: 400, body: "bad predicate" });
    expect(await createPointWriter(refused, createSinkMetrics(createRegistry()), silentLogger).remove(deletion(5), signal)).toBe("bad predicate");

    const registry = createRegistry();
    const vm = scripted(0, undefined, { status: 400, body: 'unsupported path requested: "/api/v2/delete"' });
    const w = createPointWriter(vm, createSinkMetrics(registry), silentLogger, { name: "results" });
    expect(await w.remove(deletion(5), signal)).toBeUndefined();
    expect(await w.remove(deletion(6), signal)).toBeUndefined();
    expect(vm.calls).toHaveLength(1);
    expect(await registry.metrics()).toMatch(/fleetstream_sink_deletes_total\{sink="results",outcome="unsupported"\} 2\n/);
  });
});
