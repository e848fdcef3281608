/** `fleetstream dlq ls|show|redrive`: inspect dead-lettered messages and send them back through their stage. */
import { parseDuration } from "../../core/config.ts";
import type { DlqStage } from "../../core/dlq.ts";
import { DLQ_REASONS, type DlqReason } from "../../core/errors.ts";
import { createLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { connectNats } from "../../core/nats.ts";
import { getDlq, listDlq, type DlqEntry, type DlqFilter } from "../../processors/ops/dlq_store.ts";
import { redriveDlq } from "../../processors/ops/redrive.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "list, show and redrive dead-lettered messages";
export const usage = `Usage: fleetstream dlq ls|show|redrive [options]

  ls                      list records (oldest first)
  show <seq>              one record in full, with its original decoded
  redrive <seq>...        send records back through the stage that failed; with no <seq>, every
                          record matching the filters. A record is removed once its redrive succeeded:
                            fanout     delivered again to its rule's target (rule from the current config)
                            sink       its points written again to InfluxDB
                            processor  the original event re-published to its original subject
                                       (a late_event stays: the windows it missed are final)
                            gateway    the original payload re-published to its MQTT topic
Filters (ls, redrive):
  --stage <s>             gateway | processor | sink | fanout
  --reason <r>            ${DLQ_REASONS.join(" | ")}
  --target <name>         the fan-out rule (or sink) that failed
  --since <time>          stored at or after: RFC 3339, epoch ms, or a duration ago (e.g. 2h)
  --until <time>          stored before (same forms)
  --json                  print JSON
  --dry-run               (redrive) list what would be redriven
${CONFIG_USAGE}
`;

const STAGES = ["gateway", "processor", "sink", "fanout"];

/** RFC 3339, epoch ms, or a duration meaning that long ago. */
export function parseTime(s: string, now = Date.now()): number {
  if (/^\d{10,}$/.test(s)) return Number(s);
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(s)) return now - parseDuration(s);
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new Error(`"${s}" is not a time: use RFC 3339 (2026-11-30T12:00:00Z), epoch ms, or a duration ago (2h)`);
  return t;
}

function row(e: DlqEntry): string {
  const r = e.record;
  return `${String(e.seq).padStart(8)}  ${e.time.toISOString()}  ${r.stage.padEnd(9)} ${r.reason.padEnd(22)} ${(r.target ?? "-").padEnd(16)} ${(r.device ?? "-").padEnd(16)} ${r.error.replace(/\s+/g, " ").slice(0, 100)}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, cfg } = parseCommand(argv, {
    stage: { type: "string" },
    reason: { type: "string" },
    target: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    json: { type: "boolean" },
    "dry-run": { type: "boolean" },
  });
  const [sub, ...rest] = positionals;
  if (sub !== "ls" && sub !== "show" && sub !== "redrive") {
    process.stderr.write(usage);
    return 2;
  }
  if (values.stage && !STAGES.includes(values.stage)) {
    process.stderr.write(`fleetstream dlq: --stage must be one of ${STAGES.join(", ")}\n`);
    return 2;
  }
  if (values.reason && !DLQ_REASONS.includes(values.reason as DlqReason)) {
    process.stderr.write(`fleetstream dlq: --reason must be one of ${DLQ_REASONS.join(", ")}\n`);
    return 2;
  }
  const seqs = rest.map(Number);
  if (seqs.some((n) => !Number.isInteger(n) || n <= 0) || (sub === "show" && seqs.length !== 1)) {
    process.stderr.write(`fleetstream dlq ${sub}: expected ${sub === "show" ? "one sequence number" : "sequence numbers"}, got ${rest.join(" ") || "none"}\n`);
    return 2;
  }
  let filter: DlqFilter;
  try {
    filter = {
      stage: values.stage as DlqStage | undefined,
      reason: values.reason as DlqReason | undefined,
      target: values.target,
      since: values.since ? parseTime(values.since) : undefined,
      until: values.until ? parseTime(values.until) : undefined,
    };
  } catch (e) {
    process.stderr.write(`fleetstream dlq: ${(e as Error).message}\n`);
    return 2;
  }
  const log = createLogger({ level: cfg.log.level === "info" ? "warn" : cfg.log.level });
  const nc = await connectNats(cfg.nats, log, "dlq");
  try {
    if (sub === "show") {
      const e = await getDlq(nc, cfg, seqs[0]!);
      if (!e) {
        process.stderr.write(`fleetstream dlq show: no record with sequence ${seqs[0]}\n`);
        return 1;
      }
      const bytes = Buffer.from(e.record.original, "base64");
      const text = bytes.toString("utf8");
      const decoded = Buffer.from(text, "utf8").equals(bytes) ? text : undefined;
      process.stdout.write(JSON.stringify({ seq: e.seq, time: e.time.toISOString(), subject: e.subject, ...e.record, originalText: decoded }, null, 2) + "\n");
      return 0;
    }
    let entries: DlqEntry[];
    if (seqs.length) {
      entries = [];
      for (const s of seqs) {
        const e = await getDlq(nc, cfg, s);
        if (!e) process.stderr.write(`fleetstream dlq: no record with sequence ${s}\n`);
        else entries.push(e);
      }
    } else entries = await listDlq(nc, cfg, filter);
    if (sub === "ls" || values["dry-run"]) {
      if (values.json) process.stdout.write(JSON.stringify(entries.map((e) => ({ seq: e.seq, time: e.time, ...e.record })), null, 2) + "\n");
      else {
        process.stdout.write(`${"SEQ".padStart(8)}  ${"STORED".padEnd(24)}  ${"STAGE".padEnd(9)} ${"REASON".padEnd(22)} ${"TARGET".padEnd(16)} ${"DEVICE".padEnd(16)} ERROR\n`);
        for (const e of entries) process.stdout.write(row(e) + "\n");
        process.stdout.write(`${entries.length} record(s)\n`);
      }
      return 0;
    }
    const results = await redriveDlq({ nc, cfg, log, registry: createRegistry() }, entries);
    for (const r of results) process.stdout.write(`${String(r.seq).padStart(8)}  ${r.ok ? "redriven" : "FAILED  "}  ${r.detail}\n`);
    const failed = results.filter((r) => !r.ok).length;
    process.stdout.write(`${results.length - failed} redriven and removed, ${failed} failed (kept in the DLQ)\n`);
    return failed ? 1 : 0;
  } finally {
    await nc.close();
  }
}
