/**
 * `npm run bench -- gateway [--count N]`: MQTT QoS 1 -> gateway -> JetStream, for both intakes, beside a
 * raw passthrough measured in the same run (mqtt.js subscriber on Mosquitto -> pipelined JetStream
 * publish with createJsPublisher, no validation, PUBACK not held). Prints msgs/s, p50/p99 latency from
 * receive to stored (JetStream's store timestamp minus the receive time), and the peak RSS of this
 * process (which runs the gateway; devices run in a separate process). Prints figures, never asserts.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { loadConfig, streamNames, type Config } from "../core/config.ts";
import { createJsPublisher } from "../core/js_publisher.ts";
import { silentLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { ensureStreams } from "../core/streams.ts";
import { createGateway } from "../gateway/gateway.ts";
import { MQTT_MSGS_STREAM } from "../gateway/intake_nats.ts";
import { spawnManaged, startMosquitto, startNatsServer } from "../testing/mod.ts";

interface Result {
  name: string;
  count: number;
  rate: number;
  p50: number;
  p99: number;
  rssMb: number;
}

/** The device side: a separate process publishing `count` readings at QoS 1 with 1000 in flight. */
async function sender(url: string, count: number, protocolVersion: 4 | 5, tag: string): Promise<void> {
  const c = mqtt.connect(url, { protocolVersion, clientId: `bench-dev-${tag}` });
  await new Promise<void>((r) => c.once("connect", () => r()));
  let next = 0;
  let acked = 0;
  const now = Date.now();
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (next - acked < 1000 && next < count) {
        const i = next++;
        const body = JSON.stringify({ ts: now, seq: i, id: `${tag}-${i}`, metrics: { temperature: 21.5 + (i % 10), humidity: 40 + (i % 7), pressure: 1013.2, door_open: i % 2 === 0 } });
        c.publish(`devices/b${i % 100}/telemetry`, body, { qos: 1 }, () => {
          if (++acked === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await c.endAsync();
}

if (process.argv[2] === "--sender") {
  await sender(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]) as 4 | 5, process.argv[6]!);
  process.exit(0);
}

function spawnSender(url: string, count: number, protocolVersion: 4 | 5, tag: string) {
  return spawnManaged(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--sender", url, String(count), String(protocolVersion), tag]);
}

/**
 * Polls until `stream` holds `count` messages. The rate counts from the first stored message, so the
 * sender's start-up is not measured. Returns messages/s and the peak RSS.
 */
async function waitStored(nc: NatsConnection, stream: string, count: number): Promise<{ rate: number; rssMb: number }> {
  const jsm = await jetstreamManager(nc);
  let peak = process.memoryUsage().rss;
  const deadline = Date.now() + 120_000;
  let first: { t: number; n: number } | undefined;
  let n = 0;
  for (;;) {
    peak = Math.max(peak, process.memoryUsage().rss);
    n = (await jsm.streams.info(stream)).state.messages;
    if (!first && n > 0) first = { t: Date.now(), n };
    if (n >= count || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const rate = first ? (n - first.n) / ((Date.now() - first.t) / 1000) : 0;
  return { rate, rssMb: peak / 1024 / 1024 };
}

/** Receive-to-stored latencies (ms) of a sample of a stream's messages. */
async function latencies(nc: NatsConnection, stream: string, header: string): Promise<{ p50: number; p99: number }> {
  const c = await jetstream(nc).consumers.get(stream);
  const it = await c.consume({ max_messages: 5000 });
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  const lat: number[] = [];
  for await (const m of it) {
    const rx = m.headers?.get(header);
    if (rx) lat.push(Number(m.timestampNanos / 1_000_000n) - (/^\d+$/.test(rx) ? Number(rx) : Date.parse(rx)));
    if (m.seq >= info.state.last_seq) break;
  }
  await it.close();
  lat.sort((a, b) => a - b);
  return { p50: lat[Math.floor(lat.length * 0.5)] ?? NaN, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN };
}

async function passthrough(nc: NatsConnection, mqttUrl: string, count: number): Promise<Result> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "PASS", subjects: ["pass.>"] });
  const pub = createJsPublisher(nc, { maxInFlight: 4000 });
  const sub = mqtt.connect(mqttUrl, { protocolVersion: 5, clientId: "bench-pass", clean: false, properties: { sessionExpiryInterval: 600 } });
  let n = 0;
  sub.on("message", (topic, payload) => {
    const h = headers();
    h.set("Nats-Msg-Id", `p${n++}`);
    h.set("rx", String(Date.now()));
    void pub.publish(`pass.${topic.replace(/\//g, ".")}`, payload, h);
  });
  await new Promise<void>((r) => sub.once("connect", () => r()));
  await sub.subscribeAsync("devices/+/telemetry", { qos: 1 });
  const dev = spawnSender(mqttUrl, count, 5, "pass");
  const { rate, rssMb } = await waitStored(nc, "PASS", count);
  await dev.stop();
  await sub.endAsync();
  await pub.close();
  return { name: "passthrough (Mosquitto -> JetStream, no validation)", count, rate, ...(await latencies(nc, "PASS", "rx")), rssMb };
}

async function gatewayRun(nc: NatsConnection, cfg: Config, deviceUrl: string, protocolVersion: 4 | 5, count: number, name: string, useMqttMsgs = true): Promise<Result> {
  await ensureStreams(nc, cfg);
  // nats-server creates $MQTT_msgs on the first MQTT connection; connect once so the gateway reads QoS 1 from it.
  const warm = mqtt.connect(deviceUrl, { protocolVersion, clientId: `bench-warm-${cfg.streams.prefix}` });
  await new Promise<void>((r) => warm.once("connect", () => r()));
  await warm.endAsync();
  const gw = createGateway({ nc, cfg, log: silentLogger, registry: createRegistry() }, { natsIntake: { useMqttMsgs, durable: `bench-${cfg.streams.prefix}` } });
  await gw.start();
  const dev = spawnSender(deviceUrl, count, protocolVersion, cfg.streams.prefix);
  const { rate, rssMb } = await waitStored(nc, streamNames(cfg).telemetry, count);
  await dev.stop();
  await gw.stop();
  return { name, count, rate, ...(await latencies(nc, streamNames(cfg).telemetry, "ce-ingesttime")), rssMb };
}

export async function run(args: string[]): Promise<void> {
  const i = args.indexOf("--count");
  const count = i >= 0 ? Number(args[i + 1]) : 100_000;
  const [ns, mosq] = await Promise.all([startNatsServer({ mqtt: true }), startMosquitto()]);
  const nc = await connect({ servers: ns.url, noAsyncTraces: true });
  const results: Result[] = [];
  try {
    results.push(await passthrough(nc, mosq.url, count));
    const base = { env: {}, overrides: { nats: { url: ns.url } } };
    const broker = loadConfig({ ...base, overrides: { ...base.overrides, intake: "broker", mqtt: { url: mosq.url, protocolVersion: 5, clientId: "bench-gw" }, streams: { prefix: "GWB_", subjectRoot: "gwb" } } });
    results.push(await gatewayRun(nc, broker, mosq.url, 5, count, "gateway, broker intake (Mosquitto, MQTT 5)"));
    const natsCfg = loadConfig({ ...base, overrides: { ...base.overrides, intake: "nats", streams: { prefix: "GWN_", subjectRoot: "gwn" } } });
    results.push(await gatewayRun(nc, natsCfg, ns.mqttUrl!, 4, count, "gateway, nats intake (nats-server MQTT, 3.1.1)"));
    // The raw capture stream alone: cheaper, but it can lose PUBACKed messages when nats-server stops.
    await (await jetstreamManager(nc)).consumers.delete(MQTT_MSGS_STREAM, "bench-GWN_");
    const rawCfg = loadConfig({ ...base, overrides: { ...base.overrides, intake: "nats", streams: { prefix: "GWR_", subjectRoot: "gwr" }, routes: [{ filter: "devices/+/telemetry", decoder: "canonical_reading" }] } });
    await (await jetstreamManager(nc)).streams.delete(streamNames(natsCfg).raw);
    results.push(await gatewayRun(nc, rawCfg, ns.mqttUrl!, 4, count, "gateway, nats intake, raw stream only (not safe)", false));
  } finally {
    await nc.close();
    await Promise.all([ns.cleanup(), mosq.cleanup()]);
  }
  const pass = results[0]!;
  const rate = (r: Result) => r.rate;
  process.stdout.write(`\ngateway benchmark: ${count} QoS 1 readings per scenario, ~200-byte JSON, 100 devices; devices in a separate process\n`);
  process.stdout.write(`${"scenario".padEnd(52)} ${"msgs/s".padStart(9)} ${"x pass".padStart(7)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"peak RSS MB".padStart(12)}\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(52)} ${rate(r).toFixed(0).padStart(9)} ${(rate(r) / rate(pass)).toFixed(2).padStart(7)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${r.rssMb.toFixed(0).padStart(12)}\n`,
    );
  }
  process.stdout.write("latency: receive -> JetStream store timestamp (nats intake: from the raw/$MQTT_msgs store time, so it includes queueing there)\n");
}
