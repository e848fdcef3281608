/** `fleetstream replay`: re-drives a stored time range into the InfluxDB sink or one fan-out rule. */
import { createLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { connectNats } from "../../core/nats.ts";
import { parseInto, replay } from "../../processors/ops/replay.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";
import { parseTime } from "./dlq.ts";

export const summary = "re-drive a time range of TELEMETRY or RESULTS into InfluxDB or a rule";
export const usage = `Usage: fleetstream replay --from <time> [--to <time>] --stream TELEMETRY|RESULTS --into influx|rule:NAME

Reads the range with an ordered consumer starting at --from (stream time: when JetStream stored
each message) up to --to (exclusive; default: everything stored when the replay began) and
  influx       writes the points again (RESULTS: sensor_window + location; TELEMETRY: raw sensor_reading)
  rule:NAME    delivers the matching events to the rule's target again (its pattern and retries)
Writes overwrite the same points, so replaying into a store that has them changes nothing.
Progress goes to stderr; failures go to the DLQ.

  --from <time>     RFC 3339, epoch ms, or a duration ago (e.g. 2h)
  --to <time>       same forms
  --stream <name>   TELEMETRY or RESULTS
  --into <target>   influx or rule:NAME
  --batch <n>       messages per batch (default influx.batchSize)
${CONFIG_USAGE}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, cfg } = parseCommand(argv, {
    from: { type: "string" },
    to: { type: "string" },
    stream: { type: "string" },
    into: { type: "string" },
    batch: { type: "string" },
  });
  if (!values.from || !values.stream || !values.into) {
    process.stderr.write(`fleetstream replay: --from, --stream and --into are required\n\n${usage}`);
    return 2;
  }
  const stream = values.stream.toUpperCase();
  if (stream !== "TELEMETRY" && stream !== "RESULTS") {
    process.stderr.write(`fleetstream replay: --stream must be TELEMETRY or RESULTS, got "${values.stream}"\n`);
    return 2;
  }
  let from: number, to: number | undefined, into;
  try {
    from = parseTime(values.from);
    to = values.to ? parseTime(values.to) : undefined;
    into = parseInto(values.into);
  } catch (e) {
    process.stderr.write(`fleetstream replay: ${(e as Error).message}\n`);
    return 2;
  }
  const batch = values.batch ? Number(values.batch) : cfg.influx.batchSize;
  const log = createLogger({ level: cfg.log.level === "info" ? "warn" : cfg.log.level });
  const nc = await connectNats(cfg.nats, log, "replay");
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort(new Error("interrupted")));
  let lastPrint = 0;
  try {
    const p = await replay({ nc, cfg, log, registry: createRegistry() }, {
      stream,
      into,
      from,
      to,
      batch,
      signal: abort.signal,
      onProgress: (p) => {
        if (Date.now() - lastPrint < 1000) return;
        lastPrint = Date.now();
        process.stderr.write(`replay: ${p.read} read, ${p.delivered} ${into.kind === "influx" ? "points written" : "delivered"}, ${p.failed} to DLQ, at ${p.at?.toISOString()}\n`);
      },
    });
    process.stdout.write(`replay done: ${p.read} messages read, ${p.delivered} ${into.kind === "influx" ? "points written" : "events delivered"}, ${p.failed} sent to the DLQ\n`);
    return p.failed ? 1 : 0;
  } finally {
    await nc.close();
  }
}
