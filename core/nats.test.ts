import { describe, expect, it } from "vitest";
import { freePort } from "../testing/mod.ts";
import { loadConfig } from "./config.ts";
import { silentLogger } from "./logger.ts";
import { connectNats, NatsUnreachableError } from "./nats.ts";

describe("connectNats", () => {
  it("names the URL (without its password) and the fix when nothing listens", async () => {
    const port = await freePort();
    const cfg = loadConfig({ env: { NATS_URL: `nats://app:s3cret@127.0.0.1:${port}` } });
    const err = await connectNats(cfg.nats, silentLogger, "test").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsUnreachableError);
    expect((err as Error).message).toMatch(new RegExp(`nats://app:\\*\\*\\*@127.0.0.1:${port}.*set NATS_URL`));
    expect((err as Error).message).not.toMatch(/s3cret/);
  });
});
