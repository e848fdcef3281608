// Proves beforeReconnect gives up a request that a dropped connection lost as soon as the connection is
// back, instead of after the request's timeout; and passes answers and other errors through.
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { natsForSuite } from "../testing/nats_suite.ts";
import { beforeReconnect, ReconnectedError } from "./on_reconnect.ts";

describe("beforeReconnect", () => {
  const nats = natsForSuite({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });

  it("passes an answer and an error through", async () => {
    const jsm = await jetstreamManager(nats.nc);
    await jsm.streams.add({ name: "ASK", subjects: ["ask.>"] });
    expect((await beforeReconnect(nats.nc, jsm.streams.info("ASK"))).config.name).toBe("ASK");
    await expect(beforeReconnect(nats.nc, jsm.streams.info("NOPE"))).rejects.toThrow(/stream not found/);
  });

  it("rejects a request the dropped connection lost once it is back", async () => {
    // Far longer than the test may take: only the reconnect can end it in time.
    const jsm = await jetstreamManager(nats.nc, { timeout: 600_000 });
    // A frozen server takes the request into its socket and never reads it; the kill loses it.
    await nats.ns.freeze();
    const lost = beforeReconnect(nats.nc, jsm.streams.info("ASK")).then(
      () => "answered",
      (e: Error) => e,
    );
    await new Promise((r) => setTimeout(r, 300));
    await nats.ns.kill();
    await nats.ns.start();
    expect(await lost).toBeInstanceOf(ReconnectedError);
  }, 30_000);
});
