/**
 * Device models: what each simulated device measures at a given event time. Signals are plausible
 * rather than physical: a sensor's temperature follows the time of day, a vehicle drives between
 * waypoints along great circles at road speeds.
 */
import { bearingDeg, destination, distanceM, type LatLon } from "./geo.ts";
import type { Random } from "./random.ts";

export type DeviceKind = "sensor" | "vehicle" | "owntracks" | "zigbee";

/** A canonical reading's metrics (CONTRACT section 2). */
export type Metrics = Record<string, number | boolean>;

/** A canonical location fix without ts/seq/id. */
export interface Fix {
  lat: number;
  lon: number;
  alt: number;
  speed: number;
  heading: number;
  accuracy: number;
}

const HOUR_MS = 3_600_000;
const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** A room or outdoor sensor: temperature (diurnal sine + noise), humidity, a draining battery, a door. */
export class SensorModel {
  private readonly base: number;
  private readonly amplitude: number;
  private readonly humidityBase: number;
  private battery: number;
  private readonly drainPerSec: number;
  private door = false;

  constructor(private readonly rnd: Random) {
    this.base = rnd.uniform(16, 23);
    this.amplitude = rnd.uniform(2, 6);
    this.humidityBase = rnd.uniform(35, 60);
    this.battery = rnd.uniform(60, 100);
    // Fast enough to see on a dashboard within an hour, slow enough to look like a battery.
    this.drainPerSec = rnd.uniform(0.0005, 0.003);
  }

  sample(ts: number, dtSec: number): Metrics {
    const r = this.rnd;
    // Peaks mid-afternoon (15:00 UTC), lowest at 03:00.
    const hourOfDay = (ts % (24 * HOUR_MS)) / HOUR_MS;
    const diurnal = Math.sin((2 * Math.PI * (hourOfDay - 9)) / 24);
    const temperature = this.base + this.amplitude * diurnal + r.gaussian(0, 0.15);
    const humidity = Math.min(100, Math.max(0, this.humidityBase - 1.8 * (temperature - this.base) + r.gaussian(0, 0.8)));
    this.battery -= this.drainPerSec * dtSec * r.uniform(0.5, 1.5);
    if (this.battery < 5) this.battery = 100; // someone swapped the battery
    // A two-state Markov chain: doors open rarely and close soon.
    this.door = this.door ? !r.chance(0.3) : r.chance(0.02);
    return {
      temperature: round(temperature, 2),
      humidity: round(humidity, 1),
      battery: round(this.battery, 2),
      door_open: this.door,
    };
  }
}

/** A zigbee2mqtt climate sensor: a flat object of numbers and booleans, no timestamp. */
export class ZigbeeModel {
  private readonly inner: SensorModel;
  private readonly linkquality: number;

  constructor(rnd: Random) {
    this.inner = new SensorModel(rnd);
    this.linkquality = rnd.int(40, 255);
  }

  sample(ts: number, dtSec: number): Metrics {
    const m = this.inner.sample(ts, dtSec);
    return { temperature: m.temperature!, humidity: m.humidity!, battery: Math.round(m.battery as number), contact: !m.door_open, linkquality: this.linkquality };
  }
}

/** Cities the fleet drives around (lat, lon, altitude in metres). */
const DEPOTS: ReadonlyArray<LatLon & { alt: number }> = [
  { lat: 52.52, lon: 13.405, alt: 34 }, // Berlin
  { lat: 48.137, lon: 11.575, alt: 519 }, // Munich
  { lat: 53.551, lon: 9.993, alt: 8 }, // Hamburg
  { lat: 50.938, lon: 6.96, alt: 53 }, // Cologne
];

/**
 * A vehicle driving a loop of waypoints around a depot along great circles, at 5-33 m/s with
 * stops at each waypoint.
 */
export class VehicleModel {
  private pos: LatLon;
  private readonly alt: number;
  private readonly route: LatLon[];
  private next = 0;
  private speed: number;
  private readonly cruise: number;
  private dwell = 0;
  private heading = 0;

  constructor(private readonly rnd: Random) {
    const depot = rnd.pick(DEPOTS);
    this.alt = depot.alt;
    const n = rnd.int(3, 6);
    this.route = Array.from({ length: n }, () => destination(depot, rnd.uniform(0, 360), rnd.uniform(2_000, 25_000)));
    this.pos = { lat: this.route[0]!.lat, lon: this.route[0]!.lon };
    this.next = 1 % n;
    this.cruise = rnd.uniform(8, 25);
    this.speed = this.cruise;
  }

  /** Moves for dtSec seconds and returns the new fix. */
  sample(_ts: number, dtSec: number): Fix {
    const r = this.rnd;
    if (this.dwell > 0) {
      this.dwell -= dtSec;
      this.speed = 0;
    } else {
      this.speed = Math.min(33, Math.max(3, this.speed + r.gaussian(0, 1.5) + 0.2 * (this.cruise - this.speed)));
      let left = this.speed * dtSec;
      while (left > 0) {
        const target = this.route[this.next]!;
        const d = distanceM(this.pos, target);
        this.heading = bearingDeg(this.pos, target);
        if (d > left) {
          this.pos = destination(this.pos, this.heading, left);
          left = 0;
        } else {
          this.pos = { lat: target.lat, lon: target.lon };
          left -= d;
          this.next = (this.next + 1) % this.route.length;
          this.dwell = r.uniform(5, 60); // a delivery stop
          break;
        }
      }
    }
    return {
      lat: round(this.pos.lat, 6),
      lon: round(this.pos.lon, 6),
      alt: round(this.alt + r.gaussian(0, 2), 1),
      speed: round(this.speed, 2),
      heading: round(this.heading, 1),
      accuracy: round(r.uniform(3, 12), 1),
    };
  }
}
