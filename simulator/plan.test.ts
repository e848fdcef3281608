// Proves the message plan is a pure function of the seed and options, and that its faults come in the configured ratios.
import { describe, expect, it } from "vitest";
import { distanceM } from "./geo.ts";
import { fromConfig } from "./options.ts";
import { planMessages, plannedEvents, type PlannedMessage } from "./plan.ts";

const START = 1_764_528_000_000;
const plan = (o: Parameters<typeof fromConfig>[0]) => planMessages({ ...fromConfig(o), startTs: o.startTs ?? START });

/** Fraction of first-time readings whose seq is below one already seen for their device. */
function outOfOrder(msgs: PlannedMessage[]): number {
  const max = new Map<string, number>();
  let n = 0;
  let late = 0;
  for (const m of msgs) {
    if (m.kind !== "reading" && m.kind !== "location") continue;
    const seq = m.events[0]!.seq!;
    n++;
    if (seq < (max.get(m.device) ?? -1)) late++;
    max.set(m.device, Math.max(seq, max.get(m.device) ?? -1));
  }
  return late / n;
}

describe("planMessages", () => {
  it("gives the same messages for the same seed and different ones for another seed", () => {
    const o = { sensors: 3, vehicles: 2, owntracks: 1, zigbee: 1, duration: 60_000, disorder: 0.1, duplicates: 0.1, malformed: 0.1, offline: 0.02 };
    const a = plan({ ...o, seed: 7 });
    const b = plan({ ...o, seed: 7 });
    const c = plan({ ...o, seed: 8 });
    expect(a).toEqual(b);
    expect(a.map((m) => m.payload)).not.toEqual(c.map((m) => m.payload));
  });

  it("keeps a device's signals when other devices are added", () => {
    const small = plan({ sensors: 1, vehicles: 0, duration: 10_000, seed: 3 });
    const big = plan({ sensors: 5, vehicles: 3, duration: 10_000, seed: 3 }).filter((m) => m.device === "sensor-0001");
    expect(big.map((m) => m.payload)).toEqual(small.map((m) => m.payload));
  });

  it("sends one canonical message per device and tick without faults, in seq order", () => {
    const msgs = plan({ sensors: 4, vehicles: 2, rate: 2, duration: 30_000, seed: 1 });
    expect(msgs).toHaveLength(6 * 60);
    const s = msgs.filter((m) => m.device === "sensor-0002").map((m) => JSON.parse(m.payload));
    expect(s.map((r) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => START + i));
    expect(s[1].ts - s[0].ts).toBe(500);
    for (const r of s) {
      expect(Object.keys(r.metrics).sort()).toEqual(["battery", "door_open", "humidity", "temperature"]);
      expect(r.metrics.temperature).toBeGreaterThan(5);
      expect(r.metrics.temperature).toBeLessThan(35);
      expect(typeof r.metrics.door_open).toBe("boolean");
    }
    expect(s.at(-1).metrics.battery).toBeLessThanOrEqual(s[0].metrics.battery);
  });

  it("moves vehicles at road speeds along great circles", () => {
    const fixes = plan({ sensors: 0, vehicles: 3, duration: 300_000, seed: 5 }).map((m) => ({ device: m.device, ...JSON.parse(m.payload) }));
    for (const id of ["vehicle-0001", "vehicle-0002", "vehicle-0003"]) {
      const f = fixes.filter((x) => x.device === id);
      for (let i = 1; i < f.length; i++) {
        const d = distanceM(f[i - 1], f[i]);
        expect(d).toBeLessThanOrEqual(34); // at most 33 m/s for 1 s
        expect(f[i].lat).toBeGreaterThanOrEqual(-90);
        expect(f[i].lat).toBeLessThanOrEqual(90);
      }
      const travelled = f.slice(1).reduce((acc, x, i) => acc + distanceM(f[i], x), 0);
      expect(travelled).toBeGreaterThan(300); // moved, allowing for delivery stops
    }
  });

  it("produces disorder, duplicates and malformed messages in roughly the configured ratios", () => {
    const msgs = plan({ sensors: 10, vehicles: 5, duration: 300_000, seed: 11, disorder: 0.1, duplicates: 0.05, malformed: 0.02 });
    const first = msgs.filter((m) => m.kind !== "duplicate" && m.kind !== "malformed");
    expect(first).toHaveLength(15 * 300);
    expect(outOfOrder(msgs)).toBeGreaterThan(0.08);
    expect(outOfOrder(msgs)).toBeLessThan(0.12);
    const dups = msgs.filter((m) => m.kind === "duplicate").length / msgs.filter((m) => m.kind !== "duplicate").length;
    expect(dups).toBeGreaterThan(0.04);
    expect(dups).toBeLessThan(0.06);
    const bad = msgs.filter((m) => m.kind === "malformed");
    expect(bad.length / 4500).toBeGreaterThan(0.014);
    expect(bad.length / 4500).toBeLessThan(0.026);
    // Every reason is there, and a message flagged malformed_json really is bad JSON.
    expect(new Set(bad.map((m) => m.reason))).toEqual(new Set(["malformed_json", "schema_violation", "timestamp_out_of_range", "invalid_device_id"]));
    for (const m of bad.filter((x) => x.reason === "malformed_json")) expect(() => JSON.parse(m.payload)).toThrow();
    // Duplicates are byte-for-byte re-sends.
    for (const [i, m] of msgs.entries()) if (m.kind === "duplicate") expect(m.payload).toBe(msgs[i - 1]!.payload);
    // Nothing valid is lost or invented: one event per device and tick.
    expect(plannedEvents(msgs)).toHaveLength(4500);
  });

  it("sends an offline device's readings late, as batches, with their original timestamps", () => {
    const msgs = plan({ sensors: 5, vehicles: 1, duration: 120_000, seed: 2, offline: 0.02, offlineDuration: 10_000, maxBatch: 4 });
    const batches = msgs.filter((m) => m.kind === "batch");
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      const arr = JSON.parse(b.payload) as Array<{ ts: number }>;
      expect(arr.length).toBeGreaterThan(1);
      expect(arr.length).toBeLessThanOrEqual(4);
      expect(arr.length).toBe(b.events.length);
      expect(START + b.at - arr[0]!.ts).toBeGreaterThan(0); // old readings
    }
    expect(plannedEvents(msgs)).toHaveLength(6 * 120);
  });

  it("stops at count", () => {
    expect(plan({ sensors: 3, count: 17, seed: 1, duplicates: 0.5 })).toHaveLength(17);
  });
});
