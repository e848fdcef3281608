// Proves: one sink contract, run against VictoriaMetrics over the v2 API and InfluxDB 1.6 over the v1 API: windows, locations and raw readings read back exactly, a later window revision overwrites, raw=false writes no raw points, and a session window that a merge superseded is deleted (InfluxDB) or, on a store without deletes, left while the sink goes on (VictoriaMetrics).
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { createInfluxDb, startInfluxDb1, startVictoriaMetrics, type StoreHandle } from "../../testing/influx_stores.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { locationEvent, publishEvents, readingEvent, testConfig, waitFor, windowEvent, type TestEvent } from "../ops/test_events.ts";
import { createInfluxSink } from "./influx_sink.ts";
import { eventToPoints } from "./points.ts";
import { diff, expectedMap, readInfluxDb1, readVictoriaMetrics, type SampleMap } from "./store_readers.ts";

interface StoreUnderTest {
  handle: StoreHandle;
  influx: Record<string, unknown>;
  read(): Promise<SampleMap>;
  /** Relative tolerance of float read-back (VictoriaMetrics keeps ~12 significant digits). */
  relTol: number;
  /** Whether a second write of a point replaces it (InfluxDB) or is kept beside it (VictoriaMetrics). */
  overwrites: boolean;
  /** Whether the store has a delete API the sink can use. */
  deletes: boolean;
}

/** The contract every write API must keep; `build` starts the store. */
function sinkContract(name: string, build: () => Promise<StoreUnderTest>) {
  describe(`influx sink contract: ${name}`, () => {
    let ns: NatsServerHandle;
    let nc: NatsConnection;
    let store: StoreUnderTest;
    beforeAll(async () => {
      [ns, store] = await Promise.all([startNatsServer(), build()]);
      nc = await connect({ servers: ns.url });
    });
    afterAll(async () => {
      await nc?.close();
      await Promise.all([ns?.cleanup(), store?.handle.cleanup()]);
    });

    it("writes windows, locations and raw readings that read back exactly; a later revision overwrites (InfluxDB) or is stored beside (VictoriaMetrics)", async () => {
      const cfg = testConfig({ nats: { url: ns.url }, streams: { prefix: "C1_", subjectRoot: "c1" }, influx: { ...store.influx, batchSize: 50, flushInterval: 1000 } });
      await ensureStreams(nc, cfg);
      const t0 = Date.UTC(2026, 10, 30, 12, 0, 0);
      const events: TestEvent[] = [];
      for (let d = 0; d < 3; d++) {
        const dev = `dev-${d}`;
        for (let w = 0; w < 4; w++) events.push(windowEvent(cfg, dev, t0 + w * 60_000, { temperature: [20 + d, 21.25 + w, 19.5], humidity: [40.125 * (w + 1)] }));
        for (let i = 0; i < 5; i++) events.push(locationEvent(cfg, dev, t0 + i * 1000, i === 0 ? { lat: 52.5 + d, lon: 13.4 } : { lat: 52.5 + d + i / 1000, lon: 13.4 + i / 1000, alt: 34.5, accuracy: 5, heading: 90, speed_mps: 1.5 * i, distance_m: 111.25 * i }));
        for (let i = 0; i < 40; i++) events.push(readingEvent(cfg, dev, t0 + i * 500, { temperature: 20 + i / 4, door_open: i % 2 === 0, count: i }, i));
      }
      // A correction of dev-0's first window: same point, new values.
      const revised = windowEvent(cfg, "dev-0", t0, { temperature: [20, 21.25, 19.5, 30], humidity: [40.125] }, 1);
      const registry = createRegistry();
      const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry }, { backoffInitialMs: 100 });
      await sink.start();
      try {
        await publishEvents(nc, events);
        await publishEvents(nc, [revised]);
        const expected = expectedMap([...events, revised].flatMap((e) => eventToPoints(e.event)));
        expect(expected.size).toBe(3 * (4 * 2 * 8 + 1 * 2 + 4 * 7 + 40 * 3));
        let actual: SampleMap = new Map();
        await waitFor(async () => diff(expected, (actual = await store.read()), store.relTol, store.overwrites).length === 0, 30_000, "every point to read back").catch(() => {});
        expect(diff(expected, actual, store.relTol, store.overwrites)).toEqual([]);
        const countKey = `sensor_window,device=dev-0,metric=temperature,window=tumbling_1m count@${t0}`;
        // InfluxDB replaces the first revision; VictoriaMetrics keeps both samples of one timestamp.
        expect(actual.get(countKey)).toEqual(store.overwrites ? [4] : expect.arrayContaining([4]));
        expect(actual.get(`sensor_reading,device=dev-1 door_open@${t0 + 500}`)).toEqual([0]);
        const metrics = await registry.metrics();
        expect(metrics).toMatch(/fleetstream_sink_points_written_total\{sink="raw"\} 120\n/);
        expect(metrics).toMatch(/fleetstream_sink_event_latency_seconds_count\{sink="raw"\} 120\n/);
      } finally {
        await sink.stop();
      }
    });

    it("writes no raw sensor_reading points when influx.raw is false", async () => {
      const cfg = testConfig({ nats: { url: ns.url }, streams: { prefix: "C2_", subjectRoot: "c2" }, influx: { ...store.influx, raw: false, batchSize: 50, flushInterval: 1000 } });
      await ensureStreams(nc, cfg);
      const t0 = Date.UTC(2026, 10, 30, 13, 0, 0);
      const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry: createRegistry() }, { durablePrefix: "noraw" });
      await sink.start();
      try {
        await publishEvents(nc, [readingEvent(cfg, "noraw-1", t0, { temperature: 1 }, 1), windowEvent(cfg, "noraw-1", t0, { temperature: [1] })]);
        await waitFor(async () => [...(await store.read()).keys()].some((k) => k.startsWith("sensor_window,device=noraw-1")), 20_000, "the window point");
        await new Promise((r) => setTimeout(r, 1500));
        expect([...(await store.read()).keys()].filter((k) => k.includes("device=noraw-1") && k.startsWith("sensor_reading"))).toEqual([]);
      } finally {
        await sink.stop();
      }
    });

    it("deletes the point of a session window that a merge superseded, after writing what came before it", async () => {
      const cfg = testConfig({ nats: { url: ns.url }, streams: { prefix: "C3_", subjectRoot: "c3" }, influx: { ...store.influx, batchSize: 50, flushInterval: 1000 } });
      await ensureStreams(nc, cfg);
      const t0 = Date.UTC(2026, 10, 30, 14, 0, 0);
      const w = "session_30s";
      // Two sessions, then an event between them merges the second into the first: the processor
      // re-emits the second with no metrics, then the first, grown; a later session follows.
      const events = [
        windowEvent(cfg, "sess-1", t0, { temperature: [1, 2] }, 0, w),
        windowEvent(cfg, "sess-1", t0 + 40_000, { temperature: [5], humidity: [50] }, 0, w),
        windowEvent(cfg, "sess-1", t0 + 40_000, {}, 1, w),
        windowEvent(cfg, "sess-1", t0, { temperature: [1, 2, 3, 5], humidity: [50] }, 1, w),
        windowEvent(cfg, "sess-1", t0 + 120_000, { temperature: [9] }, 0, w),
      ];
      const registry = createRegistry();
      const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry }, { durablePrefix: "sess", backoffInitialMs: 100 });
      await sink.start();
      try {
        await publishEvents(nc, events);
        const later = `sensor_window,device=sess-1,metric=temperature,window=${w} count@${t0 + 120_000}`;
        const superseded = `sensor_window,device=sess-1,metric=humidity,window=${w} count@${t0 + 40_000}`;
        let actual: SampleMap = new Map();
        await waitFor(async () => (actual = await store.read()).has(later) && (!store.deletes || !actual.has(superseded)), 30_000, "the later session (and, with deletes, the superseded one gone)").catch(() => {});
        const mine = [...actual.keys()].filter((k) => k.includes("device=sess-1") && k.includes(" count@"));
        if (store.deletes) {
          expect(mine.sort()).toEqual([
            `sensor_window,device=sess-1,metric=humidity,window=${w} count@${t0}`,
            `sensor_window,device=sess-1,metric=temperature,window=${w} count@${t0}`,
            later,
          ]);
          expect(actual.get(`sensor_window,device=sess-1,metric=temperature,window=${w} count@${t0}`)).toEqual([4]);
          expect(await registry.metrics()).toMatch(/fleetstream_sink_deletes_total\{sink="results",outcome="deleted"\} 1\n/);
        } else {
          // No delete API: the superseded points stay, the sink says so once and goes on.
          expect(actual.has(superseded)).toBe(true);
          expect(actual.has(later)).toBe(true);
          expect(await registry.metrics()).toMatch(/fleetstream_sink_deletes_total\{sink="results",outcome="unsupported"\} 1\n/);
        }
        expect(await registry.metrics()).not.toMatch(/fleetstream_sink_dlq_total\{/);
      } finally {
        await sink.stop();
      }
    });
  });
}

sinkContract("VictoriaMetrics via v2 (/api/v2/write)", async () => {
  const vm = await startVictoriaMetrics();
  return { handle: vm, influx: { url: vm.url, api: "v2", token: "" }, read: () => readVictoriaMetrics(vm.url),
    relTol: 1e-11,
    overwrites: false,
    deletes: false,
  };
});

sinkContract("InfluxDB 1.6 via v1 (/write?db=)", async () => {
  const db = await startInfluxDb1();
  await createInfluxDb(db.url, "contract");
  return { handle: db, influx: { url: db.url, api: "v1", db: "contract" }, read: () => readInfluxDb1(db.url, "contract"),
    relTol: 0,
    overwrites: true,
    deletes: true,
  };
});
