// Proves `fleetstream streams` on a three-node cluster: `create` makes the streams with
// FLEETSTREAM_STREAM_REPLICAS copies and leaves them when a lower value is given, unless
// --scale-down asks for it; `ls` shows each stream's replicas. And `fleetstream start` asking more
// replicas than there are nodes exits with the config error instead of hanging on its connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startNatsCluster, type NatsClusterHandle } from "../../testing/mod.ts";
import { natsForSuite } from "../../testing/nats_suite.ts";

describe("fleetstream streams", () => {
  let cluster: NatsClusterHandle;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => cluster?.cleanup());

  const streams = (args: string[], replicas: number) =>
    runCli(["streams", ...args], { NATS_URL: cluster.url, MQTT_URL: "mqtt://127.0.0.1:1", FLEETSTREAM_STREAM_REPLICAS: String(replicas), FLEETSTREAM_STREAM_PREFIX: "CLI_" });
  const actions = (stdout: string) => stdout.trim().split("\n").map((l) => l.split(/\s+/));
  const replicasOf = async (): Promise<Record<string, number>> => {
    const r = await streams(["ls", "--json"], 1);
    expect(r.code, r.stderr).toBe(0);
    return Object.fromEntries((JSON.parse(r.stdout) as Array<{ name: string; replicas: number }>).map((s) => [s.name, s.replicas]));
  };
  const ALL = ["CLI_TELEMETRY", "CLI_LOCATION", "CLI_RESULTS", "CLI_DLQ"];

  it("creates with the replicas asked, keeps them against a lower value, and lowers them on --scale-down", async () => {
    const created = await streams(["create"], 3);
    expect(created.code, created.stderr).toBe(0);
    expect(actions(created.stdout)).toEqual(ALL.map((n) => [n, "created"]));
    expect(await replicasOf()).toEqual(Object.fromEntries(ALL.map((n) => [n, 3])));

    const kept = await streams(["create"], 1);
    expect(actions(kept.stdout)).toEqual(ALL.map((n) => [n, "unchanged"]));
    expect(await replicasOf()).toEqual(Object.fromEntries(ALL.map((n) => [n, 3])));

    const lowered = await streams(["create", "--scale-down"], 1);
    expect(lowered.code, lowered.stderr).toBe(0);
    expect(actions(lowered.stdout)).toEqual(ALL.map((n) => [n, "updated"]));
    expect(await replicasOf()).toEqual(Object.fromEntries(ALL.map((n) => [n, 1])));

    const table = await streams(["ls"], 1);
    expect(table.stdout.split("\n")[0]).toMatch(/^STREAM +MESSAGES +BYTES CONSUMERS REPLICAS SUBJECTS$/);
    expect(table.stdout).toMatch(/^CLI_TELEMETRY +0 +0 +0 +1 iot\.telemetry\.>$/m);
  }, 60_000);
});

describe("fleetstream start with more replicas than JetStream nodes", () => {
  const nats = natsForSuite();

  it("exits 78 and names streams.replicas, though it has already connected to NATS", async () => {
    const r = await runCli(["start"], { NATS_URL: nats.ns.url, MQTT_URL: "mqtt://127.0.0.1:1", FLEETSTREAM_STREAM_REPLICAS: "3", FLEETSTREAM_HTTP_PORT: "0" });
    expect(r.code, r.stderr).toBe(78);
    expect(r.stderr).toMatch(/^fleetstream start: JetStream cannot place stream TELEMETRY with streams\.replicas 3 \(replicas > 1 not supported in non-clustered mode\): set streams\.replicas \(FLEETSTREAM_STREAM_REPLICAS\) to at most/);
  }, 30_000);
});
