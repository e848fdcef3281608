/** `fleetstream simulate`: a device fleet publishing over MQTT, with reproducible disorder, duplicates and faults. */
import { parseDuration } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";
import { SimulatorOptionError } from "../../simulator/errors.ts";
import { fromConfig, type SimulatorOptions } from "../../simulator/options.ts";
import { createSimulator } from "../../simulator/simulator.ts";
import { CONFIG_USAGE, parseCommand } from "../args.ts";

export const summary = "simulate a device fleet (sensors, vehicles, OwnTracks, zigbee2mqtt) over MQTT";
export const usage = `Usage: fleetstream simulate [options]

Publishes canonical readings on devices/<id>/telemetry and locations on devices/<id>/location
(plus OwnTracks and zigbee2mqtt devices if asked), in real time. Progress goes to stderr every
second; the summary is printed to stdout as JSON at the end. The same --seed and --start-ts send
exactly the same messages.

  --url <url>              MQTT broker (default: MQTT_URL, else mqtt://127.0.0.1:1883)
  --devices <n>            canonical sensors (default 10)
  --vehicles <n>           vehicles sending locations (default 2)
  --owntracks <n>          OwnTracks phones (default 0)
  --zigbee <n>             zigbee2mqtt sensors (default 0)
  --rate <r>               readings per second per device (default 1)
  --duration <d>           stop after this much time, e.g. 30s, 5m (default: run until Ctrl-C)
  --count <n>              stop after this many MQTT messages
  --seed <n>               random seed (default 1)
  --start-ts <ms>          event time of the first reading, epoch ms (default: now)
  --prefix <p>             device id prefix, e.g. "site1-"
  --disorder <f>           fraction of readings sent late, after up to --disorder-window later ones (default 0)
  --disorder-window <n>    (default 5)
  --duplicates <f>         fraction of messages sent twice (default 0)
  --malformed <f>          fraction of ticks with an extra bad message per device (default 0)
  --offline <f>            chance per device-second of an offline spell; readings arrive late as batches (default 0)
  --offline-duration <d>   length of an offline spell (default 30s)
  --qos <0|1|2>            (default 1)
  --mqtt-version <4|5>     4 = MQTT 3.1.1, which nats-server's MQTT listener needs (default 4)
  --client-id <id>         MQTT client id (default: generated)
  --max-inflight <n>       publishes awaiting PUBACK, at most (default 1000)
  --quiet                  no progress lines
${CONFIG_USAGE}

Example: fleetstream simulate --devices 50 --rate 2 --duration 5m --disorder 0.05 --duplicates 0.01 --malformed 0.01
`;

const OPTIONS = {
  url: { type: "string" },
  devices: { type: "string" },
  vehicles: { type: "string" },
  owntracks: { type: "string" },
  zigbee: { type: "string" },
  rate: { type: "string" },
  duration: { type: "string" },
  count: { type: "string" },
  seed: { type: "string" },
  "start-ts": { type: "string" },
  prefix: { type: "string" },
  disorder: { type: "string" },
  "disorder-window": { type: "string" },
  duplicates: { type: "string" },
  malformed: { type: "string" },
  offline: { type: "string" },
  "offline-duration": { type: "string" },
  qos: { type: "string" },
  "mqtt-version": { type: "string" },
  "client-id": { type: "string" },
  "max-inflight": { type: "string" },
  quiet: { type: "boolean" },
} as const;

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new ConfigError(`--${flag} must be a number, got "${v}"`, flag);
  return n;
}

function dur(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseDuration(/^\d+(\.\d+)?$/.test(v) ? `${v}s` : v);
  } catch (e) {
    throw new ConfigError(`--${flag}: ${(e as Error).message}`, flag);
  }
}

/** Turns the command line into simulator options (exported for tests). */
export function optionsFromArgv(argv: string[]): SimulatorOptions {
  const { values: v, cfg } = parseCommand(argv, OPTIONS);
  try {
    return fromConfig({
      url: v.url ?? cfg.mqtt.url,
      username: cfg.mqtt.username,
      password: cfg.mqtt.password,
      sensors: num("devices", v.devices),
      vehicles: num("vehicles", v.vehicles),
      owntracks: num("owntracks", v.owntracks),
      zigbee: num("zigbee", v.zigbee),
      rate: num("rate", v.rate),
      duration: dur("duration", v.duration),
      count: num("count", v.count),
      seed: num("seed", v.seed),
      startTs: num("start-ts", v["start-ts"]),
      prefix: v.prefix,
      disorder: num("disorder", v.disorder),
      disorderWindow: num("disorder-window", v["disorder-window"]),
      duplicates: num("duplicates", v.duplicates),
      malformed: num("malformed", v.malformed),
      offline: num("offline", v.offline),
      offlineDuration: dur("offline-duration", v["offline-duration"]),
      qos: num("qos", v.qos) as SimulatorOptions["qos"] | undefined,
      protocolVersion: num("mqtt-version", v["mqtt-version"]) as SimulatorOptions["protocolVersion"] | undefined,
      clientId: v["client-id"],
      maxInFlight: num("max-inflight", v["max-inflight"]),
      progressInterval: v.quiet ? 0 : undefined,
    });
  } catch (e) {
    if (e instanceof SimulatorOptionError) throw new ConfigError(e.message, e.option);
    throw e;
  }
}

export async function run(argv: string[]): Promise<number> {
  const sim = createSimulator(optionsFromArgv(argv));
  const stop = () => sim.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const s = await sim.run();
    process.stdout.write(JSON.stringify(s) + "\n");
    return s.errors > 0 || s.acked < s.sent ? 1 : 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
