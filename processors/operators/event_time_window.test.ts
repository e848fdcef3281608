import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import type { MetricAggregate, SensorReadingData, WindowAggregateData } from "../../core/results.ts";
import type { ProcessorItem, ReadingEvent } from "../state/events.ts";
import { eventTimeWindow, type EventTimeWindowOptions } from "./event_time_window.ts";

type Item = ProcessorItem<SensorReadingData>;

let n = 0;
function ev(t: number, v: number, device = "d1"): Item {
  return { kind: "event", ev: { id: `${device}:x${n++}`, device, time: t, data: { metrics: { v } } } };
}

function agg(values: Array<[number, number]>): MetricAggregate {
  // values as [time, value], in application order
  const vs = values.map(([, v]) => v);
  const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
  const byTime = values.map((x, i) => ({ t: x[0], v: x[1], i }));
  const first = byTime.reduce((a, b) => (b.t < a.t ? b : a));
  const last = byTime.reduce((a, b) => (b.t >= a.t ? b : a));
  return {
    count: vs.length,
    sum: vs.reduce((a, b) => a + b, 0),
    min: Math.min(...vs),
    max: Math.max(...vs),
    mean,
    first: first.v,
    last: last.v,
    stddev: Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length),
  };
}

function win(window: string, start: number, end: number, revision: number, values: Array<[number, number]>, device = "d1"): Item {
  const result: WindowAggregateData = { device, window, start, end, revision, metrics: values.length ? { v: agg(values) } : {} };
  return { kind: "window", result };
}

function run(opts: Partial<EventTimeWindowOptions>, input: string, values: Record<string, Item>, expected: string, out: Record<string, Item>) {
  const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
  ts.run(({ cold, expectObservable }) => {
    const src = cold<Item>(input, values);
    expectObservable(src.pipe(eventTimeWindow({ scheduler: ts, tickMs: 1, idleTimeout: 1000, maxOutOfOrder: 0, allowedLateness: 0, ...opts }))).toBe(expected, out);
  });
}

describe("eventTimeWindow", () => {
  it("tumbling: emits when the watermark passes the window end", () => {
    const a = ev(1, 1), b = ev(5, 3), c = ev(12, 5);
    run({ windows: [{ type: "tumbling", size: 10 }] }, "a-b-c|", { a, b, c }, "----w|", {
      w: win("tumbling_10ms", 0, 10, 0, [[1, 1], [5, 3]]),
    });
  });

  it("tumbling: the watermark trails the newest event by maxOutOfOrder", () => {
    const a = ev(1, 1), b = ev(12, 2), c = ev(14, 3), d = ev(15, 4);
    run({ windows: [{ type: "tumbling", size: 10 }], maxOutOfOrder: 5 }, "a-b-c-d|", { a, b, c, d }, "------w|", {
      w: win("tumbling_10ms", 0, 10, 0, [[1, 1]]),
    });
  });

  it("hopping: each event lands in size/hop windows, emitted in end order", () => {
    const a = ev(1, 1), b = ev(7, 2), c = ev(16, 3);
    run({ windows: [{ type: "hopping", size: 10, hop: 5 }] }, "a-b-c-----|", { a, b, c }, "--x-(yz)--|", {
      x: win("hopping_10ms_5ms", -5, 5, 0, [[1, 1]]),
      y: win("hopping_10ms_5ms", 0, 10, 0, [[1, 1], [7, 2]]),
      z: win("hopping_10ms_5ms", 5, 15, 0, [[7, 2]]),
    });
  });

  it("session: closes gap after the last event", () => {
    const a = ev(0, 1), b = ev(5, 2), c = ev(30, 3);
    run({ windows: [{ type: "session", gap: 10 }] }, "a-b-c|", { a, b, c }, "----w|", {
      w: win("session_10ms", 0, 15, 0, [[0, 1], [5, 2]]),
    });
  });

  it("session: an event bridging two emitted sessions merges them and supersedes the later one", () => {
    const a = ev(0, 1), b = ev(18, 2), c = ev(40, 3), d = ev(9, 4);
    run({ windows: [{ type: "session", gap: 10 }], allowedLateness: 100 }, "a-b-c-d-----|", { a, b, c, d }, "--x-y-(zw)--|", {
      x: win("session_10ms", 0, 10, 0, [[0, 1]]),
      y: win("session_10ms", 18, 28, 0, [[18, 2]]),
      z: win("session_10ms", 18, 28, 1, []),
      w: win("session_10ms", 0, 28, 1, [[0, 1], [18, 2], [9, 4]]),
    });
  });

  it("lateness: within allowedLateness re-emits revision + 1; beyond it goes out as late", () => {
    const a = ev(1, 1), b = ev(12, 2), c = ev(3, 3), d = ev(0, 9);
    run({ windows: [{ type: "tumbling", size: 10 }], allowedLateness: 10 }, "a-b-c-d|", { a, b, c, d }, "--x-y-z|", {
      x: win("tumbling_10ms", 0, 10, 0, [[1, 1]]),
      y: win("tumbling_10ms", 0, 10, 1, [[1, 1], [3, 3]]),
      z: { kind: "late", ev: (d as { ev: ReadingEvent }).ev, watermark: 12 },
    });
  });

  it("idle timeout emits a silent device's open windows (processing time)", () => {
    const a = ev(1, 1), b = ev(3, 2, "d2");
    run({ windows: [{ type: "tumbling", size: 10 }], idleTimeout: 5 }, "a--b----------|", { a, b }, "-----x--y-----|", {
      x: win("tumbling_10ms", 0, 10, 0, [[1, 1]]),
      y: win("tumbling_10ms", 0, 10, 0, [[3, 2]], "d2"),
    });
  });

  it("a window emitted by idle close is corrected later with the next revision", () => {
    const a = ev(1, 1), b = ev(2, 2), c = ev(15, 3);
    run({ windows: [{ type: "tumbling", size: 10 }], idleTimeout: 3 }, "a-----b-c|", { a, b, c }, "---x----y|", {
      x: win("tumbling_10ms", 0, 10, 0, [[1, 1]]),
      y: win("tumbling_10ms", 0, 10, 1, [[1, 1], [2, 2]]),
    });
  });

  it("several specs at once, and booleans count as 1/0", () => {
    const a: Item = { kind: "event", ev: { id: "d1:b1", device: "d1", time: 1, data: { metrics: { door: true } } } };
    const b: Item = { kind: "event", ev: { id: "d1:b2", device: "d1", time: 2, data: { metrics: { door: false } } } };
    const c = ev(25, 1);
    const doorAgg = { count: 2, sum: 1, min: 0, max: 1, mean: 0.5, first: 1, last: 0, stddev: 0.5 };
    run({ windows: [{ type: "tumbling", size: 10 }, { type: "session", gap: 5 }] }, "a-b-c-----|", { a, b, c }, "----(xy)--|", {
      x: { kind: "window", result: { device: "d1", window: "tumbling_10ms", start: 0, end: 10, revision: 0, metrics: { door: doorAgg } } },
      y: { kind: "window", result: { device: "d1", window: "session_5ms", start: 1, end: 7, revision: 0, metrics: { door: doorAgg } } },
    });
  });

  it("passes other items through and flushes open windows on completion when asked", () => {
    const g: Item = { kind: "gap", gap: { device: "d1", from: 1, to: 2, missing: 2 }, time: 3 };
    const a = ev(3, 7);
    run({ windows: [{ type: "tumbling", size: 10 }], flushOnComplete: true }, "g-a|", { g, a }, "g--(w|)", {
      g,
      w: win("tumbling_10ms", 0, 10, 0, [[3, 7]]),
    });
  });
});
