// Proves fleetstream's partition hash equals a real nats-server's partition() subject mapping.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "../testing/mod.ts";
import { fnv1a32, partitionOf, subjects } from "./subjects.ts";

describe("partition hash", () => {
  it("is FNV-1a 32-bit (published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("hashes the UTF-8 bytes of a non-ASCII key, also when it starts ASCII", () => {
    const byBytes = (s: string) => {
      let h = 0x811c9dc5;
      for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    for (const k of ["Küche", "ü", "sensor-°C", "truck-7", "日本-1"]) expect(fnv1a32(k)).toBe(byBytes(k));
  });

  it("builds partitioned subjects", () => {
    const s = subjects("iot", 8);
    expect(s.input("telemetry", "t1")).toBe(`iot.telemetry.${partitionOf("t1", 8)}.t1`);
    expect(s.dlq("gateway", "malformed_json")).toBe("iot.dlq.gateway.malformed_json");
  });
});

describe("partition hash against nats-server", () => {
  let ns: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    ns = await startNatsServer({
      extraConfig: `mappings: { "ptest8.*": "pout8.{{partition(8,1)}}.{{wildcard(1)}}", "ptest5.*": "pout5.{{partition(5,1)}}.{{wildcard(1)}}" }`,
    });
    nc = await connect({ servers: ns.url });
  });
  afterAll(async () => {
    await nc?.close();
    await ns?.cleanup();
  });

  it.each([8, 5])("agrees with partition(%i) for 1,000 device ids", async (n) => {
    const ids = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? `dev-${i}` : i % 3 === 1 ? `T_${i * 7919}` : `x${(i * 2654435761) % 99991}-abc`));
    const seen = new Map<string, number>();
    const sub = nc.subscribe(`pout${n}.>`);
    const done = (async () => {
      for await (const m of sub) {
        const [, p, id] = m.subject.split(".");
        seen.set(id!, Number(p));
        if (seen.size === ids.length) break;
      }
    })();
    await nc.flush();
    for (const id of ids) nc.publish(`ptest${n}.${id}`);
    await done;
    let mismatches = 0;
    for (const id of ids) if (seen.get(id) !== partitionOf(id, n)) mismatches++;
    expect(mismatches).toBe(0);
    expect(new Set(seen.values()).size).toBe(n);
  });
});
