// Proves: for random event streams (bounded disorder, duplicates, seq gaps, late events, idle
// devices) reorderBySeq + eventTimeWindow end with exactly the windows of a brute-force oracle.
import { mulberry32 } from "../../core/random.ts";
import fc from "fast-check";
import { Subject, VirtualAction, VirtualTimeScheduler } from "rxjs";
import { describe, expect, it } from "vitest";
import type { WindowSpec } from "../../core/config.ts";
import type { MetricAggregate, SensorReadingData } from "../../core/results.ts";
import { diffWindows, oracleKey, windowOracle, type OracleEvent } from "../pipelines/window_oracle.ts";
import type { InputEvent, ProcessorItem } from "../state/events.ts";
import { eventTimeWindow } from "./event_time_window.ts";
import { reorderBySeq } from "./reorder_by_seq.ts";

const prng = mulberry32;

interface Scenario {
  seed: number;
  devices: number;
  maxEvents: number;
  jitter: number;
  dupRate: number;
  lateRate: number;
  gapRate: number;
  pauseRate: number;
}

const WINDOWS: WindowSpec[] = [
  { type: "tumbling", size: 100 },
  { type: "hopping", size: 200, hop: 50 },
  { type: "session", gap: 30 },
];
const OPTS = { windows: WINDOWS, maxOutOfOrder: 20, allowedLateness: 100 };

/** Builds one device's events in arrival order. */
function deviceEvents(rnd: () => number, device: string, s: Scenario): OracleEvent[] {
  const useSeq = rnd() < 0.6;
  const n = 1 + Math.floor(rnd() * s.maxEvents);
  const step = 1 + Math.floor(rnd() * 25);
  const evs: OracleEvent[] = [];
  for (let i = 0; i < n; i++) {
    if (useSeq && i > 0 && rnd() < s.gapRate) continue; // this seq never arrives
    let time = 1000 + i * step + Math.round((rnd() * 2 - 1) * s.jitter);
    if (rnd() < s.lateRate) time -= 100 + Math.floor(rnd() * 400);
    const metrics: Record<string, number | boolean> = { v: Math.round((rnd() * 200 - 100) * 100) / 100 };
    if (rnd() < 0.3) metrics.flag = rnd() < 0.5;
    if (rnd() < 0.2) metrics.big = 1e6 + rnd();
    evs.push({ id: useSeq ? `${device}:s${i}` : `${device}:h${i}`, device, seq: useSeq ? i : undefined, time, metrics });
  }
  // bounded disorder: local swaps, never in front of the first event
  for (let i = 2; i < evs.length; i++) if (rnd() < 0.3) [evs[i - 1], evs[i]] = [evs[i]!, evs[i - 1]!];
  // duplicates shortly after their original
  const out: OracleEvent[] = [];
  const later: Array<{ at: number; e: OracleEvent }> = [];
  evs.forEach((e, i) => {
    out.push(e);
    if (rnd() < s.dupRate) later.push({ at: i + 1 + Math.floor(rnd() * 3), e: { ...e } });
    for (const l of later.filter((x) => x.at === i)) out.push(l.e);
  });
  for (const l of later.filter((x) => x.at >= evs.length)) out.push(l.e);
  return out;
}

function runScenario(s: Scenario) {
  const rnd = prng(s.seed);
  const perDevice = Array.from({ length: s.devices }, (_, d) => deviceEvents(rnd, `dev${d}`, s));
  // interleave devices, with pauses longer than the idle timeout
  const arrivals: Array<{ frame: number; e: OracleEvent }> = [];
  const cursors = perDevice.map(() => 0);
  let frame = 0;
  for (;;) {
    const live = cursors.map((c, d) => (c < perDevice[d]!.length ? d : -1)).filter((d) => d >= 0);
    if (live.length === 0) break;
    const d = live[Math.floor(rnd() * live.length)]!;
    frame += rnd() < s.pauseRate ? 60 : 1;
    arrivals.push({ frame, e: perDevice[d]![cursors[d]!++]! });
  }
  const sched = new VirtualTimeScheduler(VirtualAction, 10_000_000);
  const input = new Subject<InputEvent<SensorReadingData>>();
  const items: ProcessorItem<SensorReadingData>[] = [];
  input
    .pipe(
      reorderBySeq<SensorReadingData>({ scheduler: sched, tickMs: 5, reorderTimeout: 1e9, reorderBuffer: 1000, flushOnComplete: true }),
      eventTimeWindow({ ...OPTS, scheduler: sched, tickMs: 5, idleTimeout: 40, flushOnComplete: true }),
    )
    .subscribe((i) => items.push(i));
  for (const a of arrivals) {
    const ev: InputEvent<SensorReadingData> = { id: a.e.id, device: a.e.device, seq: a.e.seq, time: a.e.time, data: { metrics: a.e.metrics } };
    sched.schedule(() => input.next(ev), a.frame);
  }
  sched.schedule(() => input.complete(), frame + 1);
  sched.flush();

  const latest = new Map<string, { end: number; revision: number; metrics: Record<string, MetricAggregate> }>();
  const revisionErrors: string[] = [];
  for (const it of items) {
    if (it.kind !== "window") continue;
    const r = it.result;
    const k = oracleKey(r.device, r.window, r.start);
    const expectedRev = (latest.get(k)?.revision ?? -1) + 1;
    if (r.revision !== expectedRev) revisionErrors.push(`${k}: revision ${r.revision}, expected ${expectedRev}`);
    latest.set(k, { end: r.end, revision: r.revision, metrics: r.metrics });
  }
  for (const [k, w] of latest) if (Object.keys(w.metrics).length === 0) latest.delete(k); // superseded sessions
  const oracle = windowOracle(
    arrivals.map((a) => a.e),
    OPTS,
  );
  return {
    diff: diffWindows(latest, oracle.windows),
    revisionErrors,
    late: items.filter((i) => i.kind === "late").length,
    duplicates: items.filter((i) => i.kind === "duplicate").length,
    oracle,
  };
}

describe("windows match a brute-force oracle", () => {
  it("for random streams with disorder, duplicates, gaps, late events and idle devices", () => {
    let sawLate = 0, sawDup = 0, sawWindows = 0;
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          devices: fc.integer({ min: 1, max: 5 }),
          maxEvents: fc.integer({ min: 1, max: 80 }),
          jitter: fc.integer({ min: 0, max: 40 }),
          dupRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
          lateRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
          gapRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
          pauseRate: fc.double({ min: 0, max: 0.05, noNaN: true }),
        }),
        (s) => {
          const r = runScenario(s);
          expect(r.diff).toEqual([]);
          expect(r.revisionErrors).toEqual([]);
          expect(r.late).toBe(r.oracle.late);
          expect(r.duplicates).toBe(r.oracle.duplicates);
          sawLate += r.late;
          sawDup += r.duplicates;
          sawWindows += r.oracle.windows.size;
        },
      ),
      { numRuns: 300 },
    );
    // the generator really exercised the interesting paths
    expect(sawLate).toBeGreaterThan(0);
    expect(sawDup).toBeGreaterThan(0);
    expect(sawWindows).toBeGreaterThan(1000);
  });
});
