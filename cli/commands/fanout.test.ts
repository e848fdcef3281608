// Proves: a running `fleetstream fanout` process picks up a rule added to its config file (watched; SIGHUP does the same) without a restart, keeps its rules when the file turns invalid, and exits cleanly on SIGTERM.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureStreams } from "../../core/streams.ts";
import { publishEvents, testConfig, waitFor, windowEvent } from "../../processors/ops/test_events.ts";
import { startNatsServer, type NatsServerHandle } from "../../testing/nats_server.ts";
import { freePort, removeDir, spawnManaged, tempDir, waitForHttp, type ManagedProcess } from "../../testing/process.ts";

let ns: NatsServerHandle;
let nc: NatsConnection;
let dir: string;
let proc: ManagedProcess | undefined;
beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  dir = tempDir("fanout-cli");
});
afterAll(async () => {
  await proc?.stop();
  await nc?.close();
  await ns?.cleanup();
  removeDir(dir);
});

it("reloads rules from the edited config file without a restart", async () => {
  const port = await freePort();
  const path = join(dir, "fleetstream.yaml");
  const base = { nats: { url: ns.url }, intake: "broker", mqtt: { url: "mqtt://127.0.0.1:1" }, http: { port, host: "127.0.0.1" } };
  const write = (rules: unknown[]) => writeFileSync(path, JSON.stringify({ ...base, rules }));
  write([]);
  const cfg = testConfig({ nats: { url: ns.url } });
  await ensureStreams(nc, cfg);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "CLI_OUT", subjects: ["cli_out.>"] });
  const count = async () => (await jsm.streams.info("CLI_OUT")).state.messages;

  proc = spawnManaged(process.execPath, ["--import", "tsx", "cli/main.ts", "fanout", "--config", path], { env: { ...process.env, FLEETSTREAM_LOG_LEVEL: "info" } });
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, 30_000).catch((e) => {
    throw new Error(`${e.message}\n${proc!.output()}`);
  });
  const t0 = Date.UTC(2026, 10, 30, 5);
  await publishEvents(nc, [windowEvent(cfg, "c1", t0, { t: [1] })]);
  await new Promise((r) => setTimeout(r, 500));
  expect(await count()).toBe(0);

  write([{ name: "cli_rule", pattern: { subject: ["c1"] }, target: { type: "jetstream", subject: "cli_out.c1" } }]);
  proc.child.kill("SIGHUP");
  await waitFor(async () => (await jsm.consumers.info("RESULTS", "fs_rule_cli_rule").then(() => true, () => false)), 10_000, "the new rule's consumer");
  await publishEvents(nc, [windowEvent(cfg, "c1", t0 + 60_000, { t: [2] })]);
  await waitFor(async () => (await count()) === 1, 10_000, "the new rule to deliver").catch((e) => {
    throw new Error(`${e.message}\n${proc!.output()}`);
  });

  // An invalid edit is refused with the offending path; the running rule stays.
  write([{ name: "cli_rule", pattern: { subject: [{ numeric: ["<"] }] }, target: { type: "jetstream", subject: "cli_out.c1" } }]);
  await waitFor(() => /rules\[0\]\.pattern\.subject: numeric expects/.test(proc!.output()), 10_000, "the reload error in the log");
  await publishEvents(nc, [windowEvent(cfg, "c1", t0 + 120_000, { t: [3] })]);
  await waitFor(async () => (await count()) === 2, 10_000, "the old rule to keep delivering");

  await proc.stop(10_000);
  expect(proc.child.exitCode).toBe(0);
});
