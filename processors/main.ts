/**
 * Wiring of the standalone processor process: config -> NATS -> processor -> ops server; SIGTERM
 * drains (results published, state checkpointed, input acked) before exit.
 */
import { untilShutdown } from "../core/shutdown.ts";
import type { Config } from "../core/config.ts";
import { createLogger } from "../core/logger.ts";
import { createRegistry, startOpsServer } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { createProcessor } from "./processor.ts";

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function runProcessor(cfg: Config): Promise<number> {
  const log = createLogger({ level: cfg.log.level, fields: { service: "processor" } });
  const nc = await connectNats(cfg.nats, log, "processor");
  const registry = createRegistry({ defaultMetrics: true });
  const proc = createProcessor({ nc, cfg, log, registry });
  let ready = false;
  const ops = await startOpsServer(registry, {
    port: cfg.http.port,
    host: cfg.http.host,
    checks: [() => (nc.isClosed() ? "nats connection closed" : undefined), () => (ready ? undefined : "processor starting")],
  });
  await proc.start();
  ready = true;
  log.info("processor ready", { metricsPort: ops.port, partitions: proc.partitions });
  await untilShutdown();
  log.info("draining");
  await proc.stop();
  await ops.close();
  await nc.drain();
  return 0;
}
