/**
 * One nats-server and one client connection for the tests of a file or `describe` block: started in
 * `beforeAll`, closed and removed in `afterAll`. Registers vitest hooks, so it is for test files only
 * (and not in `mod.ts`, which the benchmarks import).
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./nats_server.ts";

export interface NatsSuite {
  /** The server (valid inside tests and hooks registered after this call). */
  readonly ns: NatsServerHandle;
  readonly nc: NatsConnection;
}

/** @example const nats = natsForSuite(); it("...", async () => { await jetstreamManager(nats.nc) }) */
export function natsForSuite(options: Omit<ConnectionOptions, "servers"> = {}): NatsSuite {
  let ns: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    ns = await startNatsServer();
    nc = await connect({ ...options, servers: ns.url });
  });
  afterAll(async () => {
    await nc?.close();
    await ns?.cleanup();
  });
  return {
    get ns() {
      if (!ns) throw new Error("natsForSuite: the server starts in beforeAll");
      return ns;
    },
    get nc() {
      if (!nc) throw new Error("natsForSuite: the connection opens in beforeAll");
      return nc;
    },
  };
}
