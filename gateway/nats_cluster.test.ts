// Proves: on a three-node NATS cluster with the streams replicated three times (streams.replicas: 3), a
// crash of the node leading TELEMETRY mid-run loses nothing: every reading Mosquitto acknowledged to
// the device is in TELEMETRY once, while the gateway is connected to all three nodes' URLs. And
// streams (and the processors' checkpoint bucket) made with one replica get three when
// streams.replicas is raised, and keep them when a process starts with a lower value.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import { createJsPublisher } from "../core/js_publisher.ts";
import { ensureStreams } from "../core/streams.ts";
import { openCheckpointStore } from "../processors/state/checkpoint_store.ts";
import { startMosquitto, startNatsCluster, type MosquittoHandle, type NatsClusterHandle } from "../testing/mod.ts";
import { runThroughOutage, startGatewayRig, type GatewayRig } from "./test_workload.ts";

const TOTAL = 6000;
const RATE = 600; // msgs/s: ~10 s, the leader dies at ~2 s and comes back 5 s later

describe("NATS cluster", () => {
  let cluster: NatsClusterHandle | undefined;
  let mosq: MosquittoHandle | undefined;
  let rig: GatewayRig | undefined;

  afterEach(async () => {
    await rig?.close();
    await Promise.all([cluster?.cleanup(), mosq?.cleanup()]);
    cluster = mosq = rig = undefined;
  });

  it("raising streams.replicas scales the existing streams; lowering it does not", async () => {
    cluster = await startNatsCluster(3);
    const nc = await connect({ servers: cluster.url });
    try {
      const at = (replicas: number) => loadConfig({ env: {}, overrides: { intake: "broker", mqtt: { url: "mqtt://x" }, streams: { prefix: "SCALE_", replicas } } });
      expect((await ensureStreams(nc, at(1))).map((r) => r.action)).toEqual(["created", "created", "created", "created"]);
      expect((await ensureStreams(nc, at(3))).map((r) => r.action)).toEqual(["updated", "updated", "updated", "updated"]);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(streamNames(at(3)).telemetry);
      expect(info.config.num_replicas).toBe(3);
      expect((await ensureStreams(nc, at(3))).map((r) => r.action)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged"]);
      // A process started with fewer (a default or stale config) leaves the copies where they are.
      expect((await ensureStreams(nc, at(1))).map((r) => r.action)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged"]);
      expect((await jsm.streams.info(streamNames(at(3)).telemetry)).config.num_replicas).toBe(3);
      // The processors' checkpoint bucket too.
      const pub = createJsPublisher(nc);
      await openCheckpointStore(nc, pub, { bucket: "scale_cp", replicas: 1 });
      await openCheckpointStore(nc, pub, { bucket: "scale_cp", replicas: 3 });
      expect((await jsm.streams.info("KV_scale_cp")).config.num_replicas).toBe(3);
      await openCheckpointStore(nc, pub, { bucket: "scale_cp", replicas: 1 });
      expect((await jsm.streams.info("KV_scale_cp")).config.num_replicas).toBe(3);
      await pub.close();
    } finally {
      await nc.close();
    }
  });

  it("a crash of the stream leader loses no acknowledged reading and duplicates none", async () => {
    [cluster, mosq] = await Promise.all([startNatsCluster(3), startMosquitto()]);
    const cfg = loadConfig({
      env: {},
      overrides: {
        intake: "broker",
        nats: { url: cluster.url },
        mqtt: { url: mosq.url, protocolVersion: 5, clientId: "gw-cluster" },
        streams: { prefix: "CLU_", replicas: 3 },
        gateway: { publishTimeout: 2000 },
      },
    });
    rig = await startGatewayRig(cfg, { url: mosq.url, protocolVersion: 5, clientId: "dev-cluster" });
    const telemetry = streamNames(cfg).telemetry;
    const jsm = await jetstreamManager(rig.nc);
    const info = await jsm.streams.info(telemetry);
    expect(info.config.num_replicas).toBe(3);
    const leader = cluster.node(info.cluster!.leader!);

    let successor: string | undefined;
    const down = async () => {
      await leader.kill();
      // The two nodes left elect a new leader (a majority of three), which takes the writes meanwhile.
      const deadline = Date.now() + 15_000;
      while (!successor && Date.now() < deadline) {
        const now = await jsm.streams.info(telemetry).then((i) => i.cluster?.leader, () => undefined);
        if (now && now !== leader.serverName) successor = now;
        else await new Promise((res) => setTimeout(res, 100));
      }
    };
    const r = await runThroughOutage(rig, cfg, { total: TOTAL, rate: RATE, devices: 20, prefix: "c" }, { down, up: () => leader.start(), downMs: 5000 });
    expect(successor).toBeDefined();
    // Mosquitto was up throughout: the device got every PUBACK, each only once its reading was stored.
    expect(r.acked.size).toBe(TOTAL);
    expect(r.stored.length).toBe(TOTAL);
    expect(new Set(r.stored).size).toBe(TOTAL);
    const stored = new Set(r.stored);
    expect([...r.acked].filter((id) => !stored.has(id))).toEqual([]);
  });
});
