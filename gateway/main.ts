/**
 * The gateway process, wiring only: config -> NATS -> streams -> gateway -> ops server (/metrics,
 * /healthz, /readyz on `cfg.http.port`); SIGTERM/SIGINT drain and exit.
 */
import { untilShutdown } from "../core/shutdown.ts";
import type { Config } from "../core/config.ts";
import { createLogger } from "../core/logger.ts";
import { createRegistry, startOpsServer } from "../core/metrics.ts";
import { connectNats } from "../core/nats.ts";
import { ensureStreams } from "../core/streams.ts";
import { createGateway } from "./gateway.ts";

/** Runs the gateway until SIGTERM/SIGINT; resolves with the exit code. */
export async function runGateway(cfg: Config): Promise<number> {
  const log = createLogger({ level: cfg.log.level, fields: { service: "gateway", gatewayId: cfg.gatewayId } });
  const nc = await connectNats(cfg.nats, log, `gateway-${cfg.gatewayId}`);
  await ensureStreams(nc, cfg);
  const registry = createRegistry({ defaultMetrics: true });
  const gateway = createGateway({ nc, cfg, log, registry });
  const ops = await startOpsServer(registry, {
    port: cfg.http.port,
    host: cfg.http.host,
    checks: [() => gateway.notReady()],
  });
  log.info("ops server listening", { port: ops.port });
  await gateway.start();
  const signal = await untilShutdown();
  log.info("draining", { signal });
  await gateway.stop();
  await ops.close();
  await nc.drain().catch(() => nc.close());
  return 0;
}
