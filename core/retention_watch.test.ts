// Proves, on a real nats-server: when a bounded stream discards messages a stalled consumer had not
// read, the retention watch counts one overrun for that consumer (and none for one that keeps up),
// logs the lost range with the fix, and its backlog ratio shows how close the consumer is to it.
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { natsForSuite } from "../testing/nats_suite.ts";
import { createLogger } from "./logger.ts";
import { createRegistry } from "./metrics.ts";
import { createRetentionWatch } from "./retention_watch.ts";

async function metric(text: string, name: string, consumer: string): Promise<number | undefined> {
  const m = new RegExp(`^${name}\\{stream="RW",consumer="${consumer}"\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

describe("retention watch", () => {
  const nats = natsForSuite();

  it("reports a stalled consumer whose unread messages the stream discarded, once per episode", async () => {
    const jsm = await jetstreamManager(nats.nc);
    const js = jetstream(nats.nc);
    await jsm.streams.add({ name: "RW", subjects: ["rw.>"], max_msgs: 100 });
    for (const durable of ["stalled", "reader"]) await jsm.consumers.add("RW", { durable_name: durable, ack_policy: AckPolicy.All });
    const publish = async (n: number) => {
      await Promise.all(Array.from({ length: n }, (_, i) => js.publish(`rw.d${i % 3}`, `{"i":${i}}`)));
    };
    /** Reads (and acks) everything the consumer has. */
    const drain = async (durable: string) => {
      const c = await js.consumers.get("RW", durable);
      for (let pending = (await c.info()).num_pending; pending > 0; pending = (await c.info()).num_pending) {
        let last;
        for await (const m of await c.fetch({ max_messages: pending, expires: 2000 })) last = m;
        await last?.ackAck();
      }
    };
    const lines: string[] = [];
    const registry = createRegistry();
    const watch = createRetentionWatch(nats.nc, registry, createLogger({ write: (l) => lines.push(l), level: "warn" }), { intervalMs: 3_600_000 });
    const unwatch = [watch.add("RW", "stalled"), watch.add("RW", "reader")];

    await publish(50);
    await drain("reader");
    await watch.check();
    let text = await registry.metrics();
    expect(await metric(text, "fleetstream_consumer_backlog_ratio", "stalled")).toBe(1);
    expect(await metric(text, "fleetstream_consumer_backlog_ratio", "reader")).toBe(0);

    // 250 in all: the stream keeps 151-250; the stalled consumer never read 1-150.
    await publish(200);
    await drain("reader");
    await watch.check();
    // One check alone reports nothing (a sparse consumer may be about to catch up).
    expect(await metric(await registry.metrics(), "fleetstream_consumer_retention_overruns_total", "stalled")).toBe(0);
    await watch.check();
    await watch.check();
    text = await registry.metrics();
    expect(await metric(text, "fleetstream_consumer_retention_overruns_total", "stalled")).toBe(1);
    expect(await metric(text, "fleetstream_consumer_retention_overruns_total", "reader")).toBe(0);
    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: "warn", stream: "RW", consumer: "stalled", discardedSeqs: "1-150" });
    expect(String(warned[0]!.fix)).toMatch(/streams\.maxBytes/);

    // It catches up: the episode ends; a later one counts again.
    await drain("stalled");
    await watch.check();
    expect(await metric(await registry.metrics(), "fleetstream_consumer_backlog_ratio", "stalled")).toBe(0);
    await publish(150);
    await drain("reader");
    await watch.check();
    await watch.check();
    text = await registry.metrics();
    expect(await metric(text, "fleetstream_consumer_retention_overruns_total", "stalled")).toBe(2);
    expect(lines).toHaveLength(2);
    for (const u of unwatch) u();
    expect(await registry.metrics()).not.toMatch(/fleetstream_consumer_(backlog_ratio|retention_overruns_total)\{/);
  });
});
