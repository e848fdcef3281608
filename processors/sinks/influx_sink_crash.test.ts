// Proves: a `fleetstream sink` process killed (-9) while it holds a batch it could not write (the store
// was down) loses none of it: the next sink process reads again from the raw consumer's ack floor
// instead of acking past the dead one's deliveries, and every point ends up in the store.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureStreams } from "../../core/streams.ts";
import { startVictoriaMetrics, type StoreHandle } from "../../testing/influx_stores.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { freePort, spawnManaged, type ManagedProcess } from "../../testing/process.ts";
import { publishEvents, readingEvent, testConfig, waitFor, type TestEvent } from "../ops/test_events.ts";
import { eventToPoints } from "./points.ts";
import { diff, expectedMap, readVictoriaMetrics } from "./store_readers.ts";

let ns: NatsServerHandle;
let vm: StoreHandle;
let nc: NatsConnection;
const procs: ManagedProcess[] = [];
beforeAll(async () => {
  [ns, vm] = await Promise.all([startNatsServer(), startVictoriaMetrics()]);
  nc = await connect({ servers: ns.url });
});
afterAll(async () => {
  for (const p of procs) await p.kill();
  await nc?.close();
  await Promise.all([ns?.cleanup(), vm?.cleanup()]);
});

it("kill -9 while a batch waits for the store: the next sink process writes all of it", async () => {
  const cfg = testConfig({ nats: { url: ns.url }, influx: { url: vm.url, api: "v2" } });
  await ensureStreams(nc, cfg);
  const sink = async (): Promise<ManagedProcess> => {
    const p = spawnManaged(process.execPath, ["--import", "tsx", "cli/main.ts", "sink"], {
      cwd: join(import.meta.dirname, "../.."),
      env: { ...process.env, NATS_URL: ns.url, INFLUX_URL: vm.url, INFLUX_API: "v2", MQTT_URL: "mqtt://127.0.0.1:1", FLEETSTREAM_HTTP_PORT: String(await freePort()), FLEETSTREAM_CONFIG: "", FLEETSTREAM_LOG_LEVEL: "error" },
    });
    procs.push(p);
    return p;
  };
  const t0 = Date.UTC(2026, 10, 28, 0, 0, 0);
  const readings = (from: number, n: number): TestEvent[] => Array.from({ length: n }, (_, i) => readingEvent(cfg, `d${(from + i) % 7}`, t0 + (from + i) * 100, { temperature: (from + i) / 4 }, from + i));
  const first = readings(0, 500);
  const second = readings(500, 500);
  const jsm = await jetstreamManager(nc);

  const one = await sink();
  await publishEvents(nc, first);
  const exp1 = expectedMap(first.flatMap((e) => eventToPoints(e.event)));
  await waitFor(async () => diff(exp1, await readVictoriaMetrics(vm.url), 1e-11, false).length === 0, 30_000, "the first readings stored");

  // The store goes away; the sink takes the next batch and holds it, unwritten and unacked.
  await vm.stop();
  await publishEvents(nc, second);
  await waitFor(async () => (await jsm.consumers.info("TELEMETRY", "fs_influx_raw")).num_ack_pending > 0, 30_000, "a batch held by the sink");
  await one.kill();

  await vm.start();
  await sink();
  const exp = expectedMap([...first, ...second].flatMap((e) => eventToPoints(e.event)));
  await waitFor(async () => diff(exp, await readVictoriaMetrics(vm.url), 1e-11, false).length === 0, 60_000, "every reading stored after the crash");
  const info = await jsm.consumers.info("TELEMETRY", "fs_influx_raw");
  expect(info.ack_floor.stream_seq).toBe(1000);
  expect(info.num_ack_pending).toBe(0);
}, 120_000);
