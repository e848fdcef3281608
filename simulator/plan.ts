/**
 * The message plan: every MQTT message a seed produces, in send order, with the time (relative to the
 * start) it is due. The plan depends only on the options (seed, fleet, rate, faults, `startTs`), never
 * on the wall clock, so tests can compute exactly what a run sends.
 */
import type { DlqReason } from "../core/errors.ts";
import { SensorModel, VehicleModel, ZigbeeModel, type Fix, type Metrics } from "./devices.ts";
import type { SimulatorOptions } from "./options.ts";
import { createRandom, type Random } from "./random.ts";

/** One valid event a message carries, as the gateway should decode it. */
export interface SimEvent {
  device: string;
  type: "SensorReadingRecorded" | "LocationUpdated";
  /** Event time, epoch ms; undefined for zigbee2mqtt (the gateway's receive time). */
  ts?: number;
  seq?: number;
  id?: string;
  metrics?: Metrics;
  location?: Fix;
}

export type PlannedKind = "reading" | "batch" | "location" | "owntracks" | "zigbee" | "duplicate" | "malformed";

/** One MQTT message of the plan. */
export interface PlannedMessage {
  /** When it is due, ms after the start. */
  at: number;
  topic: string;
  payload: string;
  /** The device id the gateway should derive (for `malformed` with `invalid_device_id`, the bad one). */
  device: string;
  kind: PlannedKind;
  /** Valid events it carries; empty for `duplicate` (already counted) and `malformed`. */
  events: SimEvent[];
  /** For `malformed`: the DLQ reason the gateway should give. */
  reason?: DlqReason;
  /** Held back by the disorder fault: later readings of its device went first. */
  delayed?: boolean;
  /** Sent late by an offline burst. */
  buffered?: boolean;
}

type PlanOptions = Pick<
  SimulatorOptions,
  | "sensors" | "vehicles" | "owntracks" | "zigbee" | "rate" | "duration" | "count" | "seed" | "prefix"
  | "disorder" | "disorderWindow" | "duplicates" | "malformed" | "offline" | "offlineDuration" | "maxBatch"
> & { startTs: number; seqStart?: number };

interface Device {
  id: string;
  kind: "sensor" | "vehicle" | "owntracks" | "zigbee";
  topic: string;
  sample(ts: number, dtSec: number): Metrics | Fix;
  faults: Random;
  /** Readings held by the disorder fault, with how many more readings pass them first. */
  held: Array<{ msg: PlannedMessage; after: number }>;
  offlineUntil: number;
  buffer: PlannedMessage[];
}

const pad = (i: number) => String(i + 1).padStart(4, "0");
const DAY_MS = 86_400_000;

/** The fleet of a run: ids, topics and models, each device with its own random streams. */
function buildFleet(o: PlanOptions): Device[] {
  const out: Device[] = [];
  const add = (id: string, kind: Device["kind"], topic: string, make: (r: Random) => { sample(ts: number, dt: number): Metrics | Fix }) => {
    const model = make(createRandom(o.seed, `${id}/signal`));
    out.push({ id, kind, topic, sample: (ts, dt) => model.sample(ts, dt), faults: createRandom(o.seed, `${id}/faults`), held: [], offlineUntil: -1, buffer: [] });
  };
  for (let i = 0; i < o.sensors; i++) {
    const id = `${o.prefix}sensor-${pad(i)}`;
    add(id, "sensor", `devices/${id}/telemetry`, (r) => new SensorModel(r));
  }
  for (let i = 0; i < o.vehicles; i++) {
    const id = `${o.prefix}vehicle-${pad(i)}`;
    add(id, "vehicle", `devices/${id}/location`, (r) => new VehicleModel(r));
  }
  for (let i = 0; i < o.owntracks; i++) {
    const user = `${o.prefix}driver-${pad(i)}`;
    add(`${user}-phone`, "owntracks", `owntracks/${user}/phone`, (r) => new VehicleModel(r));
  }
  for (let i = 0; i < o.zigbee; i++) {
    const id = `${o.prefix}zb-${pad(i)}`;
    add(id, "zigbee", `zigbee2mqtt/${id}`, (r) => new ZigbeeModel(r));
  }
  return out;
}

/** The message a device sends for one sample. */
function message(d: Device, at: number, ts: number, seq: number, sample: Metrics | Fix): PlannedMessage {
  switch (d.kind) {
    case "sensor": {
      const metrics = sample as Metrics;
      const body = { ts, seq, id: `r-${seq}`, metrics };
      return { at, topic: d.topic, payload: JSON.stringify(body), device: d.id, kind: "reading", events: [{ device: d.id, type: "SensorReadingRecorded", ts, seq, id: body.id, metrics }] };
    }
    case "vehicle": {
      const f = sample as Fix;
      const body = { ts, seq, id: `l-${seq}`, ...f };
      return { at, topic: d.topic, payload: JSON.stringify(body), device: d.id, kind: "location", events: [{ device: d.id, type: "LocationUpdated", ts, seq, id: body.id, location: f }] };
    }
    case "owntracks": {
      const f = sample as Fix;
      const tst = Math.floor(ts / 1000);
      const body = { _type: "location", tid: "ph", tst, lat: f.lat, lon: f.lon, alt: Math.round(f.alt), vel: Math.round(f.speed * 3.6), cog: Math.round(f.heading), acc: Math.round(f.accuracy) };
      const location: Fix = { lat: f.lat, lon: f.lon, alt: body.alt, speed: body.vel / 3.6, heading: body.cog, accuracy: body.acc };
      return { at, topic: d.topic, payload: JSON.stringify(body), device: d.id, kind: "owntracks", events: [{ device: d.id, type: "LocationUpdated", ts: tst * 1000, location }] };
    }
    case "zigbee": {
      const metrics = sample as Metrics;
      return { at, topic: d.topic, payload: JSON.stringify(metrics), device: d.id, kind: "zigbee", events: [{ device: d.id, type: "SensorReadingRecorded", metrics }] };
    }
  }
}

/** A message the gateway must reject, of a kind that fits the device. */
function malformedMessage(d: Device, at: number, ts: number, r: Random): PlannedMessage {
  const base = { at, topic: d.topic, device: d.id, kind: "malformed" as const, events: [] };
  const choices: Array<() => PlannedMessage> = [
    () => ({ ...base, payload: `{"ts":${ts},"metrics":{"temperature":2`, reason: "malformed_json" }),
  ];
  if (d.kind === "sensor") {
    choices.push(
      () => ({ ...base, payload: JSON.stringify({ ts, metrics: { temperature: "warm" } }), reason: "schema_violation" }),
      () => ({ ...base, payload: JSON.stringify({ ts, metrics: {} }), reason: "schema_violation" }),
      () => ({ ...base, payload: JSON.stringify({ ts: ts - 30 * DAY_MS, metrics: { temperature: 20 } }), reason: "timestamp_out_of_range" }),
      () => {
        const bad = `${d.id}!x`;
        return { ...base, topic: `devices/${bad}/telemetry`, device: bad, payload: JSON.stringify({ ts, metrics: { temperature: 20 } }), reason: "invalid_device_id" };
      },
    );
  } else if (d.kind === "vehicle") {
    choices.push(
      () => ({ ...base, payload: JSON.stringify({ ts, lat: 123.4, lon: 13.4 }), reason: "schema_violation" }),
      () => ({ ...base, payload: JSON.stringify({ ts, lon: 13.4 }), reason: "schema_violation" }),
    );
  }
  return r.pick(choices)();
}

/**
 * Generates the plan lazily (a run without `count` or `duration` is endless).
 * @example for (const m of generateMessages({ ...DEFAULT_SIMULATOR_OPTIONS, startTs: 0, count: 10 })) console.log(m.topic)
 */
export function* generateMessages(o: PlanOptions): Generator<PlannedMessage> {
  const fleet = buildFleet(o);
  const interval = 1000 / o.rate;
  const dtSec = interval / 1000;
  const seqStart = o.seqStart ?? o.startTs;
  let emitted = 0;
  const limit = o.count ?? Infinity;

  function* push(d: Device, m: PlannedMessage): Generator<PlannedMessage> {
    if (emitted >= limit) return;
    emitted++;
    yield m;
    if (m.kind !== "malformed" && d.faults.chance(o.duplicates) && emitted < limit) {
      emitted++;
      yield { ...m, kind: "duplicate", events: [] };
    }
  }

  /** The readings an offline device kept, sent at `at`: telemetry as batches, the rest one by one. */
  function* flushBuffer(d: Device, at: number): Generator<PlannedMessage> {
    const buf = d.buffer.splice(0);
    if (d.kind === "sensor") {
      for (let i = 0; i < buf.length; i += o.maxBatch) {
        const part = buf.slice(i, i + o.maxBatch);
        if (part.length === 1) yield* push(d, { ...part[0]!, at, buffered: true });
        else
          yield* push(d, {
            at,
            topic: d.topic,
            payload: `[${part.map((m) => m.payload).join(",")}]`,
            device: d.id,
            kind: "batch",
            events: part.flatMap((m) => m.events),
            buffered: true,
          });
      }
    } else {
      for (const m of buf) yield* push(d, { ...m, at, buffered: true });
    }
  }

  for (let tick = 0; emitted < limit; tick++) {
    const at = tick * interval;
    const last = o.duration !== undefined && (tick + 1) * interval >= o.duration;
    if (o.duration !== undefined && at >= o.duration) break;
    const ts = o.startTs + Math.round(at);
    for (const d of fleet) {
      if (emitted >= limit) break;
      const m = message(d, Math.round(at), ts, seqStart + tick, d.sample(ts, dtSec));
      const hasTime = d.kind !== "zigbee";
      // Offline: a device with its own clock keeps readings and sends them when it is back.
      if (hasTime && d.offlineUntil > at) {
        d.buffer.push(m);
      } else if (hasTime && d.faults.chance(o.offline * dtSec)) {
        d.offlineUntil = at + o.offlineDuration;
        d.buffer.push(m);
      } else {
        if (d.buffer.length) yield* flushBuffer(d, m.at);
        if (hasTime && d.faults.chance(o.disorder)) {
          d.held.push({ msg: { ...m, delayed: true }, after: d.faults.int(1, o.disorderWindow) });
        } else {
          yield* push(d, m);
          for (const h of d.held) h.after--;
          const due = d.held.filter((h) => h.after <= 0);
          d.held = d.held.filter((h) => h.after > 0);
          for (const h of due) yield* push(d, { ...h.msg, at: m.at });
        }
      }
      if (d.faults.chance(o.malformed)) yield* push(d, malformedMessage(d, Math.round(at), ts, d.faults));
      if (last) {
        // The run ends: whatever is still held or buffered goes out now.
        for (const h of d.held.splice(0)) yield* push(d, { ...h.msg, at: Math.round(at) });
        if (d.buffer.length) yield* flushBuffer(d, Math.round(at));
      }
    }
    if (last) break;
  }
}

/**
 * The exact messages a run with these options sends, in order. Needs `count` or `duration`.
 * @example const plan = planMessages({ ...fromConfig({ seed: 7, duration: 10_000 }), startTs: 1764528000000 })
 */
export function planMessages(o: PlanOptions): PlannedMessage[] {
  if (o.count === undefined && o.duration === undefined) throw new Error("planMessages needs count or duration: an unbounded plan never ends");
  return [...generateMessages(o)];
}

/** Every distinct valid event of a plan (duplicates and malformed messages left out), in send order. */
export function plannedEvents(plan: readonly PlannedMessage[]): SimEvent[] {
  return plan.flatMap((m) => m.events);
}
