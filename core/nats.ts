/** Connecting to NATS from config, with the options a long-running service wants. */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { credsAuthenticator } from "@nats-io/transport-node";
import type { Config } from "./config.ts";
import type { Logger } from "./logger.ts";

/**
 * Connects with endless reconnects: a NATS restart must never end a fleetstream process.
 * @example const nc = await connectNats(cfg.nats, log, "gateway")
 */
export async function connectNats(
  natsCfg: Config["nats"],
  log: Logger,
  name: string,
): Promise<NatsConnection> {
  const nc = await connect({
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
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        log.info(`nats ${s.type}`, { server: "server" in s ? s.server : undefined });
      }
    }
  })().catch(() => {});
  return nc;
}
