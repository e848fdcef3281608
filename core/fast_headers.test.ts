// Proves the fast header codec is wire-compatible with nats.js: headers it encodes decode the same in
// nats.js, and its reader agrees with nats.js's decoder on real messages (fast path and fallback).
import { headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { natsForSuite } from "../testing/nats_suite.ts";
import fc from "fast-check";
import { eventId, fromMessage, readEvent, toHeaders } from "./envelope.ts";
import { EventHeaders, headersToRecord, parseHeaderBlock, readHeaders } from "./fast_headers.ts";

describe("EventHeaders", () => {
  it("refuses values that would break the header block", () => {
    expect(() => new EventHeaders([["ce-id", "a\r\nInjected: 1"]])).toThrow(/CR, LF/);
    expect(() => new EventHeaders().append("bad:key", "v")).toThrow(/':'/);
  });

  it("encodes the block nats.js would", () => {
    const h = new EventHeaders([["ce-id", "d:1"], ["Nats-Msg-Id", "d:1"]]);
    expect(new TextDecoder().decode(h.encode())).toBe("NATS/1.0\r\nce-id: d:1\r\nNats-Msg-Id: d:1\r\n\r\n");
    expect(parseHeaderBlock(h.encode(), h.encode().length)).toEqual({ "ce-id": "d:1", "Nats-Msg-Id": "d:1" });
    const utf8 = new EventHeaders([["ce-subject", "Küche-°C"]]);
    expect(parseHeaderBlock(utf8.encode(), utf8.encode().length)).toEqual({ "ce-subject": "Küche-°C" });
    h.set("ce-id", "d:2");
    expect(h.get("CE-ID")).toBe("d:2");
    expect(h.keys()).toEqual(["Nats-Msg-Id", "ce-id"]);
  });
});

describe("over a real nats-server", () => {
  const nats = natsForSuite();

  async function roundTrip(h: ReturnType<typeof natsHeaders> | EventHeaders, body: string): Promise<Msg> {
    const sub = nats.nc.subscribe("fh.test", { max: 1 });
    nats.nc.publish("fh.test", body, { headers: h });
    for await (const m of sub) return m;
    throw new Error("no message");
  }

  it("a published event reads back the same through both decoders", async () => {
    const ev = {
      specversion: "1.0" as const, id: eventId("t1", { seq: 9 }), source: "fleetstream/gateway/gw1", type: "SensorReadingRecorded",
      subject: "t1", time: "2026-11-30T10:00:00.000Z", seq: 9, timesource: "device" as const, datacontenttype: "application/json" as const,
      data: { metrics: { t: 1.5 } }, extensions: { revision: "3" },
    };
    const fast = await roundTrip(toHeaders(ev) as EventHeaders, JSON.stringify(ev.data));
    const viaFast = readHeaders(fast);
    const viaNats = headersToRecord(fast.headers); // decodes with nats.js; later reads use the fallback
    expect(viaFast).toEqual(viaNats);
    expect(readHeaders(fast)).toEqual(viaNats);
    expect(readEvent(fast)).toEqual(ev);
  });

  it("reads headers nats.js encoded, and none when there are none", async () => {
    const h = natsHeaders();
    h.set("ce-id", "x:1");
    h.append("multi", "a");
    h.append("multi", "b");
    const m = await roundTrip(h, "{}");
    expect(readHeaders(m)).toEqual({ "ce-id": "x:1", multi: "a" });
    const sub = nats.nc.subscribe("fh.none", { max: 1 });
    nats.nc.publish("fh.none", "{}");
    for await (const plain of sub) expect(readHeaders(plain)).toBeUndefined();
  });
});

describe("readEvent's direct header reader", () => {
  // A received message as nats.js holds it before anyone decodes its headers: the raw bytes and the
  // header block's length (the shape `headerBlockText` reads).
  const received = (pairs: Array<[string, string]>, body: string) => {
    const block = new EventHeaders(pairs).encode();
    const data = new TextEncoder().encode(body);
    const raw = new Uint8Array(block.length + data.length);
    raw.set(block);
    raw.set(data, block.length);
    return { _msg: { hdr: block.length }, _rdata: raw, data: raw.subarray(block.length) };
  };
  const viaRecord = (pairs: Array<[string, string]>, body: string) => {
    const m = received(pairs, body);
    return fromMessage(parseHeaderBlock(m._rdata, m._msg.hdr), m.data);
  };
  const outcome = (f: () => unknown) => {
    try {
      return { ok: f() };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };

  it("reads what fromMessage reads from the header record, for any mix of headers", () => {
    const names = ["ce-id", "ce-type", "ce-subject", "ce-time", "ce-seq", "ce-source", "ce-ingesttime", "ce-timesource", "ce-specversion", "CE-ID", "Ce-Revision", "ce-revision", "ce-foo", "CE-FOO", "content-type", "Nats-Msg-Id", "cex", "c", "ce-"];
    const value = fc.string({ unit: fc.constantFrom("a", "1", "ü", " ", ":", "-", "°"), maxLength: 6 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...names), value), { maxLength: 14 }), (pairs) => {
        const base: Array<[string, string]> = [["ce-id", "d:1"], ["ce-type", "SensorReadingRecorded"], ["ce-subject", "d"], ["ce-time", "2026-12-01T00:00:00.000Z"]];
        for (const p of [pairs, [...base, ...pairs], [...pairs, ...base]]) {
          expect(outcome(() => readEvent(received(p, '{"x":1}') as never))).toEqual(outcome(() => viaRecord(p, '{"x":1}')));
        }
      }),
      { numRuns: 400 },
    );
  });

  it("refuses a message without headers, and one without the required attributes", () => {
    const bare = { _msg: { hdr: -1 }, _rdata: new Uint8Array(2), data: new TextEncoder().encode("{}") };
    expect(() => readEvent(bare as never)).toThrow(/no CloudEvents headers/);
    expect(() => readEvent(received([["ce-id", "d:1"]], "{}") as never)).toThrow(/lacks ce-id, ce-type/);
  });
});
