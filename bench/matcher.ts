/**
 * `npm run bench -- matcher [seconds]`: rule evaluations per second of 100 compiled patterns
 * against one ~1 KB structured CloudEvent (mixed operators, ~10 % of the rules match).
 */
import { compilePattern, type Matcher } from "../processors/fanout/pattern.ts";

function event(): Record<string, unknown> {
  const metrics: Record<string, unknown> = {};
  for (let i = 0; i < 10; i++) metrics[`m${i}`] = { count: 60, sum: 60 * i, min: i - 1, max: i + 1, mean: i, first: i, last: i, stddev: 0.5 };
  return {
    specversion: "1.0",
    id: "truck-7:w:tumbling_1m:1764528000000:r0",
    source: "fleetstream/processor/p1",
    type: "WindowAggregateComputed",
    subject: "truck-7",
    time: "2026-11-30T12:00:00.000Z",
    datacontenttype: "application/json",
    data: { device: "truck-7", window: "tumbling_1m", start: 1764528000000, end: 1764528060000, revision: 0, zone: "eu-west", tags: ["cold-chain", "priority"], metrics },
  };
}

function rules(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    const m = `m${i % 10}`;
    switch (i % 10) {
      case 0: out.push({ type: ["WindowAggregateComputed"], subject: [`truck-${i}`] }); break;
      case 1: out.push({ type: ["WindowAggregateComputed"], data: { metrics: { [m]: { max: [{ numeric: [">", i] }] } } } }); break;
      case 2: out.push({ subject: [{ prefix: `truck-${i % 9}` }] }); break;
      case 3: out.push({ source: [{ suffix: `/p${i}` }], type: [{ "anything-but": ["LocationEnriched"] }] }); break;
      case 4: out.push({ data: { zone: [{ "equals-ignore-case": i % 20 === 4 ? "EU-WEST" : "US-EAST" }] } }); break;
      case 5: out.push({ subject: [{ wildcard: `*-${i}` }] }); break;
      case 6: out.push({ data: { tags: [`tag-${i}`], metrics: { [m]: { mean: [{ numeric: [">=", 0, "<", 100] }] } } } }); break;
      case 7: out.push({ data: { metrics: { [`x${i}`]: [{ exists: true }] } } }); break;
      case 8: out.push({ $or: [{ subject: [`car-${i}`] }, { data: { window: [`session_${i}s`] } }] }); break;
      default: out.push({ type: ["SequenceGapDetected", "LocationEnriched"] });
    }
  }
  return out;
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 3);
  const ev = event();
  const size = Buffer.byteLength(JSON.stringify(ev));
  const matchers: Matcher[] = rules().map((r, i) => compilePattern(r, `rules[${i}].pattern`));
  const matching = matchers.filter((m) => m(ev)).length;
  let evals = 0;
  let hits = 0;
  const end = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  while (Date.now() < end) {
    for (let k = 0; k < 100; k++) for (const m of matchers) if (m(ev)) hits++;
    evals += 100 * matchers.length;
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `matcher: ${matchers.length} rules, event ${size} bytes, ${matching} rules match\n` +
      `  ${Math.round(evals / secs).toLocaleString("en")} rule evaluations/s\n` +
      `  ${Math.round(evals / matchers.length / secs).toLocaleString("en")} events/s through all ${matchers.length} rules\n` +
      `  (${hits} hits)\n`,
  );
}
