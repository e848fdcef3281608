/** `fleetstream fanout`: runs the fan-out rules until SIGTERM; SIGHUP or a change of the config file reloads them. */
import { untilShutdown } from "../../core/shutdown.ts";
import { connectNats } from "../../core/nats.ts";
import { createLogger } from "../../core/logger.ts";
import { createRegistry, startOpsServer } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { createFanout } from "../../processors/fanout/fanout.ts";
import { compileRules } from "../../processors/fanout/rules.ts";
import { configPath } from "../../core/config.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";
import { watchRules } from "../rule_reload.ts";

export const summary = "route RESULTS events to JetStream, webhook and MQTT targets by EventBridge-style rules";
export const usage = `Usage: fleetstream fanout [options]

Runs one durable consumer per rule in \`rules:\` of the config. Rules reload without a restart:
send SIGHUP, or edit the config file (it is watched). Invalid rules are refused with the path of
the offending part and the running rules stay.

${CONFIG_USAGE}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, cfg } = parseCommand(argv, {});
  const path = configPath((values as { config?: string }).config);
  compileRules(cfg.rules, cfg); // invalid rules: one clear line before anything connects
  const log = createLogger({ level: cfg.log.level, fields: { process: "fanout" } });
  const nc = await connectNats(cfg.nats, log, "fanout");
  await ensureStreams(nc, cfg);
  const registry = createRegistry({ defaultMetrics: true });
  const fanout = createFanout({ nc, cfg, log, registry });
  await fanout.start();
  const ops = await startOpsServer(registry, { port: cfg.http.port, host: cfg.http.host, checks: [() => (nc.isClosed() ? "nats connection closed" : undefined)] });

  const stopWatching = watchRules(fanout, path, log);
  await untilShutdown();
  log.info("draining");
  stopWatching();
  await fanout.stop();
  await ops.close();
  await nc.drain();
  return 0;
}
