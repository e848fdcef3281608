import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import type { InputEvent, ProcessorItem } from "../state/events.ts";
import { Sequencer } from "../state/sequencer.ts";
import { reorderBySeq, type ReorderBySeqOptions } from "./reorder_by_seq.ts";

type Ev = InputEvent<number>;
const e = (seq: number | undefined, id?: string, device = "d1"): Ev => ({
  id: id ?? (seq === undefined ? `${device}:h${Math.random()}` : `${device}:s${seq}`),
  device,
  seq,
  time: seq ?? 0,
  data: seq ?? 0,
});
const applied = (ev: Ev): ProcessorItem<number> => ({ kind: "event", ev });
const dup = (ev: Ev): ProcessorItem<number> => ({ kind: "duplicate", ev });
const gap = (from: number, to: number, time: number, device = "d1"): ProcessorItem<number> => ({
  kind: "gap",
  gap: { device, from, to, missing: to - from + 1 },
  time,
});

function run(opts: Partial<ReorderBySeqOptions<number>>, input: string, values: Record<string, Ev>, expected: string, out: Record<string, ProcessorItem<number>>) {
  const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
  ts.run(({ cold, expectObservable }) => {
    expectObservable(cold(input, values).pipe(reorderBySeq({ scheduler: ts, tickMs: 1, reorderBuffer: 3, reorderTimeout: 5, ...opts }))).toBe(expected, out);
  });
}

describe("reorderBySeq", () => {
  it("applies in seq order and drops a repeated seq", () => {
    const a = e(0), b = e(2), c = e(1), d = e(1), f = e(3);
    run({}, "a-b-c-----d-f|", { a, b, c, d, f }, "a---(cb)--d-f|", {
      a: applied(a), c: applied(c), b: applied(b), d: dup(d), f: applied(f),
    });
  });

  it("drops a repeated ce-id (events without seq)", () => {
    const a = e(undefined, "d1:h1"), b = e(undefined, "d1:h2"), c = e(undefined, "d1:h1");
    run({}, "a-b-c|", { a, b, c }, "a-b-c|", { a: applied(a), b: applied(b), c: dup(c) });
  });

  it("skips a gap after reorderTimeout of processing time and reports it", () => {
    const a = e(0), b = e(3);
    run({}, "a-b--------|", { a, b }, "a------(gb)|", { a: applied(a), g: gap(1, 2, 3), b: applied(b) });
  });

  it("skips a gap when the reorder buffer overflows, then still applies the straggler once", () => {
    const a = e(0), b = e(2), c = e(3), d = e(4), f = e(5), s = e(1), s2 = e(1, "d1:other");
    run({ reorderTimeout: 1000 }, "a-b-c-d-f-------s-t|", { a, b, c, d, f, s, t: s2 }, "a-------(gbcdf)-s-t|", {
      a: applied(a), g: gap(1, 1, 2), b: applied(b), c: applied(c), d: applied(d), f: applied(f), s: applied(s), t: dup(s2),
    });
  });

  it("accepts earlier seqs of a device first seen mid-sequence", () => {
    const a = e(5), b = e(3), c = e(5, "d1:again");
    run({}, "a-b-c|", { a, b, c }, "a-b-c|", { a: applied(a), b: applied(b), c: dup(c) });
  });

  it("keeps devices apart and restores from its checkpoint form", () => {
    const s = new Sequencer<number>("d1", { reorderBuffer: 10, reorderTimeout: 5, dedupeIds: 4, missingRanges: 4 });
    s.offer(e(0), 0);
    s.offer(e(2), 0);
    s.offer(e(undefined, "d1:h9"), 0);
    const restored = new Sequencer<number>("d1", { reorderBuffer: 10, reorderTimeout: 5, dedupeIds: 4, missingRanges: 4 }, JSON.parse(JSON.stringify(s.toJSON())));
    expect(restored.pending).toBe(1);
    expect(restored.offer(e(undefined, "d1:h9"), 1).map((i) => i.kind)).toEqual(["duplicate"]);
    expect(restored.offer(e(1), 1).map((i) => i.kind)).toEqual(["event", "event"]);
    expect(restored.offer(e(0), 1).map((i) => i.kind)).toEqual(["duplicate"]);
    const x = e(0, undefined, "d2");
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold("a-b|", { a: e(0), b: x }).pipe(reorderBySeq({ scheduler: ts }))).toBe("a-b|", { a: applied(e(0)), b: applied(x) });
    });
  });

  it("a forgotten event (its processing failed) is applied again when a copy comes, once, and survives a checkpoint", () => {
    const opts = { reorderBuffer: 10, reorderTimeout: 5, dedupeIds: 4, missingRanges: 4 };
    const s = new Sequencer<number>("d1", opts);
    for (const i of [0, 1, 2]) s.offer(e(i), 0);
    const noSeq = e(undefined, "d1:h7");
    s.offer(noSeq, 0);
    s.forget(e(1));
    s.forget(noSeq);
    s.forget(e(5)); // never seen: nothing to forget
    const restored = new Sequencer<number>("d1", opts, JSON.parse(JSON.stringify(s.toJSON())));
    for (const q of [s, restored]) {
      expect(q.offer(e(1), 1).map((i) => i.kind)).toEqual(["event"]);
      expect(q.offer(e(1), 1).map((i) => i.kind)).toEqual(["duplicate"]);
      expect(q.offer(e(undefined, "d1:h7"), 1).map((i) => i.kind)).toEqual(["event"]);
      expect(q.offer(e(undefined, "d1:h7"), 1).map((i) => i.kind)).toEqual(["duplicate"]);
      expect(q.offer(e(2), 1).map((i) => i.kind)).toEqual(["duplicate"]);
      expect(q.offer(e(3), 1).map((i) => i.kind)).toEqual(["event"]);
    }
  });

  it("with an external tick, timeouts are checked only when the tick fires", () => {
    const a = e(0), b = e(3);
    const ts = new TestScheduler((x, y) => expect(x).toEqual(y));
    ts.run(({ cold, hot, expectObservable }) => {
      const tick = hot("----------------t--|");
      expectObservable(cold("a-b-----------------|", { a, b }).pipe(reorderBySeq({ scheduler: ts, reorderTimeout: 5, tick }))).toBe("a---------------(gb)|", {
        a: applied(a),
        g: gap(1, 2, 3),
        b: applied(b),
      });
    });
  });
});
