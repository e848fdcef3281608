/**
 * `fleetstream start`: the edge all-in-one — gateway, processors, InfluxDB sink and fan-out in one
 * process, with a local nats-server when no NATS_URL is set, and optionally a simulated fleet.
 */
import { untilShutdown } from "../../core/shutdown.ts";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { configPath, loadConfig, natsUrlConfigured, parseDuration, streamNames, type Config } from "../../core/config.ts";
import { createLogger, type Logger } from "../../core/logger.ts";
import { createRegistry, startOpsServer } from "../../core/metrics.ts";
import { connectNats } from "../../core/nats.ts";
import { ensureStreams } from "../../core/streams.ts";
import { readEvent } from "../../core/envelope.ts";
import type { WindowAggregateData } from "../../core/results.ts";
import { createGateway } from "../../gateway/gateway.ts";
import { createProcessor } from "../../processors/processor.ts";
import { createInfluxSink } from "../../processors/sinks/influx_sink.ts";
import { createFanout } from "../../processors/fanout/fanout.ts";
import { createSimulator, fromConfig as simulatorOptions, type Simulator } from "../../simulator/mod.ts";
import { parseArgs } from "node:util";
import { startLocalNats, type LocalNats } from "../local_nats.ts";
import { CONFIG_USAGE } from "../args.ts";
import { watchRules } from "../rule_reload.ts";

export const summary = "run gateway, processors, InfluxDB sink and fan-out in one process (the edge default)";
export const usage = `Usage: fleetstream start [options]

Runs the whole pipeline in one process. Without NATS_URL (or nats.url in the config) it starts a local
nats-server >= 2.10 with JetStream and its MQTT listener (data under --data), on 4222/1883 when free.
Without INFLUX_URL results go to the RESULTS stream only.

${CONFIG_USAGE}
  --simulate         also run a simulated fleet publishing over MQTT
  --devices <n>      simulated sensors (default 20; vehicles: a fifth of it)
  --rate <r>         readings per second per simulated device (default 1)
  --duration <d>     stop by itself after this long (e.g. 90s), printing a summary
  --data <dir>       data directory of the local nats-server (default ./data)
  --status <d>       how often to print the live status line (default 5s)
`;

interface Status {
  windows: number;
  corrections: number;
  lastWindow?: WindowAggregateData;
}

function watchWindows(nc: NatsConnection, root: string): { status: Status; sub: Subscription } {
  const status: Status = { windows: 0, corrections: 0 };
  const sub = nc.subscribe(`${root}.results.window.>`, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const ev = readEvent<WindowAggregateData>(msg);
        if (ev.data.revision > 0) status.corrections++;
        else status.windows++;
        status.lastWindow = ev.data;
      } catch {
        // not ours to judge here; the sinks dead-letter what they cannot read
      }
    },
  });
  return { status, sub };
}

async function streamCounts(jsm: JetStreamManager, cfg: Config): Promise<Record<string, number>> {
  const names = streamNames(cfg);
  const out: Record<string, number> = {};
  for (const [k, name] of Object.entries({ telemetry: names.telemetry, location: names.location, results: names.results, dlq: names.dlq })) {
    try {
      out[k] = (await jsm.streams.info(name)).state.messages;
    } catch {
      out[k] = 0;
    }
  }
  return out;
}

function describeWindow(w: WindowAggregateData | undefined): string {
  if (!w) return "";
  const [metric, agg] = Object.entries(w.metrics)[0] ?? [];
  if (!metric || !agg) return "";
  return ` | last: ${w.device} ${w.window} ${new Date(w.start).toISOString().slice(11, 19)} ${metric} mean=${agg.mean.toFixed(2)} n=${agg.count}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      simulate: { type: "boolean", default: false },
      devices: { type: "string", default: "20" },
      rate: { type: "string", default: "1" },
      duration: { type: "string" },
      data: { type: "string", default: "data" },
      status: { type: "string", default: "5s" },
    },
    strict: true,
  });
  const durationMs = values.duration ? parseDuration(values.duration) : undefined;
  const statusMs = parseDuration(values.status!);
  let cfg = loadConfig({ path: values.config });
  const log: Logger = createLogger({ level: cfg.log.level, fields: { service: "start" } });

  let local: LocalNats | undefined;
  if (!natsUrlConfigured({ path: values.config })) {
    local = await startLocalNats(log, values.data, {
      mqtt: cfg.intake === "nats",
      // The streams (the raw capture above all) exist before a device can connect.
      prepare: async (url) => {
        const pnc = await connectNats({ ...cfg.nats, url }, log, "start");
        try {
          await ensureStreams(pnc, cfg);
        } finally {
          await pnc.close();
        }
      },
    });
    cfg = loadConfig({ path: values.config, overrides: { nats: { url: local.url } } });
  }
  const out = (line: string) => process.stdout.write(line + "\n");

  const nc = await connectNats(cfg.nats, log, "start");
  const registry = createRegistry({ defaultMetrics: true });
  await ensureStreams(nc, cfg);
  const processor = createProcessor({ nc, cfg, log, registry }, { ensureStreams: false });
  const gateway = createGateway({ nc, cfg, log, registry });
  const sink = cfg.influx.url ? createInfluxSink({ nc, cfg, log, registry }) : undefined;
  // Always running, so rules added later (SIGHUP or an edit of the config file) need no restart.
  const fanout = createFanout({ nc, cfg, log, registry });
  if (!sink) log.info("no INFLUX_URL set: results go to the RESULTS stream only (set INFLUX_URL to write InfluxDB)");

  let started = false;
  const ops = await startOpsServer(registry, {
    port: cfg.http.port,
    host: cfg.http.host,
    checks: [() => (nc.isClosed() ? "nats connection closed" : undefined), () => (started ? undefined : "starting"), () => gateway.notReady()],
  }).catch((e: Error) => {
    throw new Error(`cannot serve /metrics on port ${cfg.http.port} (${e.message}): set FLEETSTREAM_HTTP_PORT or http.port`);
  });
  await processor.start();
  await sink?.start();
  await fanout.start();
  const stopWatching = watchRules(fanout, configPath(values.config), log, local ? { nats: { url: local.url } } : undefined);
  await gateway.start();
  started = true;
  const mqttUrl = cfg.intake === "broker" ? cfg.mqtt.url! : local?.mqttUrl;
  log.info("fleetstream started", { intake: cfg.intake, nats: cfg.nats.url, mqtt: mqttUrl, metrics: `http://127.0.0.1:${ops.port}/metrics` });
  out(`fleetstream is running: devices publish to ${mqttUrl ?? "(the MQTT listener of your nats-server)"}, metrics on http://127.0.0.1:${ops.port}/metrics`);

  const { status, sub } = watchWindows(nc, cfg.streams.subjectRoot);

  let sim: Simulator | undefined;
  let simRun: Promise<unknown> | undefined;
  let simProgress = "";
  if (values.simulate) {
    if (!mqttUrl) throw new Error("--simulate needs an MQTT broker: set MQTT_URL, or let start run its local nats-server");
    const devices = Number(values.devices);
    sim = createSimulator(
      simulatorOptions({
        url: mqttUrl,
        sensors: devices,
        vehicles: Math.max(1, Math.round(devices / 5)),
        rate: Number(values.rate),
        prefix: "sim-",
        seed: Date.now() % 1_000_000,
        protocolVersion: cfg.intake === "nats" ? 4 : cfg.mqtt.protocolVersion,
        progressInterval: 0,
        write: (line) => (simProgress = line),
      }),
    );
    simRun = sim.run().catch((e: Error) => log.error("simulator failed", { err: e }));
    out(`simulating ${devices} sensors and ${Math.max(1, Math.round(devices / 5))} vehicles at ${values.rate} reading/s each`);
  }

  const t0 = Date.now();
  const jsm = await jetstreamManager(nc);
  const printStatus = async () => {
    const c = await streamCounts(jsm, cfg).catch(() => ({}) as Record<string, number>);
    out(
      `[${Math.round((Date.now() - t0) / 1000)}s] readings ${c.telemetry ?? 0} · locations ${c.location ?? 0} · windows ${status.windows} (+${status.corrections} corrections) · dlq ${c.dlq ?? 0}${describeWindow(status.lastWindow)}`,
    );
  };
  const timer = setInterval(() => void printStatus(), statusMs);

  await untilShutdown(durationMs);
  clearInterval(timer);
  out("draining...");
  sim?.stop();
  await simRun;
  await gateway.stop();
  await processor.stop();
  stopWatching();
  await fanout.stop();
  await sink?.stop();
  await printStatus();
  if (simProgress) out(`simulator: ${simProgress}`);
  sub.unsubscribe();
  await ops.close();
  await nc.drain();
  await local?.stop();
  out(`done: ${status.windows} windows produced`);
  return 0;
}
