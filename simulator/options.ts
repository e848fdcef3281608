/**
 * What a simulated fleet looks like and how it misbehaves. `fromConfig` validates loose values (from
 * the CLI or a test) and returns complete options; `createSimulator` takes them as they are.
 */
import { SimulatorOptionError } from "./errors.ts";

/** Options of the device-fleet simulator. Fractions are per message, in [0, 1]. */
export interface SimulatorOptions {
  /** MQTT broker URL. */
  url: string;
  /** Canonical sensors on `devices/<id>/telemetry` (temperature, humidity, battery, door_open). */
  sensors: number;
  /** Vehicles on `devices/<id>/location`. */
  vehicles: number;
  /** OwnTracks phones on `owntracks/<user>/phone`. */
  owntracks: number;
  /** zigbee2mqtt climate sensors on `zigbee2mqtt/<id>` (no timestamps: the gateway stamps them). */
  zigbee: number;
  /** Readings per second per device. */
  rate: number;
  /** Stop after this much simulated time (ms); undefined = until `count` or `stop()`. */
  duration?: number;
  /** Stop after this many MQTT messages; undefined = until `duration` or `stop()`. */
  count?: number;
  /** Seed of every random choice: the same seed and options give the same messages. */
  seed: number;
  /** Event time (epoch ms) of the first reading; default: the time `run()` starts. */
  startTs?: number;
  /** First `seq` of every device; default `startTs`, so a later run's seqs continue above an earlier run's (up to 1000 readings/s). */
  seqStart?: number;
  /** Prefix of every device id, e.g. `t1-` (keeps runs and tests apart). */
  prefix: string;
  /** Fraction of readings held back and sent after 1..`disorderWindow` later readings of the same device. */
  disorder: number;
  disorderWindow: number;
  /** Fraction of messages sent a second time, byte for byte. */
  duplicates: number;
  /** Fraction of ticks on which a device also sends a bad message (bad JSON, schema violation, bad id, old timestamp). */
  malformed: number;
  /** Chance per device and simulated second of going offline; readings are buffered and sent late, as batches. */
  offline: number;
  /** How long an offline spell lasts (ms). */
  offlineDuration: number;
  /** Largest batch a device sends when it comes back online. */
  maxBatch: number;
  qos: 0 | 1 | 2;
  /** 4 = MQTT 3.1.1 (nats-server's MQTT listener speaks only this), 5 = MQTT 5. */
  protocolVersion: 4 | 5;
  clientId?: string;
  username?: string;
  password?: string;
  /** Publishes awaiting their PUBACK, at most. */
  maxInFlight: number;
  /** How often to report progress (ms); 0 = never. */
  progressInterval: number;
  /** Receives the progress lines and the summary; default stderr. */
  write?: (line: string) => void;
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = {
  url: "mqtt://127.0.0.1:1883",
  sensors: 10,
  vehicles: 2,
  owntracks: 0,
  zigbee: 0,
  rate: 1,
  seed: 1,
  prefix: "",
  disorder: 0,
  disorderWindow: 5,
  duplicates: 0,
  malformed: 0,
  offline: 0,
  offlineDuration: 30_000,
  maxBatch: 100,
  qos: 1,
  protocolVersion: 4,
  maxInFlight: 1000,
  progressInterval: 1000,
};

const fraction = (o: Partial<SimulatorOptions>, k: keyof SimulatorOptions) => {
  const v = o[k];
  if (v !== undefined && !(typeof v === "number" && v >= 0 && v <= 1)) throw new SimulatorOptionError(`${k} must be a fraction between 0 and 1, got ${String(v)}`, k);
};
const count = (o: Partial<SimulatorOptions>, k: keyof SimulatorOptions, min: number) => {
  const v = o[k];
  if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= min)) throw new SimulatorOptionError(`${k} must be an integer >= ${min}, got ${String(v)}`, k);
};

/**
 * Validates given options and merges them over the defaults.
 * @throws SimulatorOptionError naming the first bad option
 * @example fromConfig({ sensors: 5, rate: 10, duration: 60_000, seed: 7 })
 */
export function fromConfig(given: Partial<SimulatorOptions>): SimulatorOptions {
  const o = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<SimulatorOptions>;
  for (const k of ["sensors", "vehicles", "owntracks", "zigbee"] as const) count(o, k, 0);
  count(o, "disorderWindow", 1);
  count(o, "maxBatch", 1);
  count(o, "maxInFlight", 1);
  count(o, "count", 1);
  count(o, "seed", 0);
  for (const k of ["disorder", "duplicates", "malformed", "offline"] as const) fraction(o, k);
  if (o.rate !== undefined && !(o.rate > 0 && o.rate <= 1000)) throw new SimulatorOptionError(`rate must be in (0, 1000] readings per second per device, got ${o.rate}`, "rate");
  for (const k of ["duration", "offlineDuration", "progressInterval", "startTs", "seqStart"] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new SimulatorOptionError(`${k} must be a non-negative number of milliseconds, got ${String(v)}`, k);
  }
  if (o.prefix !== undefined && !/^[A-Za-z0-9_-]{0,32}$/.test(o.prefix)) throw new SimulatorOptionError(`prefix must be letters, digits, _ or - (it starts device ids), got "${o.prefix}"`, "prefix");
  if (o.qos !== undefined && ![0, 1, 2].includes(o.qos)) throw new SimulatorOptionError(`qos must be 0, 1 or 2, got ${o.qos}`, "qos");
  if (o.protocolVersion !== undefined && ![4, 5].includes(o.protocolVersion)) throw new SimulatorOptionError(`protocolVersion must be 4 (MQTT 3.1.1) or 5, got ${o.protocolVersion}`, "protocolVersion");
  if (o.url !== undefined && !/^(mqtts?|wss?|tcp|ssl):\/\//.test(o.url)) throw new SimulatorOptionError(`url must be an MQTT URL such as mqtt://127.0.0.1:1883, got "${o.url}"`, "url");
  const opts = { ...DEFAULT_SIMULATOR_OPTIONS, ...o };
  if (opts.sensors + opts.vehicles + opts.owntracks + opts.zigbee === 0) throw new SimulatorOptionError("the fleet is empty: give at least one of sensors, vehicles, owntracks, zigbee", "sensors");
  return opts;
}
