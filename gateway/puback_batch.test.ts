// Proves: batched PUBACKs are byte for byte what mqtt-packet writes for a success PUBACK in MQTT 3.1.1 and 5 (ids 1..65535), one tick's PUBACKs leave as one write in order, anything else is not batched, and discarded ones are never written. (That the broker accepts them is shown on Mosquitto by intake_broker.test.ts.)
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { createPubackBatch, encodePubacks, isPlainPuback } from "./puback_batch.ts";

const mqttPacket = createRequire(import.meta.url)("mqtt-packet") as { generate(packet: object, opts: { protocolVersion: number }): Buffer };
const tick = () => new Promise((r) => process.nextTick(r));

describe("puback batch", () => {
  it.each([4, 5])("encodes what mqtt-packet encodes for MQTT %i", (protocolVersion) => {
    const ids = [1, 2, 255, 256, 257, 4660, 32768, 65534, 65535];
    for (let id = 3; id < 65535; id += 997) ids.push(id);
    const expected = Buffer.concat(ids.map((messageId) => mqttPacket.generate({ cmd: "puback", messageId, reasonCode: 0 }, { protocolVersion })));
    expect(encodePubacks(ids).equals(expected)).toBe(true);
  });

  it("batches only success PUBACKs without properties", () => {
    expect(isPlainPuback({ cmd: "puback", messageId: 7, reasonCode: 0 })).toBe(true);
    expect(isPlainPuback({ cmd: "puback", messageId: 7 })).toBe(true);
    expect(isPlainPuback({ cmd: "puback", messageId: 7, reasonCode: 16 })).toBe(false);
    expect(isPlainPuback({ cmd: "puback", messageId: 7, properties: { reasonString: "x" } })).toBe(false);
    expect(isPlainPuback({ cmd: "pubrec", messageId: 7 })).toBe(false);
  });

  it("writes one tick's PUBACKs once, in order; flush writes at once; discard drops", async () => {
    const writes: number[][] = [];
    const b = createPubackBatch((bytes) => writes.push([...bytes]));
    b.add(1);
    b.add(2);
    b.add(300);
    expect(writes).toEqual([]);
    await tick();
    expect(writes).toEqual([[0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 1, 44]]);
    b.add(3);
    b.flush();
    expect(writes).toHaveLength(2);
    b.add(4);
    b.discard();
    await tick();
    expect(writes).toHaveLength(2);
  });
});
