// Proves the durable loop of a streaming handler on an ack-all consumer never acks a message it did not
// hand to its handler: deliveries outstanding at its start (an earlier reader's) and deliveries it
// never received mid-run (lost with a dropped connection; here taken by another client, which leaves
// the server in the same state) are read again from the consumer's ack floor.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Msg } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/logger.ts";
import { natsForSuite } from "../../testing/nats_suite.ts";
import { streamSeqOf } from "../sources/jetstream_source.ts";
import { DEFAULT_DURABLE_LOOP_OPTIONS, ensureDurable, startDurableLoop, type DurableLoopOptions, type StreamingBatchHandler } from "./durable_loop.ts";
import { waitFor } from "./test_events.ts";

const nats = natsForSuite();

async function publish(stream: string, from: number, to: number): Promise<void> {
  const js = jetstream(nats.nc);
  for (let i = from; i <= to; i++) await js.publish(`${stream.toLowerCase()}.x`, String(i));
}

/** A handler that records the stream sequences it wrote; `gate`, while set, holds a write. */
function recorder() {
  const written = new Set<number>();
  let taken: number[] = [];
  const h = {
    gate: undefined as Promise<void> | undefined,
    written,
    handler: {
      take: (m: Msg) => void taken.push(streamSeqOf(m)),
      write: async () => {
        await h.gate;
        for (const s of taken) written.add(s);
      },
      clear: () => void (taken = []),
    } satisfies StreamingBatchHandler,
  };
  return h;
}

/** The consumer's ack floor once it reached `want` (or the time is up, which fails the test). */
async function ackFloor(stream: string, durable: string, want: number): Promise<number> {
  const jsm = await jetstreamManager(nats.nc);
  const floor = async () => (await jsm.consumers.info(stream, durable)).ack_floor.stream_seq;
  await waitFor(async () => (await floor()) >= want, 10_000, `${durable}'s ack floor at ${want}`);
  return floor();
}

describe("startDurableLoop with an ack-all consumer", () => {
  const options = (stream: string): DurableLoopOptions => ({ ...DEFAULT_DURABLE_LOOP_OPTIONS, stream, durable: "d", filterSubjects: [], ackPolicy: "all", batch: 10, pollMs: 20 });

  it("reads again from the ack floor what an earlier reader took and never acked", async () => {
    await (await jetstreamManager(nats.nc)).streams.add({ name: "EARLIER", subjects: ["earlier.>"] });
    await publish("EARLIER", 1, 20);
    const o = options("EARLIER");
    await ensureDurable(nats.nc, o);
    // A reader that crashed after taking 1-5.
    for await (const m of await (await jetstream(nats.nc).consumers.get("EARLIER", "d")).fetch({ max_messages: 5, expires: 1000 })) void m;
    const r = recorder();
    const loop = await startDurableLoop(nats.nc, o, silentLogger, r.handler);
    try {
      expect(await ackFloor("EARLIER", "d", 20)).toBe(20);
      expect([...r.written].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await loop.stop();
    }
  });

  it("reads again from the ack floor when deliveries went missing mid-run", async () => {
    await (await jetstreamManager(nats.nc)).streams.add({ name: "MIDRUN", subjects: ["midrun.>"] });
    await publish("MIDRUN", 1, 10);
    const o = options("MIDRUN");
    await ensureDurable(nats.nc, o);
    const r = recorder();
    let open!: () => void;
    r.gate = new Promise((res) => (open = res));
    const loop = await startDurableLoop(nats.nc, o, silentLogger, r.handler);
    try {
      // The loop holds its first batch (1-10) in write; meanwhile 11-20 come and 11-12 go elsewhere.
      await new Promise((res) => setTimeout(res, 300));
      await publish("MIDRUN", 11, 20);
      for await (const m of await (await jetstream(nats.nc).consumers.get("MIDRUN", "d")).fetch({ max_messages: 2, expires: 1000 })) void m;
      r.gate = undefined;
      open();
      expect(await ackFloor("MIDRUN", "d", 20)).toBe(20);
      expect([...r.written].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await loop.stop();
    }
  });
});
