// Proves, on a real nats-server: a checkpoint load returns exactly the live entries under its prefix
// (not other partitions', not deleted ones), and leaves no consumer behind on the bucket's stream,
// also when the prefix has no keys (nats.js's `kv.keys()` left one there for 5 minutes).
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createJsPublisher, type JsPublisher } from "../../core/js_publisher.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { openCheckpointStore } from "./checkpoint_store.ts";

let ns: NatsServerHandle;
let nc: NatsConnection;
let pub: JsPublisher;
beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  pub = createJsPublisher(nc);
});
afterAll(async () => {
  await pub?.close();
  await nc?.close();
  await ns?.cleanup();
});

async function consumersOf(stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.consumer_count;
}

it("loads the live entries of one prefix and leaves no consumer behind", async () => {
  const store = await openCheckpointStore(nc, pub, { bucket: "cp_test" });
  expect((await store.load("t.3.")).size).toBe(0);
  expect(await consumersOf("KV_cp_test")).toBe(0);

  await store.save([
    ["t.3.dev-a", JSON.stringify({ q: 1 })],
    ["t.3.dev-b", JSON.stringify({ q: 2 })],
    ["t.3.dev-gone", JSON.stringify({ q: 3 })],
    ["t.4.dev-c", JSON.stringify({ q: 4 })],
    ["l.3.dev-a", JSON.stringify({ q: 5 })],
  ]);
  await (await new Kvm(nc).open("cp_test")).delete("t.3.dev-gone");

  const got = await store.load("t.3.");
  expect(Object.fromEntries(got)).toEqual({ "t.3.dev-a": { q: 1 }, "t.3.dev-b": { q: 2 } });
  expect((await store.load("t.5.")).size).toBe(0);
  expect(await consumersOf("KV_cp_test")).toBe(0);
});
