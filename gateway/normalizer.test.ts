// Decoders and validation, table-driven: every reject reason the gateway produces, with its JSON pointer.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../core/config.ts";
import { eventId, fromMessage } from "../core/envelope.ts";
import { subjects } from "../core/subjects.ts";
import { createNormalizer } from "./normalizer.ts";
import { OrderedAcks } from "./ordered_acks.ts";

const NOW = Date.parse("2026-11-30T12:00:00.000Z");
const cfg = loadConfig({ env: {}, overrides: { limits: { maxPayload: 1024 } } });
const subj = subjects("iot", 8);
const n = createNormalizer({ gatewayId: "gw1", routes: cfg.routes, limits: cfg.limits, subjects: subj, maxDlqOriginal: 2048 });
const bytesOf = (payload: unknown) =>
  Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload));
const norm = (topic: string, payload: unknown) => n.normalize(topic, bytesOf(payload), NOW);

describe("rejects", () => {
  const T = "devices/t1/telemetry";
  const L = "devices/t1/location";
  const cases: Array<[string, string, unknown, string, string | undefined]> = [
    ["malformed json", T, "{not json", "malformed_json", undefined],
    ["invalid utf-8", T, Buffer.from([0x22, 0xff, 0x22]), "malformed_json", undefined],
    ["too large", T, JSON.stringify({ metrics: { a: 1 }, pad: "x".repeat(2000) }), "payload_too_large", undefined],
    ["device id with !", "devices/bad!id/telemetry", { metrics: { a: 1 } }, "invalid_device_id", undefined],
    ["device id too long", `devices/${"d".repeat(65)}/telemetry`, { metrics: { a: 1 } }, "invalid_device_id", undefined],
    ["no metrics", T, { ts: NOW }, "schema_violation", "/metrics"],
    ["empty metrics", T, { metrics: {} }, "schema_violation", "/metrics"],
    ["bad metric name", T, { metrics: { "1temp": 1 } }, "schema_violation", "/metrics/1temp"],
    ["metric name with /", T, { metrics: { "a/b": 1 } }, "schema_violation", "/metrics/a~1b"],
    ["string metric", T, { metrics: { temp: "21" } }, "schema_violation", "/metrics/temp"],
    ["null metric", T, { metrics: { temp: null } }, "schema_violation", "/metrics/temp"],
    ["negative seq", T, { seq: -1, metrics: { a: 1 } }, "schema_violation", "/seq"],
    ["fractional seq", T, { seq: 1.5, metrics: { a: 1 } }, "schema_violation", "/seq"],
    ["id too long", T, { id: "x".repeat(129), metrics: { a: 1 } }, "schema_violation", "/id"],
    ["id not a string", T, { id: 7, metrics: { a: 1 } }, "schema_violation", "/id"],
    ["ts garbage string", T, { ts: "yesterday", metrics: { a: 1 } }, "schema_violation", "/ts"],
    ["ts boolean", T, { ts: true, metrics: { a: 1 } }, "schema_violation", "/ts"],
    ["ts 8 days old", T, { ts: NOW - 8 * 86_400_000, metrics: { a: 1 } }, "timestamp_out_of_range", "/ts"],
    ["ts 6 min ahead", T, { ts: "2026-11-30T12:06:00Z", metrics: { a: 1 } }, "timestamp_out_of_range", "/ts"],
    ["not an object", T, 42, "schema_violation", ""],
    ["empty batch", T, [], "schema_violation", ""],
    ["lat out of range", L, { lat: 91, lon: 0 }, "schema_violation", "/lat"],
    ["lon missing", L, { lat: 1 }, "schema_violation", "/lon"],
    ["heading out of range", L, { lat: 1, lon: 1, heading: 400 }, "schema_violation", "/heading"],
    ["owntracks no _type", "owntracks/u/p", { lat: 1, lon: 1 }, "schema_violation", "/_type"],
    ["owntracks bad lat", "owntracks/u/p", { _type: "location", lat: "x", lon: 1 }, "schema_violation", "/lat"],
    ["owntracks tst too old", "owntracks/u/p", { _type: "location", lat: 1, lon: 1, tst: 1000 }, "timestamp_out_of_range", "/tst"],
    ["zigbee nothing numeric", "zigbee2mqtt/lamp", { state: "ON" }, "schema_violation", ""],
    ["zigbee bad name", "zigbee2mqtt/lamp", { "bad-name": 1 }, "schema_violation", "/bad-name"],
    ["no route", "elsewhere/x", { metrics: { a: 1 } }, "schema_violation", ""],
  ];
  it.each(cases)("%s", (_name, topic, payload, reason, pointer) => {
    const out = norm(topic, payload);
    expect(out.events).toEqual([]);
    expect(out.rejects).toHaveLength(1);
    const r = out.rejects[0]!;
    expect(r.reason).toBe(reason);
    expect(r.pointer).toBe(pointer);
    expect(r.stage).toBe("gateway");
    expect(r.topic).toBe(topic);
    expect(r.error.length).toBeGreaterThan(5);
    expect(r.receivedAt).toBe("2026-11-30T12:00:00.000Z");
    expect(Buffer.from(r.original, "base64").equals(bytesOf(payload))).toBe(true);
  });

  it("too many metrics under a larger size limit is a schema_violation at /metrics", () => {
    const big = createNormalizer({ gatewayId: "gw1", routes: cfg.routes, limits: { ...cfg.limits, maxPayload: 65536 }, subjects: subj });
    const out = big.normalize("devices/t1/telemetry", Buffer.from(JSON.stringify({ metrics: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`m${i}`, i])) })), NOW);
    expect(out.rejects[0]).toMatchObject({ reason: "schema_violation", pointer: "/metrics" });
  });

  it("cuts a huge original to maxDlqOriginal and says so", () => {
    const out = n.normalize("devices/t1/telemetry", Buffer.alloc(5000, 0x61), NOW);
    expect(out.rejects[0]!.reason).toBe("payload_too_large");
    expect(Buffer.from(out.rejects[0]!.original, "base64").length).toBe(2048);
    expect(out.rejects[0]!.error).toMatch(/cut/);
  });
});

describe("valid input", () => {
  it("canonical reading: envelope, subject, body, ce-id from id", () => {
    const out = norm("devices/t1/telemetry", { ts: NOW - 1000, seq: 42, id: "r-42", metrics: { temperature: 21.5, door_open: false } });
    expect(out.rejects).toEqual([]);
    const ev = out.events[0]!;
    expect(ev.subject).toBe(subj.input("telemetry", "t1"));
    expect(ev.id).toBe("t1:r-42");
    const ce = fromMessage(ev.headers, ev.body);
    expect(ce).toMatchObject({
      id: "t1:r-42", type: "SensorReadingRecorded", subject: "t1", source: "fleetstream/gateway/gw1",
      time: "2026-11-30T11:59:59.000Z", ingesttime: "2026-11-30T12:00:00.000Z", seq: 42, timesource: "device",
      data: { metrics: { temperature: 21.5, door_open: false } },
    });
    expect(ev.headers.get("Nats-Msg-Id")).toBe("t1:r-42");
  });

  it("ce-id from seq, else a hash of topic and bytes; absent ts is the receive time", () => {
    expect(norm("devices/t1/telemetry", { seq: 7, metrics: { a: 1 } }).events[0]!.id).toBe("t1:s7");
    const body = JSON.stringify({ metrics: { a: 1 } });
    const ev = norm("devices/t1/telemetry", body).events[0]!;
    expect(ev.id).toBe(eventId("t1", { topic: "devices/t1/telemetry", bytes: body }));
    expect(ev.id).toMatch(/^t1:h[0-9a-f]{16}$/);
    expect(ev.headers.get("ce-timesource")).toBe("gateway");
    expect(ev.headers.get("ce-time")).toBe("2026-11-30T12:00:00.000Z");
  });

  it("RFC 3339 ts with an offset", () => {
    const ev = norm("devices/t1/telemetry", { ts: "2026-11-30T13:59:00.250+02:00", metrics: { a: 1 } }).events[0]!;
    expect(ev.headers.get("ce-time")).toBe("2026-11-30T11:59:00.250Z");
  });

  it("a batch: good elements stored, each bad one its own DLQ record with index and pointer", () => {
    const batch = [
      { seq: 1, metrics: { a: 1 } },
      { seq: 2, metrics: { a: "x" } },
      { metrics: { b: 2 } },
      { seq: 4, ts: 5, metrics: { a: 1 } },
    ];
    const out = norm("devices/t1/telemetry", batch);
    expect(out.events.map((e) => e.id)).toEqual(["t1:s1", eventId("t1", { topic: "devices/t1/telemetry", bytes: JSON.stringify(batch[2]) })]);
    expect(out.rejects.map((r) => [r.reason, r.pointer, r.index])).toEqual([
      ["schema_violation", "/1/metrics/a", 1],
      ["timestamp_out_of_range", "/3/ts", 3],
    ]);
    expect(Buffer.from(out.rejects[0]!.original, "base64").toString()).toBe(JSON.stringify(batch[1]));
  });

  it("canonical location with optional fields", () => {
    const ev = norm("devices/v1/location", { seq: 3, lat: 52.5, lon: 13.4, alt: 34, speed: 12.5, heading: 90, accuracy: 5 }).events[0]!;
    expect(ev.subject).toBe(subj.input("location", "v1"));
    expect(JSON.parse(ev.body)).toEqual({ lat: 52.5, lon: 13.4, alt: 34, speed: 12.5, heading: 90, accuracy: 5 });
    expect(ev.headers.get("ce-type")).toBe("LocationUpdated");
  });

  it("OwnTracks location: tst seconds, vel km/h -> m/s, cog, acc, device <user>-<device>", () => {
    const tst = Math.floor(NOW / 1000) - 60;
    const out = norm("owntracks/alice/phone", { _type: "location", lat: 48.1, lon: 11.5, tst, vel: 36, cog: 180, acc: 10, alt: 500, tid: "al" });
    const ev = out.events[0]!;
    expect(ev.subject).toBe(subj.input("location", "alice-phone"));
    expect(JSON.parse(ev.body)).toEqual({ lat: 48.1, lon: 11.5, speed: 10, heading: 180, accuracy: 10, alt: 500 });
    expect(ev.headers.get("ce-time")).toBe(new Date(tst * 1000).toISOString());
    expect(ev.headers.get("ce-subject")).toBe("alice-phone");
  });

  it("OwnTracks non-location types are ignored, not rejected", () => {
    const out = norm("owntracks/alice/phone", { _type: "waypoint", desc: "home" });
    expect(out).toEqual({ events: [], rejects: [], ignored: ["owntracks_waypoint"] });
  });

  it("Zigbee2MQTT: numbers and booleans become metrics, the rest is ignored, last_seen gives ts", () => {
    const out = norm("zigbee2mqtt/kitchen_sensor", {
      temperature: 21.5, humidity: 40, occupancy: true, state: "ON", update: { state: "idle" }, color: null,
      last_seen: "2026-11-30T11:59:30.000Z",
    });
    const ce = fromMessage(out.events[0]!.headers, out.events[0]!.body);
    expect(ce.data).toEqual({ metrics: { temperature: 21.5, humidity: 40, occupancy: true } });
    expect(ce.time).toBe("2026-11-30T11:59:30.000Z");
    expect(ce.subject).toBe("kitchen_sensor");
    const epoch = norm("zigbee2mqtt/lamp", { brightness: 200, last_seen: NOW - 5 }).events[0]!;
    expect(epoch.headers.get("ce-time")).toBe(new Date(NOW - 5).toISOString());
    expect(JSON.parse(epoch.body)).toEqual({ metrics: { brightness: 200 } });
  });

  it("routes configured with a custom type and device level", () => {
    const custom = createNormalizer({
      gatewayId: "edge",
      routes: [{ filter: "site/+/+/reading", decoder: "canonical_reading", type: "MeterRead", device: 3 }],
      limits: cfg.limits,
      subjects: subjects("x", 4),
    });
    const ev = custom.normalize("site/berlin/m-9/reading", Buffer.from('{"seq":1,"metrics":{"kwh":3}}'), NOW).events[0]!;
    expect(ev.subject).toBe(subjects("x", 4).input("telemetry", "m-9"));
    expect(ev.headers.get("ce-type")).toBe("MeterRead");
    expect(ev.headers.get("ce-source")).toBe("fleetstream/gateway/edge");
  });
});

describe("OrderedAcks", () => {
  it("sends acknowledgements in arrival order, each only once stored", () => {
    const sent: number[] = [];
    const acks = new OrderedAcks();
    const slots = [0, 1, 2, 3].map((i) => {
      const s = acks.open(i !== 2);
      if (i !== 2) acks.attach(s, () => sent.push(i));
      return s;
    });
    acks.complete(slots[1]!);
    acks.complete(slots[3]!);
    expect(sent).toEqual([]);
    expect(acks.outstanding).toBe(4);
    acks.complete(slots[0]!);
    expect(sent).toEqual([0, 1]);
    acks.complete(slots[2]!); // QoS 0: no ack of its own, but it frees the ones behind it
    expect(sent).toEqual([0, 1, 3]);
    expect(acks.outstanding).toBe(0);
  });

  it("never sends an abandoned acknowledgement; counts abandoned slots until stored", () => {
    const sent: string[] = [];
    let released = 0;
    const acks = new OrderedAcks(() => released++);
    const a = acks.open();
    acks.attach(a, () => sent.push("a"));
    const b = acks.open();
    acks.attach(b, () => sent.push("b"));
    acks.complete(b);
    acks.abandon();
    expect(acks.outstanding).toBe(1);
    acks.complete(a);
    expect(acks.outstanding).toBe(0);
    const c = acks.open();
    acks.attach(c, () => sent.push("c"));
    acks.complete(c);
    expect(sent).toEqual(["c"]);
    expect(released).toBe(3);
  });
});
