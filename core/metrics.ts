/**
 * A Prometheus registry per process and the small HTTP server behind `/metrics`, `/healthz`
 * and `/readyz` (CONTRACT section 9). No global registry: each process (and each test) owns one.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createRegistry(opts: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const reg = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: reg, prefix: opts.prefix ?? "fleetstream_process_" });
  return reg;
}

/** A readiness check: returns a reason string when not ready. */
export type ReadyCheck = () => string | undefined;

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` (the process is alive) and `/readyz` (every check passes).
 * @example const ops = await startOpsServer(registry, { port: 9464, checks: [() => nc.isClosed() ? "nats closed" : undefined] })
 */
export async function startOpsServer(
  registry: Registry,
  opts: { port: number; host?: string; checks?: ReadyCheck[] },
): Promise<OpsServer> {
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      res.setHeader("content-type", registry.contentType);
      res.end(await registry.metrics());
    } else if (path === "/healthz") {
      res.end("ok\n");
    } else if (path === "/readyz") {
      const reasons = (opts.checks ?? []).map((c) => c()).filter((r): r is string => !!r);
      res.statusCode = reasons.length ? 503 : 200;
      res.end(reasons.length ? reasons.join("\n") + "\n" : "ready\n");
    } else {
      res.statusCode = 404;
      res.end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
