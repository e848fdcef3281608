/** `fleetstream processor`: runs the stream processors (event-time windows, location enrichment). */
import { runProcessor } from "../../processors/main.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "run the processors: per-device event-time windows and location enrichment into RESULTS";
export const usage = `Usage: fleetstream processor [options]

Reads TELEMETRY and LOCATION (one durable consumer per owned partition), orders each device's events
(seq, else event time), drops duplicates, computes the configured windows (tumbling, hopping, session)
on a per-device watermark, enriches locations with distance and speed, and publishes to RESULTS.
Late events and poison messages go to the DLQ. State is checkpointed in the KV bucket
<prefix>fleetstream_processor; input is acknowledged only once its results and state are durable.

${CONFIG_USAGE}
  --partitions <list>  partitions this process owns, e.g. 0,1,2,3 (default: processor.partitions, else all)

Idle close (processor.idleTimeout) and reorder timeouts are checked at each checkpoint
(processor.checkpointInterval), so their effects are recorded before they are published.
Config keys: processor.windows, processor.maxOutOfOrder, processor.allowedLateness, processor.idleTimeout,
processor.reorderBuffer, processor.reorderTimeout, processor.checkpointInterval, processor.maxAckPending.
Serves /metrics, /healthz and /readyz on http.port (FLEETSTREAM_HTTP_PORT). SIGTERM drains.
`;

export async function run(argv: string[]): Promise<number> {
  const pre = argv.indexOf("--partitions");
  const overrides: Record<string, unknown> = {};
  if (pre >= 0 && argv[pre + 1]) {
    overrides.processor = { partitions: argv[pre + 1]!.split(",").map((s) => Number(s.trim())) };
  }
  const { cfg } = parseCommand(argv, { partitions: { type: "string" } }, overrides);
  return runProcessor(cfg);
}
