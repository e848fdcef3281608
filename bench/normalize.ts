/**
 * `npm run bench -- normalize [rounds]`: CPU time per message of the gateway's normalizer alone
 * (route, device id, decode and validate a canonical reading, CloudEvent headers, deterministic id)
 * on 2000 readings from 200 devices, received in the same few milliseconds as at high rates.
 * Measured by `reportCpuPerItem`.
 */
import { loadConfig } from "../core/config.ts";
import { subjects } from "../core/subjects.ts";
import { createNormalizer } from "../gateway/normalizer.ts";
import { reportCpuPerItem, sampleReadings } from "./cpu_per_item.ts";

export async function run(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 100);
  const cfg = loadConfig({ env: {}, overrides: {} });
  const n = createNormalizer({ gatewayId: "bench", routes: cfg.routes, limits: cfg.limits, subjects: subjects("iot", 8) });
  const now = Date.now();
  const msgs = sampleReadings(now);
  let events = 0;
  await reportCpuPerItem("normalize", "reading", rounds * msgs.length, () => {
    for (let k = 0; k < rounds; k++) for (const m of msgs) events += n.normalize(m.topic, m.payload, now + (k & 1)).events.length;
  });
  if (events !== 8 * rounds * msgs.length) throw new Error(`expected one event per reading, got ${events}`);
}
