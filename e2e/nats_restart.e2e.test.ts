// Proves `fleetstream start` (gateway, processors, sink and fan-out in one process, as its own OS process) rides out a nats-server restart under load: it keeps running, and every reading the broker acknowledged ends up in TELEMETRY, through the processors, and in the store. compose's nats entrypoint restarts nats-server once on a fresh volume, so every service meets this on its first start.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { startFleetstream, type FleetstreamProcess } from "../bench/e2e_fleetstream.ts";
import { runLoad } from "../bench/e2e_load.ts";
import { scrapeText, vmSampleCount } from "../bench/e2e_probe.ts";
import { startMosquitto, startNatsServer, startVictoriaMetrics, type MosquittoHandle, type NatsServerHandle, type StoreHandle } from "../testing/mod.ts";

const RATE = 200;
const LOAD_MS = 30_000;
const RESTART_AT_MS = 10_000;
const DOWN_MS = 2_000;

/** Readings the processors took in (any outcome), from the process's /metrics. */
async function processed(fs: FleetstreamProcess): Promise<number> {
  const text = await scrapeText(fs.metricsUrl);
  return [...text.matchAll(/^fleetstream_processor_messages_total\{[^}]*stream="telemetry"[^}]*\} (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe("fleetstream start through a nats-server restart", () => {
  let ns: NatsServerHandle | undefined;
  let mq: MosquittoHandle | undefined;
  let vm: StoreHandle | undefined;
  let fs: FleetstreamProcess | undefined;
  let nc: NatsConnection | undefined;
  afterAll(async () => {
    await nc?.close();
    await fs?.stop();
    await Promise.all([ns?.cleanup(), mq?.cleanup(), vm?.cleanup()]);
  });

  it("keeps running and stores every acknowledged reading", async () => {
    [ns, mq, vm] = await Promise.all([startNatsServer(), startMosquitto(), startVictoriaMetrics()]);
    fs = await startFleetstream({ natsUrl: ns.url, mqttUrl: mq.url, influxUrl: vm.url, gatewayId: "nats-restart" });
    const load = runLoad({ mqttUrl: mq.url, rate: RATE, durationMs: LOAD_MS, devices: 20, prefix: "nr-", seed: 5 });
    await new Promise((r) => setTimeout(r, RESTART_AT_MS));
    await ns.stop();
    await new Promise((r) => setTimeout(r, DOWN_MS));
    await ns.start();
    const { acked } = await load;
    expect(acked).toBeGreaterThan(RATE * (LOAD_MS / 1000) * 0.9);

    nc = await connect({ servers: ns.url });
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + 60_000;
    let telemetry = 0;
    let stored = 0;
    let taken = 0;
    while (Date.now() < deadline) {
      [telemetry, stored, taken] = await Promise.all([
        jsm.streams.info("TELEMETRY").then((i) => i.state.messages),
        vmSampleCount(vm.url, "sensor_reading_temperature"),
        processed(fs),
      ]);
      if (telemetry >= acked && stored >= acked && taken >= acked) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(fs.exited(), fs.output()).toBeUndefined();
    expect(telemetry).toBe(acked);
    expect(stored).toBe(acked);
    expect(taken).toBeGreaterThanOrEqual(acked);
  }, 150_000);
});
