import { describe, expect, it } from "vitest";
import { freePort, startNatsServer } from "../testing/mod.ts";
import { loadConfig } from "./config.ts";
import { silentLogger } from "./logger.ts";
import { DataBuffer, MsgHdrsImpl, TE } from "@nats-io/nats-core/internal";
import { connectNats, NatsUnreachableError, useFastTextEncoder } from "./nats.ts";

// Proves connectNats's errors name the URL without its password and the fix that fits (nothing
// listening, or credentials refused), and that nats.js's shared encoder is replaced everywhere.
describe("connectNats", () => {
  it("names the URL (without its password) and the fix when nothing listens", async () => {
    const port = await freePort();
    const cfg = loadConfig({ env: { NATS_URL: `nats://app:s3cret@127.0.0.1:${port}` } });
    const err = await connectNats(cfg.nats, silentLogger, "test").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsUnreachableError);
    expect((err as Error).message).toMatch(new RegExp(`nats://app:\\*\\*\\*@127.0.0.1:${port}.*set NATS_URL`));
    expect((err as Error).message).not.toMatch(/s3cret/);
  });

  it("says to check the credentials when the server refuses them, without showing them", async () => {
    const ns = await startNatsServer({ extraConfig: "authorization { user: app, password: right-one }" });
    try {
      const cfg = loadConfig({ env: { NATS_URL: ns.url, NATS_USER: "app", NATS_PASS: "wrong-one" } });
      const err = await connectNats(cfg.nats, silentLogger, "test").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NatsUnreachableError);
      expect((err as Error).message).toMatch(/\(Authorization Violation\): check NATS_USER and NATS_PASS/);
      expect((err as Error).message).not.toMatch(/wrong-one|right-one/);
      // With the right ones it connects.
      const nc = await connectNats({ ...cfg.nats, pass: "right-one" }, silentLogger, "test");
      await nc.close();
    } finally {
      await ns.cleanup();
    }
  });
});

describe("useFastTextEncoder", () => {
  it("gives nats.js's shared encoder the bytes TextEncoder gives, from Node's Buffer pool", () => {
    useFastTextEncoder();
    const plain = new TextEncoder();
    for (const s of ["HPUB iot.telemetry.3.t1 _INBOX.x.1 412 530\r\n", "", "ce-subject: Küche-°C", "lone \ud800 surrogate", "+ACK"]) {
      const got = TE.encode(s);
      expect(got).toBeInstanceOf(Uint8Array);
      expect([...got]).toEqual([...plain.encode(s)]);
    }
    expect([...TE.encode()]).toEqual([]);
    expect(Buffer.isBuffer(TE.encode("x"))).toBe(true);
  });

  it("reaches nats.js's own call sites, which look the encoder up per call", () => {
    useFastTextEncoder();
    // If a nats.js upgrade kept its own reference to TextEncoder#encode, these would be plain Uint8Arrays.
    expect(Buffer.isBuffer(DataBuffer.fromAscii("PUB a 1\r\n"))).toBe(true);
    const h = new MsgHdrsImpl();
    h.set("ce-id", "d:1");
    expect(Buffer.isBuffer(h.encode())).toBe(true);
    expect(Buffer.from(h.encode()).toString()).toBe("NATS/1.0\r\nce-id: d:1\r\n\r\n");
  });
});
