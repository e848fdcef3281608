/** Where the servers the tests need are installed (scripts/setup.sh puts nats-server, prometheus, promtool and docker-compose in .tools/bin). */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../core/project_root.ts";

const ROOT = PROJECT_ROOT;

function first(candidates: Array<string | undefined>, what: string): string {
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error(`${what} not found (looked in ${candidates.filter(Boolean).join(", ")}): run scripts/setup.sh`);
}

export const binaries = {
  natsServer: () => first([process.env.NATS_SERVER_BIN, join(ROOT, ".tools/bin/nats-server")], "nats-server >= 2.10"),
  mosquitto: () => first([process.env.MOSQUITTO_BIN, "/usr/sbin/mosquitto", "/usr/bin/mosquitto"], "mosquitto"),
  victoriaMetrics: () => first([process.env.VICTORIA_METRICS_BIN, "/usr/bin/victoria-metrics"], "victoria-metrics"),
  influxd: () => first([process.env.INFLUXD_BIN, "/usr/bin/influxd"], "influxd (InfluxDB 1.x)"),
  prometheus: () => first([process.env.PROMETHEUS_BIN, join(ROOT, ".tools/bin/prometheus"), "/usr/bin/prometheus"], "prometheus"),
  promtool: () => first([process.env.PROMTOOL_BIN, join(ROOT, ".tools/bin/promtool"), "/usr/bin/promtool"], "promtool"),
  /** Docker Compose v2, standalone (no engine needed to resolve a compose file). */
  dockerCompose: () => first([process.env.DOCKER_COMPOSE_BIN, join(ROOT, ".tools/bin/docker-compose")], "docker-compose (Compose v2)"),
};
