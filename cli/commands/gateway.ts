/** `fleetstream gateway`: MQTT in -> validate/decode -> CloudEvents -> JetStream (+ DLQ). */
import { runGateway } from "../../gateway/main.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "run the MQTT gateway (broker or nats-server MQTT intake -> JetStream)";
export const usage = `Usage: fleetstream gateway [options]

Receives device messages over MQTT, validates and normalizes them into CloudEvents and stores them in
the TELEMETRY / LOCATION streams (rejects go to the DLQ). A QoS 1 message is acknowledged only after
JetStream has stored what it produced.

Intake: MQTT_URL set (or intake: broker) subscribes to that broker with a persistent session;
unset (intake: nats), devices use nats-server's MQTT listener and the gateway reads the raw stream.

${CONFIG_USAGE}

Serves /metrics, /healthz and /readyz on http.port (FLEETSTREAM_HTTP_PORT, default 9464).
SIGTERM drains: in-flight messages finish or stay unacknowledged for redelivery.
`;

export async function run(argv: string[]): Promise<number> {
  const { cfg } = parseCommand(argv, {});
  return runGateway(cfg);
}
