/**
 * The DLQ stream as a list of records: filter by stage, reason, rule/target and time; show one;
 * remove one (after a successful redrive).
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config } from "../../core/config.ts";
import type { DlqRecord, DlqStage } from "../../core/dlq.ts";
import type { DlqReason } from "../../core/errors.ts";
import { subjects } from "../../core/subjects.ts";
import { readRange } from "./range_reader.ts";

export interface DlqFilter {
  stage?: DlqStage;
  reason?: DlqReason;
  /** The fan-out rule or sink that failed. */
  target?: string;
  /** Stored at or after, epoch ms. */
  since?: number;
  /** Stored before, epoch ms. */
  until?: number;
}

export interface DlqEntry {
  /** The record's sequence in the DLQ stream: what `show` and `redrive` take. */
  seq: number;
  /** When the DLQ stored it. */
  time: Date;
  subject: string;
  record: DlqRecord;
}

function decode(seq: number, time: Date, subject: string, data: Uint8Array): DlqEntry {
  return { seq, time, subject, record: JSON.parse(Buffer.from(data).toString("utf8")) as DlqRecord };
}

/** Every record matching the filter, oldest first. */
export async function listDlq(nc: NatsConnection, cfg: Pick<Config, "streams">, f: DlqFilter = {}): Promise<DlqEntry[]> {
  const subj = subjects(cfg.streams.subjectRoot, cfg.streams.partitions);
  const out: DlqEntry[] = [];
  await readRange(nc, streamNames(cfg).dlq, { filterSubjects: [subj.dlq(f.stage ?? "*", f.reason ?? "*")], fromMs: f.since, toMs: f.until, batch: 1000 }, async (msgs) => {
    for (const m of msgs) {
      const e = decode(m.seq, m.time, m.subject, m.data);
      if (f.target === undefined || e.record.target === f.target) out.push(e);
    }
  });
  return out;
}

/** One record by its sequence, or undefined when it is gone. */
export async function getDlq(nc: NatsConnection, cfg: Pick<Config, "streams">, seq: number): Promise<DlqEntry | undefined> {
  const jsm = await jetstreamManager(nc);
  try {
    const m = await jsm.streams.getMessage(streamNames(cfg).dlq, { seq });
    return m ? decode(m.seq, m.time, m.subject, m.data) : undefined;
  } catch (e) {
    if (/no message found|not found/i.test((e as Error).message)) return undefined;
    throw e;
  }
}

/** Removes a record (after its redrive succeeded). */
export async function removeDlq(nc: NatsConnection, cfg: Pick<Config, "streams">, seq: number): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  return jsm.streams.deleteMessage(streamNames(cfg).dlq, seq, false);
}
