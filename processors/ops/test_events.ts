/**
 * Test helpers: RESULTS and TELEMETRY events as processors and the gateway publish them
 * (core/results.ts, CloudEvents binary mode), and a config for a test server.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { loadConfig, type Config } from "../../core/config.ts";
import { rfc3339, toHeaders, type CloudEvent } from "../../core/envelope.ts";
import { createJsPublisher } from "../../core/js_publisher.ts";
import type { LocationEnrichedData, MetricAggregate, WindowAggregateData } from "../../core/results.ts";
import { subjects } from "../../core/subjects.ts";

export interface TestEvent {
  subject: string;
  event: CloudEvent;
}

/**
 * A config for tests: env ignored, given overrides on top. The `broker` intake (with a URL nobody
 * dials) keeps `ensureStreams` from creating the raw MQTT stream, whose subjects several test
 * configs on one server would share.
 */
export function testConfig(overrides: Record<string, unknown>): Config {
  return loadConfig({ env: {}, overrides: { intake: "broker", ...overrides, mqtt: { url: "mqtt://127.0.0.1:1", ...(overrides.mqtt as object) } } });
}

export function agg(values: number[]): MetricAggregate {
  const n = values.length;
  const sum = values.reduce((a, b) => a + b, 0);
  const mean = sum / n;
  return {
    count: n,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    mean,
    first: values[0]!,
    last: values[n - 1]!,
    stddev: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / n),
  };
}

export function windowEvent(cfg: Config, device: string, start: number, metrics: Record<string, number[]>, revision = 0, window = "tumbling_1m"): TestEvent {
  const data: WindowAggregateData = {
    device,
    window,
    start,
    end: start + 60_000,
    revision,
    metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, agg(v)])),
  };
  const id = `${device}:w:${window}:${start}:r${revision}`;
  return {
    subject: subjects(cfg.streams.subjectRoot, cfg.streams.partitions).windowResult(device),
    event: { specversion: "1.0", id, source: "fleetstream/processor/test", type: "WindowAggregateComputed", subject: device, time: rfc3339(start), datacontenttype: "application/json", data },
  };
}

export function locationEvent(cfg: Config, device: string, ts: number, fix: Omit<LocationEnrichedData, "device" | "ts" | "outOfOrder">): TestEvent {
  const data: LocationEnrichedData = { device, ts, outOfOrder: false, ...fix };
  return {
    subject: subjects(cfg.streams.subjectRoot, cfg.streams.partitions).locationResult(device),
    event: { specversion: "1.0", id: `${device}:${ts}:loc`, source: "fleetstream/processor/test", type: "LocationEnriched", subject: device, time: rfc3339(ts), datacontenttype: "application/json", data },
  };
}

export function readingEvent(cfg: Config, device: string, ts: number, metrics: Record<string, number | boolean>, seq?: number): TestEvent {
  return {
    subject: subjects(cfg.streams.subjectRoot, cfg.streams.partitions).input("telemetry", device),
    event: {
      specversion: "1.0",
      id: `${device}:s${seq ?? ts}`,
      source: "fleetstream/gateway/test",
      type: "SensorReadingRecorded",
      subject: device,
      time: rfc3339(ts),
      seq,
      timesource: "device",
      datacontenttype: "application/json",
      data: { metrics },
    },
  };
}

/** Publishes events and waits until JetStream stored every one. */
export async function publishEvents(nc: NatsConnection, events: TestEvent[]): Promise<void> {
  const pub = createJsPublisher(nc, { maxInFlight: 500 });
  await Promise.all(events.map((e) => pub.publishDurably(e.subject, JSON.stringify(e.event.data), toHeaders(e.event))));
  await pub.close();
}

/** Polls `probe` until it returns true or the time is up. */
export async function waitFor(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
