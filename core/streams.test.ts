// Proves that when a nats-server's JetStream storage limit cannot hold every stream's reserved
// streams.maxBytes, provisioning stops with a config error that names the key and the fix (nats-server
// itself only says "insufficient storage resources available"), and that lowering it is the fix; that
// more replicas than JetStream nodes names streams.replicas, and a JetStream that does not answer
// is reported as such, naming the stream.
import { connect } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "../testing/mod.ts";
import { natsForSuite } from "../testing/nats_suite.ts";
import { loadConfig } from "./config.ts";
import { ConfigError, NatsUnreachableError } from "./errors.ts";
import { ensureStreams } from "./streams.ts";

describe("ensureStreams against a storage limit", () => {
  let ns: NatsServerHandle;
  beforeEach(async () => {
    ns = await startNatsServer({ maxStore: "3GB" });
  });
  afterEach(async () => ns?.cleanup());

  it("names streams.maxBytes and max_file_store when the streams' reservations do not fit", async () => {
    const nc = await connect({ servers: ns.url });
    try {
      const cfg = loadConfig({ env: {}, overrides: { streams: { prefix: "BIG_", maxBytes: 1024 ** 3 } } });
      const err = await ensureStreams(nc, cfg).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).key).toBe("streams.maxBytes");
      expect((err as Error).message).toMatch(/streams\.maxBytes \(1 GiB\) for stream BIG_\w+/);
      expect((err as Error).message).toMatch(/5 streams \(BIG_TELEMETRY, .*\) reserves streams\.maxBytes, 5 GiB in all: lower streams\.maxBytes or raise max_file_store/);
    } finally {
      await nc.close();
    }
  });

  it("provisions every stream once streams.maxBytes is lowered, on the same server", async () => {
    const nc = await connect({ servers: ns.url });
    try {
      const big = loadConfig({ env: {}, overrides: { streams: { maxBytes: 1024 ** 3 } } });
      await expect(ensureStreams(nc, big)).rejects.toBeInstanceOf(ConfigError);
      // The streams made before the refusal keep their reservations until updated.
      const small = loadConfig({ env: {}, overrides: { streams: { maxBytes: 256 * 1024 ** 2 } } });
      const done = await ensureStreams(nc, small);
      expect(done.length).toBe(5);
      expect(done.map((d) => d.action)).toContain("updated");
      expect(done.map((d) => d.action)).toContain("created");
    } finally {
      await nc.close();
    }
  });
});

describe("ensureStreams on a server that cannot take them", () => {
  const nats = natsForSuite({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });

  it("names streams.replicas when it asks more copies than there are JetStream nodes", async () => {
    const cfg = loadConfig({ env: {}, overrides: { streams: { prefix: "R3_", replicas: 3 } } });
    const err = await ensureStreams(nats.nc, cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("streams.replicas");
    expect((err as Error).message).toMatch(/cannot place stream R3_TELEMETRY with streams\.replicas 3 .*set streams\.replicas \(FLEETSTREAM_STREAM_REPLICAS\) to at most/);
  });

  it("says JetStream did not answer, and while doing what, when a request times out", async () => {
    await nats.ns.freeze();
    try {
      const cfg = loadConfig({ env: {}, overrides: { streams: { prefix: "FROZEN_" } } });
      const err = await ensureStreams(nats.nc, cfg, { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NatsUnreachableError);
      expect((err as Error).message).toMatch(/^JetStream did not answer within 0\.5 s while looking up the JetStream account: check/);
    } finally {
      process.kill(nats.ns.pid!, "SIGCONT");
    }
  });
});

describe("ensureStreams on a nats-server without JetStream", () => {
  it("says so and how to turn it on", async () => {
    const ns = await startNatsServer({ jetstream: false });
    const nc = await connect({ servers: ns.url });
    try {
      const err = await ensureStreams(nc, loadConfig({ env: {} })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NatsUnreachableError);
      expect((err as Error).message).toMatch(/^nats-server at 127\.0\.0\.1:\d+ runs without JetStream \(.*\): start it with -js or a jetstream block/);
    } finally {
      await nc.close();
      await ns.cleanup();
    }
  });
});
