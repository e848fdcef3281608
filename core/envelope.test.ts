import { describe, expect, it } from "vitest";
import { eventId, fromMessage, rfc3339, toHeaders, toStructured, type CloudEvent } from "./envelope.ts";
import { createLogger } from "./logger.ts";

describe("envelope", () => {
  it("derives the deterministic id of CONTRACT section 4", () => {
    expect(eventId("t1", { id: "r-42", seq: 3 })).toBe("t1:r-42");
    expect(eventId("t1", { seq: 3 })).toBe("t1:s3");
    const h1 = eventId("t1", { topic: "devices/t1/telemetry", bytes: '{"metrics":{"a":1}}' });
    expect(h1).toMatch(/^t1:h[0-9a-f]{16}$/);
    expect(eventId("t1", { topic: "devices/t1/telemetry", bytes: '{"metrics":{"a":1}}' })).toBe(h1);
    expect(eventId("t1", { topic: "devices/t1/telemetry", bytes: '{"metrics":{"a":2}}' })).not.toBe(h1);
    expect(eventId("t1", { topic: "zigbee2mqtt/t1", bytes: '{"metrics":{"a":1}}' })).not.toBe(h1);
  });

  it("round-trips through NATS headers in binary mode", () => {
    const ev: CloudEvent = {
      specversion: "1.0",
      id: "t1:s7",
      source: "fleetstream/gateway/gw1",
      type: "SensorReadingRecorded",
      subject: "t1",
      time: "2026-11-30T10:00:00.123Z",
      ingesttime: "2026-11-30T10:00:01.000Z",
      seq: 7,
      timesource: "device",
      datacontenttype: "application/json",
      data: { metrics: { temperature: 21.5 } },
      extensions: { revision: "2" },
    };
    const h = toHeaders(ev);
    expect(h.get("Nats-Msg-Id")).toBe("t1:s7");
    expect(h.get("ce-specversion")).toBe("1.0");
    expect(h.get("content-type")).toBe("application/json");
    const back = fromMessage(h, JSON.stringify(ev.data));
    expect(back).toEqual(ev);
    expect(toStructured(back)).toMatchObject({ id: "t1:s7", revision: "2", data: { metrics: { temperature: 21.5 } } });
  });

  it("refuses a message without the required attributes", () => {
    expect(() => fromMessage(undefined, "{}")).toThrow(/no CloudEvents headers/);
  });
});

describe("logger", () => {
  it("writes JSON lines without secrets", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), level: "info" }).child({ component: "t" });
    log.debug("hidden");
    log.info("connected", { url: "nats://u:pw@h:4222", password: "x", nested: { token: "y" } });
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: "info", msg: "connected", component: "t", url: "nats://u:***@h:4222", password: "[redacted]" });
    expect(lines[0]).not.toMatch(/pw@|"x"|"y"/);
  });

  it("formats times exactly as Date#toISOString, whatever order they repeat in", () => {
    const t = Date.UTC(2026, 10, 30, 23, 59, 59, 999);
    const seq = [t, t + 1, t, t + 1, t + 2, t, t + 2, t + 2, t - 86_400_000, t, t - 59_999, t + 60_000];
    for (let i = 0; i < 2000; i++) seq.push(t + Math.round((Math.sin(i) * 1e6) / (i % 7 === 0 ? 1 : 1000)));
    // Edges: before 1970, the first and last 4-digit years, beyond them, fractions.
    seq.push(-1, -60_000, -61_001, 0, 59_999, -62_167_219_200_000, 253_402_300_799_999, -62_167_219_200_001, 253_402_300_800_000, 1.5, -1.5, t + 0.25);
    expect(seq.map((ms) => rfc3339(ms))).toEqual(seq.map((ms) => new Date(ms).toISOString()));
    expect(rfc3339(t)).toBe("2026-11-30T23:59:59.999Z");
    expect(() => rfc3339(NaN)).toThrow(RangeError);
  });
});
