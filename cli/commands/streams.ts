/** `fleetstream streams create|ls`: provisions and inspects the JetStream streams. */
import { connectNats } from "../../core/nats.ts";
import { createLogger } from "../../core/logger.ts";
import { ensureStreams, listStreams } from "../../core/streams.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "create or list the JetStream streams (TELEMETRY, LOCATION, RESULTS, DLQ)";
export const usage = `Usage: fleetstream streams create|ls [options]

  create            create missing streams and update changed limits (idempotent); raises the
                    replicas of existing streams to streams.replicas, never lowers them
  ls                list the streams with message counts, sizes and replicas
${CONFIG_USAGE}
  --scale-down      create: lower the replicas of existing streams to streams.replicas too
  --json            print JSON instead of a table (ls)
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, cfg } = parseCommand(argv, { json: { type: "boolean" }, "scale-down": { type: "boolean" } });
  const sub = positionals[0];
  if (sub !== "create" && sub !== "ls") {
    process.stderr.write(usage);
    return 2;
  }
  const log = createLogger({ level: cfg.log.level });
  const nc = await connectNats(cfg.nats, log, "streams");
  try {
    if (sub === "create") {
      for (const r of await ensureStreams(nc, cfg, { scaleDown: values["scale-down"] })) process.stdout.write(`${r.name.padEnd(24)} ${r.action}\n`);
    } else {
      const rows = await listStreams(nc, cfg);
      if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
      else {
        process.stdout.write(`${"STREAM".padEnd(24)} ${"MESSAGES".padStart(10)} ${"BYTES".padStart(12)} CONSUMERS REPLICAS SUBJECTS\n`);
        for (const r of rows)
          process.stdout.write(
            `${r.name.padEnd(24)} ${String(r.messages).padStart(10)} ${String(r.bytes).padStart(12)} ${String(r.consumers).padStart(9)} ${String(r.replicas).padStart(8)} ${r.subjects.join(",")}\n`,
          );
      }
    }
    return 0;
  } finally {
    await nc.close();
  }
}
