// Proves deploy/nats/cluster.conf forms a working cluster: three nodes started from it (named by
// NATS_SERVER_NAME, users from .env.example) take deploy/fleetstream.yaml's streams with three
// replicas, one on each node, and a stream keeps taking writes with any one node down.
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, streamNames } from "../core/config.ts";
import { createJsPublisher } from "../core/js_publisher.ts";
import { silentLogger } from "../core/logger.ts";
import { connectNats } from "../core/nats.ts";
import { PROJECT_ROOT } from "../core/project_root.ts";
import { ensureStreams } from "../core/streams.ts";
import { waitForJetStreamPeers } from "../testing/nats_cluster.ts";
import { envExample } from "./compose_config.ts";
import { startShippedNatsCluster } from "./shipped_servers.ts";

const creds = { NATS_USER: envExample.NATS_USER!, NATS_PASS: envExample.NATS_PASS! };

describe("deploy/nats/cluster.conf", () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const u of undo.splice(0).reverse()) await u();
  });

  it("three nodes take the streams with three replicas and keep taking writes with one node down", async () => {
    const cluster = await startShippedNatsCluster(creds);
    undo.push(() => cluster.cleanup());
    const cfg = loadConfig({
      path: join(PROJECT_ROOT, "deploy/fleetstream.yaml"),
      env: { NATS_URL: cluster.url, ...creds },
      // compose's 8 GiB per stream, three times over, is more than a test machine should reserve.
      overrides: { streams: { replicas: 3, maxBytes: 64 * 1024 * 1024 } },
    });
    const nc = await connectNats(cfg.nats, silentLogger, "cluster-conf-test");
    undo.push(() => nc.close());
    await waitForJetStreamPeers(nc, 3);
    await ensureStreams(nc, cfg);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(streamNames(cfg).telemetry);
    const peers = [info.cluster!.leader!, ...(info.cluster!.replicas ?? []).map((r) => r.name)].sort();
    expect(peers).toEqual(["nats-1", "nats-2", "nats-3"]);

    await cluster.nodes[Number(info.cluster!.leader!.slice(-1)) - 1]!.proc.kill();
    const pub = createJsPublisher(nc, { timeoutMs: 2000 });
    undo.push(() => pub.close());
    const h = headers();
    h.set("Nats-Msg-Id", "cluster-conf-1");
    const ack = await pub.publishDurably(`${cfg.streams.subjectRoot}.telemetry.0.dev-1`, "{}", h);
    expect(ack.stream).toBe(streamNames(cfg).telemetry);
    expect((await jsm.streams.info(streamNames(cfg).telemetry)).cluster!.leader).not.toBe(info.cluster!.leader);
  });
});
