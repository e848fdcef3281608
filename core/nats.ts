/** Connecting to NATS from config, with the options a long-running service wants. */
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { TE } from "@nats-io/nats-core/internal";
import { redactUrl, type Config } from "./config.ts";
import { NatsUnreachableError } from "./errors.ts";
import type { Logger } from "./logger.ts";

/**
 * nats.js encodes every protocol line (`HPUB <subject> <reply> <sizes>`, one per publish and per ack)
 * with its shared `TextEncoder`, which allocates a fresh ArrayBuffer each time (~1.1 µs). A `Buffer`
 * from Node's pool holds the same bytes for ~0.2 µs. nats.js reads that encoder at each call, so
 * giving the instance its own `encode` reaches every call site (the result is still a Uint8Array).
 */
export function useFastTextEncoder(): void {
  const te = TE as TextEncoder & { fleetstream?: true };
  if (te.fleetstream) return;
  te.encode = (input = "") => Buffer.from(String(input), "utf8");
  te.fleetstream = true;
}
useFastTextEncoder();

/**
 * Connects with endless reconnects: a NATS restart must never end a fleetstream process.
 * @example const nc = await connectNats(cfg.nats, log, "gateway")
 */
export async function connectNats(
  natsCfg: Config["nats"],
  log: Logger,
  name: string,
): Promise<NatsConnection> {
  const nc = await connect(connectOptions(natsCfg, name)).catch((e: Error) => {
    // The server answered but refused the credentials: the fix is in them, not in the URL.
    const fix = /authori[sz]ation|authentication/i.test(e.message)
      ? "check NATS_USER and NATS_PASS (or NATS_TOKEN, NATS_CREDS, or the user in NATS_URL)"
      : "start nats-server >= 2.10 with JetStream there, or set NATS_URL";
    throw new NatsUnreachableError(`cannot connect to NATS at ${redactUrl(natsCfg.url)} (${e.message}): ${fix}`, { cause: e });
  });
  const version = nc.info?.version ?? "0.0.0";
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major < 2 || (major === 2 && minor < 10)) {
    await nc.close();
    throw new NatsUnreachableError(`nats-server ${version} at ${redactUrl(natsCfg.url)} is too old: fleetstream needs >= 2.10 (scripts/setup.sh installs one), or set NATS_URL to another server`);
  }
  watchStatus(nc, log);
  return nc;
}

function connectOptions(natsCfg: Config["nats"], name: string) {
  return {
    servers: natsCfg.url.split(",").map((s) => s.trim()),
    name: `fleetstream-${name}`,
    user: natsCfg.user,
    pass: natsCfg.pass,
    token: natsCfg.token,
    authenticator: natsCfg.credsFile ? credsAuthenticator(readFileSync(natsCfg.credsFile)) : undefined,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    noAsyncTraces: true,
  };
}

function watchStatus(nc: NatsConnection, log: Logger): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        log.info(`nats ${s.type}`, { server: "server" in s ? s.server : undefined });
      }
    }
  })().catch(() => {});
}

export { NatsUnreachableError };
