// The polled pull against a real nats-server: what a pull brings and how it ends, and the source the
// processors read partitions with (order, later messages, cumulative ack, a deleted consumer), and a
// pull lost with a dropped connection.
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { firstValueFrom, take, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { natsForSuite } from "../../testing/nats_suite.ts";
import { ackAll, DEFAULT_JETSTREAM_SOURCE_OPTIONS, jetStreamSource, pendingOfReply, resetConsumerToAckFloor, streamSeqOf } from "./jetstream_source.ts";
import { createPullPoller } from "./pull_poller.ts";

const nats = natsForSuite();

async function streamWith(name: string, count: number, nc: NatsConnection = nats.nc): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`] });
  const js = jetstream(nc);
  for (let i = 1; i <= count; i++) await js.publish(`${name.toLowerCase()}.${i % 2 ? "odd" : "even"}`, String(i));
}

describe("createPullPoller", () => {
  it("brings what is stored now, at most the batch, and ends without waiting for more", async () => {
    await streamWith("POLL", 25);
    await (await jetstreamManager(nats.nc)).consumers.add("POLL", { durable_name: "p", ack_policy: AckPolicy.All });
    const got: Msg[] = [];
    const poller = createPullPoller(nats.nc, { stream: "POLL", durable: "p", pullTimeoutMs: 10_000 }, (m) => got.push(m));
    try {
      expect(await poller.pull(10)).toBe("full");
      expect(got.map((m) => streamSeqOf(m))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(pendingOfReply(got[9]!.reply)).toBe(15);
      // Fewer stored than asked: the server ends the pull itself (a waiting pull would time out).
      expect(await poller.pull(100)).toBe("drained");
      expect(got.map((m) => Number(new TextDecoder().decode(m.data)))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(await poller.pull(100)).toBe("drained");
      expect(got.length).toBe(25);
    } finally {
      poller.close();
    }
  });

  it("reports a consumer that does not exist as unavailable", async () => {
    await streamWith("NOCONS", 1);
    const poller = createPullPoller(nats.nc, { stream: "NOCONS", durable: "missing", pullTimeoutMs: 10_000 }, () => {});
    try {
      expect(await poller.pull(10)).toBe("unavailable");
    } finally {
      poller.close();
    }
  });

  it("stops at a skipped delivery, handing on nothing after it", async () => {
    await streamWith("GAP", 10);
    const jsm = await jetstreamManager(nats.nc);
    await jsm.consumers.add("GAP", { durable_name: "p", ack_policy: AckPolicy.All });
    const got: Msg[] = [];
    const poller = createPullPoller(nats.nc, { stream: "GAP", durable: "p", pullTimeoutMs: 10_000, nextDelivery: 1 }, (m) => got.push(m));
    try {
      expect(await poller.pull(3)).toBe("full");
      // Another client takes deliveries 4 and 5 (as a dropped connection would lose them).
      const thief = await (await jetstream(nats.nc).consumers.get("GAP", "p")).fetch({ max_messages: 2, expires: 1000 });
      for await (const m of thief) void m;
      expect(await poller.pull(10)).toBe("gap");
      expect(got.map((m) => streamSeqOf(m))).toEqual([1, 2, 3]);
      expect(await poller.pull(10)).toBe("gap");
    } finally {
      poller.close();
    }
  });
});

describe("createPullPoller across a reconnect", () => {
  const flaky = natsForSuite({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });

  it("gives up the pull a dropped connection lost once it is back, and the next pull brings the messages", async () => {
    await streamWith("LOST", 5, flaky.nc);
    await (await jetstreamManager(flaky.nc)).consumers.add("LOST", { durable_name: "p", ack_policy: AckPolicy.All });
    const got: Msg[] = [];
    // Far longer than the test may take: only the reconnect can end the lost pull in time.
    const poller = createPullPoller(flaky.nc, { stream: "LOST", durable: "p", pullTimeoutMs: 600_000 }, (m) => got.push(m));
    try {
      // A frozen server takes the pull into its socket and never reads it; the kill loses it.
      await flaky.ns.freeze();
      const lost = poller.pull(10);
      await new Promise((r) => setTimeout(r, 300));
      await flaky.ns.kill();
      await flaky.ns.start();
      expect(await lost).toBe("reconnected");
      expect(got).toEqual([]);
      expect(await poller.pull(10)).toBe("drained");
      expect(got.map((m) => streamSeqOf(m))).toEqual([1, 2, 3, 4, 5]);
    } finally {
      poller.close();
    }
  }, 30_000);
});

describe("jetStreamSource", () => {
  const opts = { ...DEFAULT_JETSTREAM_SOURCE_OPTIONS, stream: "SRC", durable: "part_odd", filterSubject: "src.odd", maxMessages: 4, pollMs: 20 };

  it("delivers the partition in order across pulls, picks up later messages, and one ack covers all before it", async () => {
    await streamWith("SRC", 20);
    await resetConsumerToAckFloor(nats.nc, opts);
    const all = firstValueFrom(jetStreamSource(nats.nc, opts).pipe(take(15), toArray()));
    // Stored while the source is caught up and polling.
    await new Promise((r) => setTimeout(r, 100));
    const js = jetstream(nats.nc);
    for (let i = 21; i <= 30; i++) await js.publish(`src.${i % 2 ? "odd" : "even"}`, String(i));
    const msgs = await all;
    expect(msgs.map((m) => Number(new TextDecoder().decode(m.data)))).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29]);
    ackAll(nats.nc, msgs[14]!);
    const jsm = await jetstreamManager(nats.nc);
    let info = await jsm.consumers.info("SRC", "part_odd");
    for (let i = 0; i < 50 && info.num_ack_pending > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      info = await jsm.consumers.info("SRC", "part_odd");
    }
    expect(info.num_ack_pending).toBe(0);
    expect(info.ack_floor.stream_seq).toBe(29);
  });

  it("fails when its consumer is deleted", async () => {
    const o = { ...opts, durable: "part_even", filterSubject: "src.even" };
    await resetConsumerToAckFloor(nats.nc, o);
    const done = new Promise<Error>((resolve) => jetStreamSource(nats.nc, o).subscribe({ error: (e: Error) => resolve(e) }));
    await new Promise((r) => setTimeout(r, 100));
    await (await jetstreamManager(nats.nc)).consumers.delete("SRC", "part_even");
    expect((await done).message).toMatch(/consumer not found/i);
  });
});
