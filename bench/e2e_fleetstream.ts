/**
 * `fleetstream start` as the end-to-end bench runs it: a separate OS process started the way a user
 * starts it (bin/fleetstream.js, which runs the bundled CLI in its own process, so the pid is the
 * worker; its `#!` line's node flags apply), configured by environment and a config file of its own, ready once `/readyz` answers 200.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, removeDir, spawnManaged, tempDir, type ManagedProcess } from "../testing/mod.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface FleetstreamProcessOptions {
  natsUrl: string;
  /** Broker intake: the gateway subscribes here. */
  mqttUrl: string;
  /** An `/api/v2/write` server (VictoriaMetrics here). */
  influxUrl: string;
  gatewayId: string;
  /** Extra node flags, e.g. `--max-old-space-size=64`. */
  nodeArgs?: string[];
  /** `gateway.maxInFlight`; the default when undefined. */
  maxInFlight?: number;
  /** `streams.replicas` (on a NATS cluster); the default when undefined. */
  replicas?: number;
}

export interface FleetstreamProcess {
  readonly pid: number;
  readonly metricsUrl: string;
  /** The last lines it printed. */
  output(): string;
  /** Exit code or signal once it has exited, else undefined. */
  exited(): string | undefined;
  /** SIGTERM (it drains), SIGKILL after 15 s; removes its config directory. */
  stop(): Promise<void>;
}

/** Starts `fleetstream start` and waits until it is ready. */
export async function startFleetstream(o: FleetstreamProcessOptions): Promise<FleetstreamProcess> {
  const dir = tempDir("bench-e2e");
  const config = join(dir, "fleetstream.yaml");
  writeFileSync(
    config,
    [
      `gatewayId: ${o.gatewayId}`,
      `mqtt:`,
      `  clientId: ${o.gatewayId}-mqtt`,
      `  protocolVersion: 5`,
      ...(o.maxInFlight ? [`gateway:`, `  maxInFlight: ${o.maxInFlight}`] : []),
      ...(o.replicas ? [`streams:`, `  replicas: ${o.replicas}`] : []),
      `log:`,
      `  level: warn`,
    ].join("\n") + "\n",
  );
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: o.natsUrl,
    MQTT_URL: o.mqttUrl,
    INFLUX_URL: o.influxUrl,
    INFLUX_API: "v2",
    FLEETSTREAM_HTTP_PORT: String(port),
    FLEETSTREAM_CONFIG: config,
  };
  // As a user runs it: the bin itself, so its #! line's node flags apply; explicit node flags replace them.
  const bin = join(ROOT, "bin/fleetstream.js");
  const args = ["start", "--config", config, "--status", "1h"];
  const p: ManagedProcess = o.nodeArgs?.length ? spawnManaged(process.execPath, [...o.nodeArgs, bin, ...args], { cwd: ROOT, env }) : spawnManaged(bin, args, { cwd: ROOT, env });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (p.child.exitCode !== null) {
      removeDir(dir);
      throw new Error(`fleetstream start exited (${p.child.exitCode}): ${p.output()}`);
    }
    const ok = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await p.stop();
      removeDir(dir);
      throw new Error(`fleetstream start not ready within 60 s: ${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: p.child.pid!,
    metricsUrl: `${base}/metrics`,
    output: () => p.output(),
    exited: () => (p.child.exitCode !== null ? `exit code ${p.child.exitCode}` : p.child.signalCode ?? undefined),
    stop: async () => {
      await p.stop(15_000);
      removeDir(dir);
    },
  };
}
