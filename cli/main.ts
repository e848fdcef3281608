/**
 * The `fleetstream` command line. Each command lives in `cli/commands/<name>.ts` and exports
 * `summary`, `usage` and `run(argv)`; they load lazily so `fleetstream --help` stays fast.
 */
import { ConfigError } from "../core/errors.ts";
import { NatsUnreachableError } from "../core/nats.ts";
import { IntakeError } from "../gateway/errors.ts";
import { SimulatorConnectError } from "../simulator/errors.ts";

export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  usage: string;
  /** Runs the command; resolves with the exit code. */
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  start: () => import("./commands/start.ts"),
  gateway: () => import("./commands/gateway.ts"),
  processor: () => import("./commands/processor.ts"),
  fanout: () => import("./commands/fanout.ts"),
  sink: () => import("./commands/sink.ts"),
  streams: () => import("./commands/streams.ts"),
  replay: () => import("./commands/replay.ts"),
  dlq: () => import("./commands/dlq.ts"),
  simulate: () => import("./commands/simulate.ts"),
  bench: () => import("./commands/bench.ts"),
};

async function help(): Promise<string> {
  const rows: string[] = [];
  for (const [name, load] of Object.entries(COMMANDS)) {
    try {
      rows.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
    } catch {
      rows.push(`  ${name.padEnd(10)} (not available in this build)`);
    }
  }
  return `fleetstream — MQTT in, NATS JetStream in the middle, event-time windows, InfluxDB and rules out.

Usage: fleetstream <command> [options]      fleetstream <command> --help

Commands:
${rows.join("\n")}

Configuration: --config fleetstream.yaml (or FLEETSTREAM_CONFIG), overridden by NATS_URL, MQTT_URL,
INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET, INFLUX_API, INFLUX_DB (and *_FILE for secrets).
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(await help());
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`fleetstream: unknown command "${name}"\n\n${await help()}`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(cmd.usage.endsWith("\n") ? cmd.usage : cmd.usage + "\n");
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`fleetstream ${name}: ${e.message}\n`);
      return 78; // EX_CONFIG
    }
    // A service it needs is not there or refused it: the message says which and what to do.
    if (e instanceof NatsUnreachableError || e instanceof SimulatorConnectError || e instanceof IntakeError) {
      process.stderr.write(`fleetstream ${name}: ${e.message}\n`);
      return 69; // EX_UNAVAILABLE
    }
    throw e;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  // As bin/fleetstream.js: a failed command exits rather than wait on what it left open.
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0) process.exit(code);
    },
    (e) => {
      process.stderr.write(`fleetstream: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
