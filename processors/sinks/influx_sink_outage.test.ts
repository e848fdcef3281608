// Proves: with the store (VictoriaMetrics, v2) stopped for 30 s mid-stream the sink acks nothing it has not written, and after the restart every point is present.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { startVictoriaMetrics, type StoreHandle } from "../../testing/influx_stores.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { publishEvents, readingEvent, testConfig, waitFor, windowEvent, type TestEvent } from "../ops/test_events.ts";
import { createInfluxSink } from "./influx_sink.ts";
import { eventToPoints } from "./points.ts";
import { diff, expectedMap, readVictoriaMetrics } from "./store_readers.ts";

let ns: NatsServerHandle;
let vm: StoreHandle;
let nc: NatsConnection;
beforeAll(async () => {
  [ns, vm] = await Promise.all([startNatsServer(), startVictoriaMetrics()]);
  nc = await connect({ servers: ns.url });
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([ns?.cleanup(), vm?.cleanup()]);
});

it("survives a 30 s store outage mid-stream with every point present afterwards", async () => {
  const cfg = testConfig({ nats: { url: ns.url }, influx: { url: vm.url, api: "v2", batchSize: 200, flushInterval: 1000 } });
  await ensureStreams(nc, cfg);
  const registry = createRegistry();
  const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry }, { backoffInitialMs: 100, backoffMaxMs: 2000, ackWaitMs: 5000 });
  // Window starts spread over the day before yesterday: all in the past, as a store expects.
  const t0 = Date.UTC(2026, 10, 28, 0, 0, 0);
  const batch = (from: number, n: number): TestEvent[] =>
    Array.from({ length: n }, (_, i) => [
      readingEvent(cfg, `d${(from + i) % 5}`, t0 + (from + i) * 100, { temperature: (from + i) / 8, ok: i % 3 === 0 }, from + i),
      windowEvent(cfg, `d${(from + i) % 5}`, t0 + (from + i) * 60_000, { temperature: [from + i, 1.5] }),
    ]).flat();
  const all: TestEvent[] = [];
  await sink.start();
  try {
    const before = batch(0, 300);
    all.push(...before);
    await publishEvents(nc, before);
    const exp1 = expectedMap(before.flatMap((e) => eventToPoints(e.event)));
    await waitFor(async () => diff(exp1, await readVictoriaMetrics(vm.url), 1e-11, false).length === 0, 30_000, "points before the outage");

    await vm.stop();
    const outageStart = Date.now();
    // Events keep arriving while the store is down, in three waves.
    for (let w = 0; w < 3; w++) {
      const wave = batch(300 + w * 300, 300);
      all.push(...wave);
      await publishEvents(nc, wave);
      await new Promise((r) => setTimeout(r, 9000));
    }
    const jsm = await jetstreamManager(nc);
    const raw = await jsm.consumers.info("TELEMETRY", "fs_influx_raw");
    const results = await jsm.consumers.info("RESULTS", "fs_influx_results");
    // Nothing written during the outage is acked: 900 readings and 900 windows still outstanding.
    expect(raw.num_pending + raw.num_ack_pending).toBe(900);
    expect(results.num_pending + results.num_ack_pending).toBe(900);
    // Bounded memory: one batch in hand, the rest left in the stream.
    expect(raw.num_ack_pending).toBeLessThanOrEqual(200);
    // The retention watch sees the backlog grow (it checks every 15 s): unread, but nothing discarded yet.
    const backlog = /consumer_backlog_ratio\{stream="TELEMETRY",consumer="fs_influx_raw"\} (\S+)/.exec(await registry.metrics());
    expect(Number(backlog?.[1])).toBeGreaterThan(0);
    expect(Number(backlog?.[1])).toBeLessThan(1);
    expect(await registry.metrics()).toMatch(/consumer_retention_overruns_total\{stream="TELEMETRY",consumer="fs_influx_raw"\} 0\n/);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - outageStart))));
    await vm.start();

    const expected = expectedMap(all.flatMap((e) => eventToPoints(e.event)));
    let left: string[] = [];
    await waitFor(async () => (left = diff(expected, await readVictoriaMetrics(vm.url), 1e-11, false)).length === 0, 40_000, "every point after the outage").catch(() => {});
    expect(left).toEqual([]);
    expect((await registry.getSingleMetricAsString("fleetstream_sink_write_errors_total"))).toMatch(/kind="retryable"/);
  } finally {
    await sink.stop();
  }
});
