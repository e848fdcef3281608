// streamSeqOf reads the stream sequence from the ack subject; it must agree with nats.js on what a
// real server delivers, and on both ack subject shapes.
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { natsForSuite } from "../../testing/nats_suite.ts";
import { streamSeqOf } from "./jetstream_source.ts";

const fake = (reply: string, seq = -1) => ({ reply, seq }) as unknown as JsMsg;

describe("streamSeqOf", () => {
  it("reads both ack subject shapes and falls back for anything else", () => {
    expect(streamSeqOf(fake("$JS.ACK.TELEMETRY.proc_3.1.4711.12.1764500000000000000.9"))).toBe(4711);
    expect(streamSeqOf(fake("$JS.ACK.hub.ACCHASH.TELEMETRY.proc_3.2.4712.13.1764500000000000000.0.Xy9"))).toBe(4712);
    expect(streamSeqOf(fake("$JS.ACK.hub.ACCHASH.TELEMETRY.proc_3.2.4713.13.1764500000000000000.0"))).toBe(4713);
    expect(streamSeqOf(fake("_INBOX.abc", 7))).toBe(7);
    expect(streamSeqOf(fake("$JS.ACK.S.C.1.x5.1.1.0", 8))).toBe(8);
  });

  describe("over a real nats-server", () => {
    const nats = natsForSuite();

    it("agrees with nats.js on delivered messages", async () => {
      const jsm = await jetstreamManager(nats.nc);
      await jsm.streams.add({ name: "SSEQ", subjects: ["sseq.>"] });
      const js = jetstream(nats.nc);
      for (let i = 0; i < 25; i++) await js.publish(`sseq.${i % 3}`, String(i));
      await jsm.consumers.add("SSEQ", { durable_name: "c", ack_policy: AckPolicy.Explicit, filter_subject: "sseq.1" });
      const iter = await (await js.consumers.get("SSEQ", "c")).fetch({ max_messages: 8, expires: 5000 });
      const pairs: Array<[number, number]> = [];
      for await (const m of iter) {
        pairs.push([streamSeqOf(m), m.seq]);
        m.ack();
      }
      expect(pairs.length).toBe(8);
      for (const [fast, nats] of pairs) expect(fast).toBe(nats);
    });
  });
});
