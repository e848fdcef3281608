// Proves: replaying a time range of RESULTS and TELEMETRY into an empty InfluxDB 1.6 database (through `fleetstream replay`) gives exactly the points of the live run, and a replay into a rule re-delivers the matching events of the range only.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { run as replayCommand } from "../../cli/commands/replay.ts";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { createInfluxDb, startInfluxDb1, type StoreHandle } from "../../testing/influx_stores.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { removeDir, tempDir } from "../../testing/process.ts";
import { createInfluxSink } from "../sinks/influx_sink.ts";
import { eventToPoints } from "../sinks/points.ts";
import { diff, expectedMap, readInfluxDb1 } from "../sinks/store_readers.ts";
import { replay } from "./replay.ts";
import { locationEvent, publishEvents, readingEvent, testConfig, waitFor, windowEvent, type TestEvent } from "./test_events.ts";

let ns: NatsServerHandle;
let db: StoreHandle;
let nc: NatsConnection;
let dir: string;
beforeAll(async () => {
  [ns, db] = await Promise.all([startNatsServer(), startInfluxDb1()]);
  nc = await connect({ servers: ns.url });
  await createInfluxDb(db.url, "live");
  await createInfluxDb(db.url, "replayed");
  dir = tempDir("replay-test");
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([ns?.cleanup(), db?.cleanup()]);
  removeDir(dir);
});

async function silently<T>(f: () => Promise<T>): Promise<{ value: T; out: string }> {
  const out: string[] = [];
  const [o, e] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (out.push(s), true)) as typeof process.stderr.write;
  try {
    return { value: await f(), out: out.join("") };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

it("replays a time range into an empty store with the same points as the live run", async () => {
  const base = { nats: { url: ns.url }, influx: { url: db.url, api: "v1", batchSize: 100, flushInterval: 1000 } };
  const cfg = testConfig({ ...base, influx: { ...base.influx, db: "live" } });
  await ensureStreams(nc, cfg);
  const t0 = Date.UTC(2026, 10, 29, 6, 0, 0);
  const make = (from: number, n: number): TestEvent[] =>
    Array.from({ length: n }, (_, k) => {
      const i = from + k;
      const dev = `v${i % 4}`;
      return [
        readingEvent(cfg, dev, t0 + i * 250, { temperature: 18 + i / 16, moving: i % 5 === 0 }, i),
        windowEvent(cfg, dev, t0 + i * 60_000, { temperature: [18, 18 + i / 16], rpm: [i * 10] }),
        locationEvent(cfg, dev, t0 + i * 1000, { lat: 48 + i / 1000, lon: 11.5, speed_mps: i / 10, distance_m: i * 1.5 }),
      ];
    }).flat();
  const before = make(0, 50);
  const inRange = make(50, 200);
  const after = make(250, 50);
  const sink = createInfluxSink({ nc, cfg, log: silentLogger, registry: createRegistry() }, { backoffInitialMs: 100 });
  await sink.start();
  let from: number, to: number;
  try {
    await publishEvents(nc, before);
    await new Promise((r) => setTimeout(r, 1100));
    from = Date.now();
    await publishEvents(nc, inRange);
    await new Promise((r) => setTimeout(r, 1100));
    to = Date.now();
    await publishEvents(nc, after);
    const liveExpected = expectedMap([...before, ...inRange, ...after].flatMap((e) => eventToPoints(e.event)));
    await waitFor(async () => diff(liveExpected, await readInfluxDb1(db.url, "live")).length === 0, 30_000, "the live run to land");
  } finally {
    await sink.stop();
  }

  // The same range, replayed through the CLI into an empty database.
  const configPath = join(dir, "fleetstream.yaml");
  writeFileSync(configPath, JSON.stringify({ ...base, influx: { ...base.influx, db: "replayed" }, intake: "broker", mqtt: { url: "mqtt://127.0.0.1:1" } }));
  for (const [stream, n] of [["RESULTS", 400], ["TELEMETRY", 200]] as const) {
    const { value: code, out } = await silently(() => replayCommand(["--from", String(from), "--to", String(to), "--stream", stream, "--into", "influx", "--config", configPath]));
    expect(out).toMatch(new RegExp(`replay done: ${n} messages read`));
    expect(code).toBe(0);
  }
  const live = await readInfluxDb1(db.url, "live");
  const replayed = await readInfluxDb1(db.url, "replayed");
  const rangeExpected = expectedMap(inRange.flatMap((e) => eventToPoints(e.event)));
  expect(replayed.size).toBe(rangeExpected.size);
  expect(diff(rangeExpected, replayed)).toEqual([]);
  // Point for point what the live run wrote for that range.
  const liveRange = new Map([...live].filter(([k]) => rangeExpected.has(k)).map(([k, v]) => [k, v[0]!]));
  expect(liveRange.size).toBe(rangeExpected.size);
  expect(diff(liveRange, replayed)).toEqual([]);

  // Into a rule: only the range's matching events reach the rule's target.
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "REPLAYED", subjects: ["replayed.>"] });
  const ruleCfg = testConfig({ ...base, rules: [{ name: "v1_windows", pattern: { type: ["WindowAggregateComputed"], subject: ["v1"] }, target: { type: "jetstream", subject: "replayed.windows" } }] });
  const progress: number[] = [];
  const p = await replay({ nc, cfg: ruleCfg, log: silentLogger, registry: createRegistry() }, { stream: "RESULTS", into: { kind: "rule", name: "v1_windows" }, from: from!, to: to!, batch: 64, onProgress: (x) => progress.push(x.read) });
  expect(p).toMatchObject({ read: 400, delivered: 50, failed: 0 });
  expect(progress.at(-1)).toBe(400);
  expect((await jsm.streams.info("REPLAYED")).state.messages).toBe(50);
});
