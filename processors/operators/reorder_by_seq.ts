/**
 * `reorderBySeq`: per-device ordering and de-duplication as an RxJS operator over {@link Sequencer}.
 */
import { asyncScheduler, Observable, type Observable as Obs, type OperatorFunction, type SchedulerAction, type SchedulerLike, type Subscription } from "rxjs";
import type { InputEvent, ProcessorItem } from "../state/events.ts";
import { DEFAULT_SEQUENCER_OPTIONS, Sequencer, type SequencerOptions } from "../state/sequencer.ts";

export interface ReorderBySeqOptions<D> extends SequencerOptions {
  /** Processing-time source and timer for the reorder timeout. */
  scheduler: SchedulerLike;
  /** How often buffered devices are checked for an expired gap (ms). */
  tickMs: number;
  /** On completion, apply what is still buffered (reporting its gaps) instead of keeping it. */
  flushOnComplete: boolean;
  /** Per-device state; pass your own to checkpoint it. */
  store?: Map<string, Sequencer<D>>;
  /** Called whenever a device's state changed (to mark it for the next checkpoint). */
  onTouch?: (device: string) => void;
  /**
   * External trigger for the timeout check, replacing the internal timer: a checkpointing caller
   * runs processing-time rules only where it can record their effects.
   */
  tick?: Obs<unknown>;
}

export const DEFAULT_REORDER_BY_SEQ_OPTIONS: ReorderBySeqOptions<unknown> = {
  ...DEFAULT_SEQUENCER_OPTIONS,
  scheduler: asyncScheduler,
  tickMs: 250,
  flushOnComplete: false,
};

/**
 * Emits each device's events in `seq` order (events without `seq` as they come), drops duplicates
 * as `{kind: "duplicate"}` and reports skipped seqs as `{kind: "gap"}` once the reorder buffer is
 * full or its oldest event waited `reorderTimeout`.
 *
 * @example
 * events$.pipe(reorderBySeq({ reorderTimeout: 5000 })).subscribe((item) => {
 *   if (item.kind === "event") apply(item.ev);
 * });
 */
export function reorderBySeq<D>(options: Partial<ReorderBySeqOptions<D>> = {}): OperatorFunction<InputEvent<D>, ProcessorItem<D>> {
  const opts = { ...(DEFAULT_REORDER_BY_SEQ_OPTIONS as ReorderBySeqOptions<D>), ...options };
  return (source) =>
    new Observable<ProcessorItem<D>>((subscriber) => {
      const store = opts.store ?? new Map<string, Sequencer<D>>();
      const waiting = new Set<string>();
      const scratch: ProcessorItem<D>[] = [];
      let timer: Subscription | undefined;
      const emit = (items: ProcessorItem<D>[]) => {
        for (const it of items) subscriber.next(it);
      };
      const check = () => {
        const now = opts.scheduler.now();
        for (const device of waiting) {
          const s = store.get(device)!;
          const items = s.expire(now);
          if (items.length > 0) opts.onTouch?.(device);
          if (s.pending === 0) waiting.delete(device);
          emit(items);
        }
      };
      const tick = function (this: SchedulerAction<unknown>) {
        check();
        if (waiting.size > 0) this.schedule(undefined, opts.tickMs);
        else timer = undefined;
      };
      // A restored store may hold events waiting for a gap: their timeout runs again.
      for (const [d, s] of store) if (s.pending > 0) waiting.add(d);
      const external = opts.tick?.subscribe(check);
      if (waiting.size > 0 && !external) timer = opts.scheduler.schedule(tick, opts.tickMs);
      const sub = source.subscribe({
        next(ev) {
          let s = store.get(ev.device);
          if (!s) {
            s = new Sequencer<D>(ev.device, opts);
            store.set(ev.device, s);
          }
          // One reused array instead of one per event (re-entrant safe: only the tail is ours).
          const from = scratch.length;
          s.offer(ev, opts.scheduler.now(), scratch);
          opts.onTouch?.(ev.device);
          if (s.pending > 0) {
            waiting.add(ev.device);
            if (!external) timer ??= opts.scheduler.schedule(tick, opts.tickMs);
          }
          for (let i = from; i < scratch.length; i++) subscriber.next(scratch[i]!);
          scratch.length = from;
        },
        error: (e) => subscriber.error(e),
        complete() {
          if (opts.flushOnComplete) {
            for (const [device, s] of store) {
              if (s.pending === 0) continue;
              opts.onTouch?.(device);
              emit(s.flush());
            }
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
