/** `fleetstream sink`: runs the InfluxDB sink (RESULTS windows + locations, raw TELEMETRY) until SIGTERM. */
import { untilShutdown } from "../../core/shutdown.ts";
import { connectNats } from "../../core/nats.ts";
import { createLogger } from "../../core/logger.ts";
import { createRegistry, startOpsServer } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { createInfluxSink } from "../../processors/sinks/influx_sink.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "write window aggregates, locations and raw readings to InfluxDB (v2 or v1 API)";
export const usage = `Usage: fleetstream sink [options]

Consumes RESULTS (sensor_window, location) and TELEMETRY (raw sensor_reading, unless influx.raw is
false) through durable consumers and writes line protocol to InfluxDB. Acks only what was written;
points the server rejects go to the DLQ. Serves /metrics, /healthz and /readyz on http.port.

${CONFIG_USAGE}
Environment: INFLUX_URL, INFLUX_API (v2|v1), INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET, INFLUX_DB, NATS_URL
`;

export async function run(argv: string[]): Promise<number> {
  const { cfg } = parseCommand(argv, {});
  const log = createLogger({ level: cfg.log.level, fields: { process: "sink" } });
  const nc = await connectNats(cfg.nats, log, "sink");
  await ensureStreams(nc, cfg);
  const registry = createRegistry({ defaultMetrics: true });
  const sink = createInfluxSink({ nc, cfg, log, registry });
  await sink.start();
  const ops = await startOpsServer(registry, { port: cfg.http.port, host: cfg.http.host, checks: [() => (nc.isClosed() ? "nats connection closed" : undefined)] });
  await untilShutdown();
  log.info("draining");
  await sink.stop();
  await ops.close();
  await nc.drain();
  return 0;
}
