// Proves `fleetstream start` (gateway, processors, sink and fan-out in one process, as its own OS process) rides out the loss of a NATS server under load: it keeps running, and every reading the broker acknowledged ends up in TELEMETRY, through the processors, and in the store. Once with one nats-server restarted (compose's nats entrypoint restarts it once on a fresh volume, so every service meets this on its first start), once on a three-node cluster with the streams replicated three times, whose TELEMETRY leader is killed.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { startFleetstream, type FleetstreamProcess } from "../bench/e2e_fleetstream.ts";
import { runLoad } from "../bench/e2e_load.ts";
import { scrapeText, vmSampleCount } from "../bench/e2e_probe.ts";
import { startMosquitto, startNatsCluster, startNatsServer, startVictoriaMetrics, type MosquittoHandle, type StoreHandle } from "../testing/mod.ts";

const RATE = 200;
const LOAD_MS = 30_000;
const OUTAGE_AT_MS = 10_000;
const DOWN_MS = 2_000;

/** Readings the processors took in (any outcome), from the process's /metrics. */
async function processed(fs: FleetstreamProcess): Promise<number> {
  const text = await scrapeText(fs.metricsUrl);
  return [...text.matchAll(/^fleetstream_processor_messages_total\{[^}]*stream="telemetry"[^}]*\} (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe("fleetstream start through the loss of a NATS server", () => {
  const undo: Array<() => Promise<unknown>> = [];
  let mq: MosquittoHandle | undefined;
  let vm: StoreHandle | undefined;
  afterEach(async () => {
    for (const u of undo.splice(0).reverse()) await u();
  });

  /** Runs the load through `outage` (started OUTAGE_AT_MS in) and checks every acknowledged reading came through. */
  async function throughOutage(natsUrl: string, replicas: number | undefined, outage: (nc: NatsConnection) => Promise<void>, gatewayId: string) {
    [mq, vm] = await Promise.all([startMosquitto(), startVictoriaMetrics()]);
    undo.push(() => Promise.all([mq?.cleanup(), vm?.cleanup()]));
    const fs = await startFleetstream({ natsUrl, mqttUrl: mq.url, influxUrl: vm.url, gatewayId, replicas });
    undo.push(() => fs.stop());
    const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    undo.push(() => nc.close());
    const load = runLoad({ mqttUrl: mq.url, rate: RATE, durationMs: LOAD_MS, devices: 20, prefix: "nr-", seed: 5 });
    await new Promise((r) => setTimeout(r, OUTAGE_AT_MS));
    await outage(nc);
    const { acked } = await load;
    expect(acked).toBeGreaterThan(RATE * (LOAD_MS / 1000) * 0.9);

    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + 60_000;
    let telemetry = 0;
    let stored = 0;
    let taken = 0;
    while (Date.now() < deadline) {
      [telemetry, stored, taken] = await Promise.all([
        jsm.streams.info("TELEMETRY").then((i) => i.state.messages, () => telemetry),
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
  }

  it("one nats-server restarted: keeps running and stores every acknowledged reading", async () => {
    const ns = await startNatsServer();
    undo.push(() => ns.cleanup());
    await throughOutage(
      ns.url,
      undefined,
      async () => {
        await ns.stop();
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await ns.start();
      },
      "nats-restart",
    );
  }, 150_000);

  it("a three-node cluster, TELEMETRY's leader killed: keeps running and stores every acknowledged reading", async () => {
    const cluster = await startNatsCluster(3);
    undo.push(() => cluster.cleanup());
    await throughOutage(
      cluster.url,
      3,
      async (nc) => {
        const leader = cluster.node((await (await jetstreamManager(nc)).streams.info("TELEMETRY")).cluster!.leader!);
        await leader.kill();
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await leader.start();
      },
      "nats-cluster",
    );
  }, 150_000);
});
