import { describe, expect, it } from "vitest";
import type { WindowSpec } from "../../core/config.ts";
import { windowName, type MetricAggregate, type SensorReadingData } from "../../core/results.ts";
import { DeviceWindows, type WindowOptions } from "./device_windows.ts";
import type { ProcessorItem, ReadingEvent } from "./events.ts";

type Item = ProcessorItem<SensorReadingData>;

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

let nextId = 0;
function reading(time: number, metrics: Record<string, number>): ReadingEvent {
  return { id: `d:r${nextId++}`, device: "d", time, data: { metrics } };
}

/** `start-end@revision` of each window item, and `late@time` of each late one. */
function brief(items: Item[]): string[] {
  return items.map((i) => (i.kind === "window" ? `${i.result.window}:${i.result.start}-${i.result.end}@${i.result.revision}` : i.kind === "late" ? `late@${i.ev.time}` : i.kind));
}

/**
 * Feeds `evs` (a number is an idle check at that processing time) and checks every fixed-window
 * emission against its window's accepted events aggregated from scratch, at the time of emission.
 */
function runChecked(opts: WindowOptions, evs: Array<ReadingEvent | number>): Item[] {
  const w = new DeviceWindows("d", opts, 0);
  const accepted: Array<{ t: number; ord: number; metrics: Record<string, number> }> = [];
  const fixed = new Map<string, number>();
  for (const s of opts.windows) if (s.type !== "session") fixed.set(windowName(s), s.size);
  const all: Item[] = [];
  let ord = 0;
  for (const e of evs) {
    const out: Item[] = [];
    if (typeof e === "number") w.idle(e, out);
    else {
      w.apply(e, 0, out);
      if (!out.some((i) => i.kind === "late" && i.ev === e)) accepted.push({ t: e.time, ord, metrics: e.data.metrics as Record<string, number> });
      ord++;
    }
    for (const i of out) {
      if (i.kind !== "window" || !fixed.has(i.result.window)) continue;
      expect(i.result.end - i.result.start).toBe(fixed.get(i.result.window));
      const inside = accepted.filter((a) => a.t >= i.result.start && a.t < i.result.end);
      const names = [...new Set(inside.flatMap((a) => Object.keys(a.metrics)))];
      expect(Object.keys(i.result.metrics)).toEqual(names);
      for (const m of names) expectAggregate(i.result.metrics[m]!, inside.filter((a) => m in a.metrics).map((a) => ({ t: a.t, ord: a.ord, v: a.metrics[m]! })));
    }
    all.push(...out);
  }
  return all;
}

function expectAggregate(got: MetricAggregate, pts: Array<{ t: number; ord: number; v: number }>): void {
  const vs = pts.map((p) => p.v);
  const sum = vs.reduce((x, y) => x + y, 0);
  const mean = sum / vs.length;
  const first = pts.reduce((x, y) => (y.t < x.t || (y.t === x.t && y.ord < x.ord) ? y : x));
  const last = pts.reduce((x, y) => (y.t > x.t || (y.t === x.t && y.ord > x.ord) ? y : x));
  expect({ count: got.count, min: got.min, max: got.max, first: got.first, last: got.last }).toEqual({ count: vs.length, min: Math.min(...vs), max: Math.max(...vs), first: first.v, last: last.v });
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  const stddev = Math.sqrt(vs.reduce((x, y) => x + (y - mean) ** 2, 0) / vs.length);
  expect([close(got.sum, sum), close(got.mean, mean), close(got.stddev, stddev)]).toEqual([true, true, true]);
}

describe("DeviceWindows checkpoint", () => {
  it("restoring from toJSON at any point gives the same emissions as an uninterrupted run", () => {
    const evs = events(120);
    const straight = new DeviceWindows("d", OPTS, 0);
    const want: Item[] = [];
    for (const e of evs) straight.apply(e, 0, want);
    straight.flush(want);
    for (const cut of [1, 17, 60, 119]) {
      let w = new DeviceWindows("d", OPTS, 0);
      const got: Item[] = [];
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

  it("restoring at every cut point, idle closes included, gives the same emissions and state", () => {
    const opts: WindowOptions = { ...OPTS, windows: [{ type: "hopping", size: 10, hop: 4 }, ...OPTS.windows], idleTimeout: 15 };
    // an idle check (null) after every 25th event; processing time is 10 per step
    const steps = events(90).flatMap((e, i) => (i % 25 === 24 ? [e, null] : [e]));
    const play = (cut: number) => {
      let w = new DeviceWindows("d", opts, 0);
      const out: Item[] = [];
      let idled = 0;
      const restore = (now: number) => (w = new DeviceWindows("d", opts, now, JSON.parse(JSON.stringify(w.toJSON()))));
      steps.forEach((s, i) => {
        if (i === cut) restore(10 * i);
        if (s === null) {
          const before = out.length;
          w.idle(10 * i + 20, out);
          idled += out.length - before;
        }
        else w.apply(s, 10 * i, out);
      });
      if (cut === steps.length) restore(10 * cut);
      const state = w.toJSON();
      w.flush(out);
      return { out, state, idled };
    };
    const want = play(-1);
    expect(want.out.filter((i) => i.kind === "window" && i.result.revision > 0).length).toBeGreaterThan(10);
    expect(want.idled).toBeGreaterThan(0);
    for (let cut = 0; cut <= steps.length; cut++) expect(play(cut)).toEqual(want);
  });
});

describe("DeviceWindows panes", () => {
  it("hopping: closes windows in start order; a correction re-emits every emitted window it reaches", () => {
    const opts: WindowOptions = { windows: [{ type: "hopping", size: 20, hop: 5 }], maxOutOfOrder: 0, allowedLateness: 30, idleTimeout: 1000 };
    const got = runChecked(opts, [
      reading(1, { v: 1 }),
      reading(6, { v: 2 }),
      reading(12, { v: 3 }),
      reading(21, { v: 4 }),
      reading(3, { v: 10, w: 1 }), // correction of the four windows holding 3
      reading(26, { v: 5 }),
    ]);
    const name = "hopping_20ms_5ms";
    expect(brief(got)).toEqual([
      ...[[-15, 5], [-10, 10], [-5, 15], [0, 20]].map(([s, e]) => `${name}:${s}-${e}@0`),
      ...[[-15, 5], [-10, 10], [-5, 15], [0, 20]].map(([s, e]) => `${name}:${s}-${e}@1`),
      `${name}:5-25@0`,
    ]);
    const last = got.at(-1)!;
    expect(last.kind === "window" && last.result.metrics.v!.count).toBe(3);
  });

  it("a size that is not a multiple of the hop (10/4: panes of 2) puts each event in every window holding it", () => {
    const opts: WindowOptions = { windows: [{ type: "hopping", size: 10, hop: 4 }], maxOutOfOrder: 2, allowedLateness: 8, idleTimeout: 1000 };
    const evs: ReadingEvent[] = [];
    for (let i = 0; i < 40; i++) evs.push(reading(i + (i % 3 === 0 ? -3 : 0) + (i % 7 === 0 ? -9 : 0), { v: (i * 13) % 7, ...(i % 4 === 0 ? { u: i } : {}) }));
    const got = runChecked(opts, evs);
    // t = 9 is in the windows starting at 0, 4 and 8
    expect(brief(got)).toEqual(expect.arrayContaining(["hopping_10ms_4ms:0-10@0", "hopping_10ms_4ms:4-14@0", "hopping_10ms_4ms:8-18@0"]));
    const starts = got.flatMap((i) => (i.kind === "window" ? [i.result.start] : []));
    expect(starts.every((s) => s % 4 === 0)).toBe(true);
    expect(got.some((i) => i.kind === "window" && i.result.revision > 0)).toBe(true);
    expect(got.some((i) => i.kind === "late")).toBe(true);
  });

  it("idle emits open windows; later events into them are emitted as revision 1 when they close", () => {
    const opts: WindowOptions = { windows: [{ type: "tumbling", size: 10 }, { type: "hopping", size: 20, hop: 10 }], maxOutOfOrder: 0, allowedLateness: 10, idleTimeout: 100 };
    const w = new DeviceWindows("d", opts, 0);
    w.apply(reading(1, { v: 1 }), 0);
    w.apply(reading(2, { v: 2 }), 0);
    expect(w.hasDirty).toBe(true);
    expect(brief(w.idle(50))).toEqual([]);
    const idle = w.idle(100);
    expect(brief(idle)).toEqual(["tumbling_10ms:0-10@0", "hopping_20ms_10ms:-10-10@0", "hopping_20ms_10ms:0-20@0"]);
    expect(w.hasDirty).toBe(false);
    expect(brief(w.idle(500))).toEqual([]);
    expect(brief(w.apply(reading(5, { v: 3 }), 600))).toEqual([]);
    expect(w.hasDirty).toBe(true);
    const closed = w.apply(reading(25, { v: 4 }), 600);
    expect(brief(closed)).toEqual(["tumbling_10ms:0-10@1", "hopping_20ms_10ms:-10-10@1", "hopping_20ms_10ms:0-20@1"]);
    for (const i of closed) expect(i.kind === "window" && i.result.metrics.v!.count).toBe(3);
    // the windows holding 25 were never emitted
    expect(w.hasDirty).toBe(true);
    expect(brief(w.flush())).toEqual(["tumbling_10ms:20-30@0", "hopping_20ms_10ms:10-30@0", "hopping_20ms_10ms:20-40@0"]);
    expect(w.hasDirty).toBe(false);
  });

  it("evicts windows and panes once no accepted event can reach them, and not before", () => {
    const spec: WindowSpec = { type: "hopping", size: 20, hop: 5 };
    const opts: WindowOptions = { windows: [spec], maxOutOfOrder: 3, allowedLateness: 15, idleTimeout: 1000 };
    const evs: ReadingEvent[] = [];
    for (let t = 0; t < 300; t++) evs.push(reading(t, { a: t % 10 }));
    // the oldest event still accepted (watermark 296, lateness 15): corrects windows with all their values
    evs.push(reading(281, { a: 100 }), reading(280, { a: 100 }));
    const w = new DeviceWindows("d", opts, 0);
    const got: Item[] = [];
    for (const e of evs) w.apply(e, 0, got);
    expect(got).toEqual(runChecked(opts, evs));
    expect(brief(got.slice(-4))).toEqual(["hopping_20ms_5ms:265-285@1", "hopping_20ms_5ms:270-290@1", "hopping_20ms_5ms:275-295@1", "late@280"]);
    // windows ending after 281 (watermark - lateness): starts 265..295; panes from 265 to 299
    expect(w.size).toBe(7);
    const state = w.toJSON().specs[0] as { w: number[]; p: unknown[] };
    expect(state.w.length / 3).toBe(7);
    expect(state.p.length).toBe(7);
  });
});
