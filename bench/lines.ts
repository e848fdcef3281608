/**
 * `npm run bench -- lines [rounds]`: CPU time per reading of the InfluxDB sink's mapping alone
 * (decode the stored event, its points, their line protocol), through `writeMessages` with a writer
 * that makes the request body and drops it: no NATS and no HTTP. 2000 readings from 200 devices as
 * the gateway stores them, presented as nats.js holds a received message. Measured by
 * `reportCpuPerItem`.
 */
import { loadConfig } from "../core/config.ts";
import type { EventHeaders } from "../core/fast_headers.ts";
import { subjects } from "../core/subjects.ts";
import { createNormalizer } from "../gateway/normalizer.ts";
import { writeMessages } from "../processors/sinks/influx_sink.ts";
import type { PointWriter } from "../processors/sinks/point_writer.ts";
import { reportCpuPerItem, sampleReadings } from "./cpu_per_item.ts";

export async function run(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 50);
  const cfg = loadConfig({ env: {}, overrides: {} });
  const n = createNormalizer({ gatewayId: "bench", routes: cfg.routes, limits: cfg.limits, subjects: subjects("iot", 8) });
  const now = Date.now();
  const msgs = sampleReadings(now).map(({ topic, payload }) => {
    const ev = n.normalize(topic, payload, now).events[0]!;
    // As nats.js holds a received message before anyone reads its headers: raw bytes and header length.
    const block = (ev.headers as EventHeaders).encode();
    const raw = Buffer.concat([block, Buffer.from(ev.body)]);
    return { subject: ev.subject, _msg: { hdr: block.length }, _rdata: raw, data: raw.subarray(block.length) };
  });
  let lines = 0;
  let bytes = 0;
  const writer: PointWriter = {
    // What the real writer does before its request: the lines as one body.
    write: async (l) => {
      lines += l.count;
      bytes += l.text().length;
      return [];
    },
    remove: async () => undefined,
  };
  const signal = new AbortController().signal;
  await reportCpuPerItem("lines", "reading", rounds * msgs.length, async () => {
    for (let k = 0; k < rounds; k++) await writeMessages(writer, msgs, true, signal);
  });
  if (lines !== 8 * rounds * msgs.length || bytes === 0) throw new Error(`expected one line per reading, got ${lines}`);
}
