/**
 * Location enrichment of one device (CONTRACT section 6): distance from the previous applied fix
 * (haversine) and speed (the device's own, else distance / time). A fix older than the last applied
 * one is marked out of order and not used for distance or speed.
 */
import type { LocationData, LocationEnrichedData } from "../../core/results.ts";
import type { InputEvent } from "./events.ts";

/** Mean Earth radius (IUGG), metres. */
export const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance in metres between two points given in degrees. */
export function haversine(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** The checkpointed form: the last applied fix. */
export interface LocationTrackerState {
  last?: { ts: number; lat: number; lon: number };
}

export class LocationTracker {
  private last: LocationTrackerState["last"];

  constructor(
    readonly device: string,
    state?: LocationTrackerState,
  ) {
    this.last = state?.last ? { ...state.last } : undefined;
  }

  /** Enriches one fix (applied in per-device order). */
  enrich(ev: InputEvent<LocationData>): LocationEnrichedData {
    const d = ev.data;
    const out: LocationEnrichedData = { device: this.device, ts: ev.time, lat: d.lat, lon: d.lon, outOfOrder: false };
    if (d.alt !== undefined) out.alt = d.alt;
    if (d.accuracy !== undefined) out.accuracy = d.accuracy;
    if (d.heading !== undefined) out.heading = d.heading;
    const prev = this.last;
    if (prev && ev.time < prev.ts) {
      out.outOfOrder = true;
      return out;
    }
    if (prev) {
      const dist = haversine(prev.lat, prev.lon, d.lat, d.lon);
      out.distance_m = dist;
      const dt = (ev.time - prev.ts) / 1000;
      if (d.speed !== undefined) out.speed_mps = d.speed;
      else if (dt > 0) out.speed_mps = dist / dt;
    } else if (d.speed !== undefined) {
      out.speed_mps = d.speed;
    }
    this.last = { ts: ev.time, lat: d.lat, lon: d.lon };
    return out;
  }

  toJSON(): LocationTrackerState {
    return { last: this.last };
  }
}
