import { describe, expect, it } from "vitest";
import type { SensorReadingData } from "../../core/results.ts";
import { DeviceWindows, type WindowOptions } from "./device_windows.ts";
import type { ProcessorItem, ReadingEvent } from "./events.ts";

const OPTS: WindowOptions = {
  windows: [{ type: "tumbling", size: 10 }, { type: "hopping", size: 20, hop: 5 }, { type: "session", gap: 4 }],
  maxOutOfOrder: 3,
  allowedLateness: 15,
  idleTimeout: 1000,
};

function events(n: number): ReadingEvent[] {
  const out: ReadingEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * 2 + ((i * 7) % 5) - (i % 11 === 0 ? 20 : 0);
    out.push({ id: `d:${i}`, device: "d", time: t, data: { metrics: { a: (i * 37) % 13, b: i % 2 === 0 } } });
  }
  return out;
}

describe("DeviceWindows checkpoint", () => {
  it("restoring from toJSON at any point gives the same emissions as an uninterrupted run", () => {
    const evs = events(120);
    const straight = new DeviceWindows("d", OPTS, 0);
    const want: ProcessorItem<SensorReadingData>[] = [];
    for (const e of evs) straight.apply(e, 0, want);
    straight.flush(want);
    for (const cut of [1, 17, 60, 119]) {
      let w = new DeviceWindows("d", OPTS, 0);
      const got: ProcessorItem<SensorReadingData>[] = [];
      evs.forEach((e, i) => {
        if (i === cut) w = new DeviceWindows("d", OPTS, 0, JSON.parse(JSON.stringify(w.toJSON())));
        w.apply(e, 0, got);
      });
      w.flush(got);
      expect(got).toEqual(want);
    }
    expect(want.some((i) => i.kind === "late")).toBe(true);
    expect(want.some((i) => i.kind === "window" && i.result.revision > 0)).toBe(true);
  });

  it("evicts windows once no accepted event can reach them", () => {
    const w = new DeviceWindows("d", { ...OPTS, windows: [{ type: "tumbling", size: 10 }] }, 0);
    for (let t = 0; t < 1000; t += 1) w.apply({ id: `d:${t}`, device: "d", time: t, data: { metrics: { a: 1 } } }, 0);
    // watermark 996, lateness 15: only windows ending after 981 are kept
    expect(w.size).toBeLessThanOrEqual(3);
  });
});
