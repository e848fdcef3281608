import { from, lastValueFrom, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import type { LocationData } from "../../core/results.ts";
import type { ProcessorItem } from "../state/events.ts";
import { haversine } from "../state/location_tracker.ts";
import { enrichLocation } from "./enrich_location.ts";

const fix = (t: number, lat: number, lon: number, extra: Partial<LocationData> = {}): ProcessorItem<LocationData> => ({
  kind: "event",
  ev: { id: `v1:s${t}`, device: "v1", time: t, data: { lat, lon, ...extra } },
});

describe("enrichLocation", () => {
  it("haversine: one degree of longitude on the equator is R * pi / 180", () => {
    expect(haversine(0, 0, 0, 1)).toBeCloseTo((6_371_008.8 * Math.PI) / 180, 6);
    expect(haversine(48.1, 11.5, 48.1, 11.5)).toBe(0);
  });

  it("adds distance and speed from the previous applied fix; an older fix is out of order and ignored", async () => {
    const items = [fix(0, 0, 0), fix(10_000, 0, 0.001), fix(5_000, 1, 1), fix(20_000, 0, 0.002, { speed: 3, heading: 90 })];
    const out = await lastValueFrom(from(items).pipe(enrichLocation(), toArray()));
    const r = out.map((i) => (i.kind === "location" ? i.result : undefined));
    const step = haversine(0, 0, 0, 0.001);
    expect(r[0]).toEqual({ device: "v1", ts: 0, lat: 0, lon: 0, outOfOrder: false });
    expect(r[1]!.distance_m).toBeCloseTo(step, 9);
    expect(r[1]!.speed_mps).toBeCloseTo(step / 10, 9);
    expect(r[2]).toEqual({ device: "v1", ts: 5000, lat: 1, lon: 1, outOfOrder: true });
    expect(r[3]!.distance_m).toBeCloseTo(step, 6);
    expect(r[3]!.speed_mps).toBe(3);
    expect(r[3]!.heading).toBe(90);
  });
});
