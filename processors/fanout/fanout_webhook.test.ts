// Proves: a webhook down for 20 s delays no other rule and receives every event once back; a target that stays down fills the DLQ as delivery_failed, and `fleetstream dlq redrive` delivers them once it is up; rules reload without a restart.
import { writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { run as dlqCommand } from "../../cli/commands/dlq.ts";
import type { RuleConfig } from "../../core/config.ts";
import { silentLogger } from "../../core/logger.ts";
import { createRegistry } from "../../core/metrics.ts";
import { ensureStreams } from "../../core/streams.ts";
import { natsForSuite } from "../../testing/nats_suite.ts";
import { freePort, tempDir, removeDir } from "../../testing/process.ts";
import { listDlq } from "../ops/dlq_store.ts";
import { publishEvents, testConfig, waitFor, windowEvent } from "../ops/test_events.ts";
import { createFanout } from "./fanout.ts";

/** A webhook receiver that can be up or down on a fixed port. */
function hook(port: number) {
  const received: Array<{ headers: IncomingHttpHeaders; body: Record<string, unknown> }> = [];
  let server: Server | undefined;
  return {
    received,
    ids: () => new Set(received.map((r) => r.body.id as string)),
    async up() {
      server = createServer((req, res) => {
        let text = "";
        req.on("data", (c) => (text += c));
        req.on("end", () => {
          received.push({ headers: req.headers, body: JSON.parse(text) });
          res.statusCode = 204;
          res.end();
        });
      });
      await new Promise<void>((r) => server!.listen(port, "127.0.0.1", () => r()));
    },
    async down() {
      server?.closeAllConnections();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server = undefined;
    },
  };
}

const nats = natsForSuite();
let dir: string;
beforeAll(async () => {
  dir = tempDir("fanout-test");
});
afterAll(async () => {
  removeDir(dir);
});

it("keeps other rules delivering while a webhook is down, catches up, dead-letters and redrives", async () => {
  const [hookPort, deadPort] = [await freePort(), await freePort()];
  const live = hook(hookPort);
  const dead = hook(deadPort);
  const rules: RuleConfig[] = [
    { name: "to_js", pattern: { type: ["WindowAggregateComputed"] }, target: { type: "jetstream", subject: "copied.windows" }, maxAttempts: 5, backoff: { initial: 100, max: 1000 } },
    {
      name: "hot_hook",
      pattern: { type: ["WindowAggregateComputed"], data: { metrics: { temperature: { max: [{ numeric: [">", 25] }] } } } },
      target: { type: "webhook", url: `http://127.0.0.1:${hookPort}/hook`, headers: { "x-token": "t" }, timeout: 1000 },
      maxAttempts: 60,
      backoff: { initial: 100, max: 1000 },
    },
    { name: "dead_hook", pattern: { subject: [{ prefix: "dev-" }] }, target: { type: "webhook", url: `http://127.0.0.1:${deadPort}/x`, timeout: 500 }, maxAttempts: 3, backoff: { initial: 50, max: 100 } },
  ];
  const configPath = join(dir, "fleetstream.yaml");
  const overrides = { nats: { url: nats.ns.url }, rules };
  writeFileSync(configPath, JSON.stringify({ ...overrides, intake: "broker", mqtt: { url: "mqtt://127.0.0.1:1" } }));
  const cfg = testConfig(overrides);
  await ensureStreams(nats.nc, cfg);
  const jsm = await jetstreamManager(nats.nc);
  await jsm.streams.add({ name: "COPIED", subjects: ["copied.>"] });

  const registry = createRegistry();
  const fanout = createFanout({ nc: nats.nc, cfg, log: silentLogger, registry });
  await fanout.start();
  try {
    const t0 = Date.UTC(2026, 10, 30, 8, 0, 0);
    // 30 windows, 20 of them hot (max > 25).
    const events = Array.from({ length: 30 }, (_, i) => windowEvent(cfg, `dev-${i % 3}`, t0 + i * 60_000, { temperature: [20, i % 3 === 0 ? 22 : 30] }));
    const hot = new Set(events.filter((_, i) => i % 3 !== 0).map((e) => e.event.id));
    const downSince = Date.now();
    await publishEvents(nats.nc, events);

    // The webhook is down, yet the JetStream rule delivers everything.
    await waitFor(async () => (await jsm.streams.info("COPIED")).state.messages === 30, 10_000, "30 copies on the JetStream target");
    const copy = await (await jetstream(nats.nc).consumers.get("COPIED")).next({ expires: 2000 });
    expect(copy?.headers?.get("Nats-Msg-Id")).toBe(events[0]!.event.id);
    expect(copy?.headers?.get("ce-type")).toBe("WindowAggregateComputed");

    // The target that stays down fills the DLQ.
    await waitFor(async () => (await listDlq(nats.nc, cfg, { stage: "fanout", reason: "delivery_failed" })).length === 30, 20_000, "30 DLQ records");
    const records = await listDlq(nats.nc, cfg, { stage: "fanout", target: "dead_hook" });
    expect(records).toHaveLength(30);
    expect(records[0]!.record).toMatchObject({ stage: "fanout", reason: "delivery_failed", target: "dead_hook", device: "dev-0" });
    expect(records[0]!.record.error).toMatch(/ECONNREFUSED.*after 3 attempts/);
    expect(live.received).toHaveLength(0);

    // Back after 20 s: every hot event arrives, in structured mode.
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - downSince))));
    await live.up();
    await waitFor(() => live.ids().size === hot.size, 15_000, "every hot event at the webhook");
    expect([...live.ids()].sort()).toEqual([...hot].sort());
    expect(live.received[0]!.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
    expect(live.received[0]!.headers["x-token"]).toBe("t");
    expect(live.received[0]!.body).toMatchObject({ specversion: "1.0", type: "WindowAggregateComputed", datacontenttype: "application/json" });
    expect((live.received[0]!.body.data as { metrics: unknown }).metrics).toBeDefined();
    const metrics = await registry.getSingleMetricAsString("fleetstream_fanout_deliveries_total");
    expect(metrics).toMatch(/rule="hot_hook",outcome="retried"\} [1-9]/);
    expect(metrics).toMatch(/rule="dead_hook",outcome="failed"\} 30/);

    // The dead target comes up; `dlq redrive` delivers the 30 and empties the DLQ of them.
    await dead.up();
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await dlqCommand(["redrive", "--stage", "fanout", "--target", "dead_hook", "--config", configPath]);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join("")).toMatch(/30 redriven and removed, 0 failed/);
    expect(code).toBe(0);
    expect(dead.ids()).toEqual(new Set(events.map((e) => e.event.id)));
    expect(await listDlq(nats.nc, cfg, { stage: "fanout" })).toHaveLength(0);
  } finally {
    await fanout.stop();
    await live.down();
    await dead.down();
  }
});

it("reloads rules without a restart and refuses an invalid rule set with the offending path", async () => {
  const cfg = testConfig({ nats: { url: nats.ns.url }, streams: { prefix: "R_", subjectRoot: "r" } });
  await ensureStreams(nats.nc, cfg);
  const jsm = await jetstreamManager(nats.nc);
  await jsm.streams.add({ name: "RELOADED", subjects: ["reloaded.>"] });
  const fanout = createFanout({ nc: nats.nc, cfg, log: silentLogger, registry: createRegistry() });
  await fanout.start();
  try {
    expect(fanout.rules).toEqual([]);
    const rule: RuleConfig = { name: "late", pattern: { data: { window: ["tumbling_1m"] } }, target: { type: "jetstream", subject: "reloaded.x" }, maxAttempts: 3, backoff: { initial: 100, max: 200 } };
    expect(await fanout.reload([rule])).toEqual({ started: ["late"], restarted: [], removed: [] });
    await publishEvents(nats.nc, [windowEvent(cfg, "r1", Date.UTC(2026, 10, 30, 7), { t: [1] })]);
    await waitFor(async () => (await jsm.streams.info("RELOADED")).state.messages === 1, 10_000, "the new rule to deliver");
    await expect(fanout.reload([{ ...rule, pattern: { data: { temp: [{ numeric: [">", "hot"] }] } } }])).rejects.toThrow(/^rules\[0\]\.pattern\.data\.temp: numeric expects/);
    expect(fanout.rules).toEqual(["late"]);
    expect(await fanout.reload([])).toEqual({ started: [], restarted: [], removed: ["late"] });
    await expect(jsm.consumers.info("R_RESULTS", "fs_rule_late")).rejects.toThrow(/consumer not found/);
  } finally {
    await fanout.stop();
  }
});
