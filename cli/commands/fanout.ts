/** `fleetstream fanout`: runs the fan-out rules until SIGTERM; SIGHUP or a change of the config file reloads them. */
import { watch } from "node:fs";
import { basename, dirname } from "node:path";
import { loadConfig } from "../../core/config.ts";
import { connectNats } from "../../core/nats.ts";
import { createLogger } from "../../core/logger.ts";
import { createRegistry, startOpsServer } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { createFanout } from "../../processors/fanout/fanout.ts";
import { compileRules } from "../../processors/fanout/rules.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "route RESULTS events to JetStream, webhook and MQTT targets by EventBridge-style rules";
export const usage = `Usage: fleetstream fanout [options]

Runs one durable consumer per rule in \`rules:\` of the config. Rules reload without a restart:
send SIGHUP, or edit the config file (it is watched). Invalid rules are refused with the path of
the offending part and the running rules stay.

${CONFIG_USAGE}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, cfg } = parseCommand(argv, {});
  const path = (values as { config?: string }).config ?? process.env.FLEETSTREAM_CONFIG;
  compileRules(cfg.rules, cfg); // invalid rules: one clear line before anything connects
  const log = createLogger({ level: cfg.log.level, fields: { process: "fanout" } });
  const nc = await connectNats(cfg.nats, log, "fanout");
  await ensureStreams(nc, cfg);
  const registry = createRegistry({ defaultMetrics: true });
  const fanout = createFanout({ nc, cfg, log, registry });
  await fanout.start();
  const ops = await startOpsServer(registry, { port: cfg.http.port, host: cfg.http.host, checks: [() => (nc.isClosed() ? "nats connection closed" : undefined)] });

  let timer: NodeJS.Timeout | undefined;
  const reload = (why: string) => {
    clearTimeout(timer);
    // Editors write files in several steps: settle first.
    timer = setTimeout(() => {
      try {
        const next = loadConfig({ path });
        fanout.reload(next.rules).catch((e) => log.error("rule reload failed; the running rules stay", { why, err: e }));
      } catch (e) {
        log.error("rule reload failed; the running rules stay", { why, err: e });
      }
    }, 200);
  };
  process.on("SIGHUP", () => reload("SIGHUP"));
  // The directory, not the file: editors often replace the file, which ends a watch on it.
  const watcher = path ? watch(dirname(path), (_ev, name) => name === basename(path) && reload("config file changed")) : undefined;

  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  log.info("draining");
  watcher?.close();
  clearTimeout(timer);
  await fanout.stop();
  await ops.close();
  await nc.drain();
  return 0;
}
