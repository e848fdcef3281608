/**
 * `enrichLocation`: distance and speed per device as an RxJS operator over {@link LocationTracker}.
 */
import { Observable, type OperatorFunction } from "rxjs";
import type { LocationData } from "../../core/results.ts";
import type { ProcessorItem } from "../state/events.ts";
import { LocationTracker } from "../state/location_tracker.ts";

export interface EnrichLocationOptions {
  /** Per-device state; pass your own to checkpoint it. */
  store?: Map<string, LocationTracker>;
  onTouch?: (device: string) => void;
}

export const DEFAULT_ENRICH_LOCATION_OPTIONS: EnrichLocationOptions = {};

type Item = ProcessorItem<LocationData>;

/**
 * Turns each in-order `{kind: "event"}` fix into `{kind: "location"}` with `distance_m` and
 * `speed_mps` (or `outOfOrder: true` for a fix older than the last applied one); other items pass.
 *
 * @example
 * fixes$.pipe(reorderBySeq(), enrichLocation()).subscribe((i) => i.kind === "location" && publish(i.result));
 */
export function enrichLocation(options: Partial<EnrichLocationOptions> = {}): OperatorFunction<Item, Item> {
  const opts = { ...DEFAULT_ENRICH_LOCATION_OPTIONS, ...options };
  return (source) =>
    new Observable<Item>((subscriber) => {
      const store = opts.store ?? new Map<string, LocationTracker>();
      return source.subscribe({
        next(item) {
          if (item.kind !== "event") {
            subscriber.next(item);
            return;
          }
          let t = store.get(item.ev.device);
          if (!t) {
            t = new LocationTracker(item.ev.device);
            store.set(item.ev.device, t);
          }
          let result;
          try {
            result = t.enrich(item.ev);
          } catch (e) {
            subscriber.next({ kind: "failed", ev: item.ev, error: (e as Error).message });
            return;
          }
          opts.onTouch?.(item.ev.device);
          subscriber.next({ kind: "location", result, ev: item.ev });
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
