/**
 * A real nats-server cluster (JetStream on every node, routes between them) on free ports, each node
 * a {@link startNatsServer} with its own store, for the tests of what a node failure does.
 */
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "./nats_server.ts";
import { freePort } from "./process.ts";

export interface NatsClusterHandle {
  readonly nodes: NatsServerHandle[];
  /** Every node's URL, comma separated, as `NATS_URL` takes them. */
  readonly url: string;
  /** The node with this `server_name` (as stream info's `cluster.leader` names it). */
  node(serverName: string): NatsServerHandle;
  cleanup(): Promise<void>;
}

/** @example const c = await startNatsCluster(3); ...; await c.cleanup(); */
export async function startNatsCluster(size = 3): Promise<NatsClusterHandle> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
  const nodes: NatsServerHandle[] = [];
  const cleanup = async () => {
    await Promise.all(nodes.map((n) => n.cleanup()));
  };
  try {
    for (const p of routePorts) {
      nodes.push(await startNatsServer({ extraConfig: `cluster { name: fs_test, listen: 127.0.0.1:${p}, routes: [${routes}] }` }));
    }
    const nc = await connect({ servers: nodes[0]!.url });
    try {
      await waitForJetStreamPeers(nc, size);
    } finally {
      await nc.close();
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    node(serverName) {
      const n = nodes.find((x) => x.serverName === serverName);
      if (!n) throw new Error(`no node named ${serverName} in this cluster`);
      return n;
    },
    cleanup,
  };
}

/**
 * Waits until JetStream can place a stream on `size` nodes: a meta leader alone is not enough, as streams
 * with `size` replicas are refused ("no suitable peers for placement") until every peer has joined.
 */
export async function waitForJetStreamPeers(nc: NatsConnection, size: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const err = await jetstreamManager(nc, { timeout: 2000 })
      .then((jsm) => jsm.streams.add({ name: "CLUSTER_READY", subjects: ["cluster.ready"], num_replicas: size, storage: StorageType.Memory }))
      .then(() => undefined, (e: Error) => e.message);
    if (err === undefined) break;
    if (Date.now() > deadline) throw new Error(`JetStream could not place a stream on all ${size} nodes: ${err}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  await (await jetstreamManager(nc)).streams.delete("CLUSTER_READY");
}
