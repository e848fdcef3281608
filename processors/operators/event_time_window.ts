/**
 * `eventTimeWindow`: per-device event-time windows as an RxJS operator over {@link DeviceWindows}.
 */
import { asyncScheduler, Observable, type Observable as Obs, type OperatorFunction, type SchedulerAction, type SchedulerLike, type Subscription } from "rxjs";
import type { SensorReadingData } from "../../core/results.ts";
import { DEFAULT_WINDOW_OPTIONS, DeviceWindows, type WindowOptions } from "../state/device_windows.ts";
import type { ProcessorItem } from "../state/events.ts";

export interface EventTimeWindowOptions extends WindowOptions {
  /** Processing-time source and timer for the idle timeout. */
  scheduler: SchedulerLike;
  /** How often devices with unemitted windows are checked for idleness (ms). */
  tickMs: number;
  /** On completion, emit every window not yet emitted (end of a finite input). */
  flushOnComplete: boolean;
  /** Per-device state; pass your own to checkpoint it. */
  store?: Map<string, DeviceWindows>;
  onTouch?: (device: string) => void;
  /** External trigger for the idle check, replacing the internal timer (see reorderBySeq). */
  tick?: Obs<unknown>;
}

export const DEFAULT_EVENT_TIME_WINDOW_OPTIONS: EventTimeWindowOptions = {
  ...DEFAULT_WINDOW_OPTIONS,
  scheduler: asyncScheduler,
  tickMs: 250,
  flushOnComplete: false,
};

type Item = ProcessorItem<SensorReadingData>;

/**
 * Applies `{kind: "event"}` readings (already in per-device order) to the device's windows and
 * emits `{kind: "window"}` results and `{kind: "late"}` rejects; every other item passes through.
 *
 * @example
 * events$.pipe(
 *   reorderBySeq(),
 *   eventTimeWindow({ windows: [{ type: "tumbling", size: 60_000 }, { type: "session", gap: 30_000 }] }),
 * ).subscribe((item) => item.kind === "window" && publish(item.result));
 */
export function eventTimeWindow(options: Partial<EventTimeWindowOptions> = {}): OperatorFunction<Item, Item> {
  const opts = { ...DEFAULT_EVENT_TIME_WINDOW_OPTIONS, ...options };
  return (source) =>
    new Observable<Item>((subscriber) => {
      const store = opts.store ?? new Map<string, DeviceWindows>();
      // Devices whose windows hold changes not yet emitted: the only ones an idle close can affect.
      const open = new Set<string>();
      for (const [d, w] of store) if (w.hasDirty) open.add(d);
      let timer: Subscription | undefined;
      const out: Item[] = [];
      const flushOut = () => {
        while (out.length > 0) subscriber.next(out.shift()!);
      };
      const check = () => {
        const now = opts.scheduler.now();
        for (const device of open) {
          const w = store.get(device)!;
          const before = out.length;
          w.idle(now, out);
          if (out.length > before) opts.onTouch?.(device);
          if (!w.hasDirty) open.delete(device);
        }
        flushOut();
      };
      const tick = function (this: SchedulerAction<unknown>) {
        check();
        if (open.size > 0) this.schedule(undefined, opts.tickMs);
        else timer = undefined;
      };
      const external = opts.tick?.subscribe(check);
      if (open.size > 0 && !external) timer = opts.scheduler.schedule(tick, opts.tickMs);
      const sub = source.subscribe({
        next(item) {
          if (item.kind !== "event") {
            subscriber.next(item);
            return;
          }
          const ev = item.ev;
          let w = store.get(ev.device);
          if (!w) {
            w = new DeviceWindows(ev.device, opts, opts.scheduler.now());
            store.set(ev.device, w);
          }
          try {
            w.apply(ev, opts.scheduler.now(), out);
          } catch (e) {
            out.push({ kind: "failed", ev, error: (e as Error).message });
          }
          opts.onTouch?.(ev.device);
          open.add(ev.device);
          if (!external) timer ??= opts.scheduler.schedule(tick, opts.tickMs);
          flushOut();
        },
        error: (e) => subscriber.error(e),
        complete() {
          if (opts.flushOnComplete) {
            for (const [device, w] of store) {
              const before = out.length;
              w.flush(out);
              if (out.length > before) opts.onTouch?.(device);
            }
            flushOut();
          }
          subscriber.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        timer?.unsubscribe();
        external?.unsubscribe();
      };
    });
}
