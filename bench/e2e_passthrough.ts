/**
 * The yardstick of the end-to-end bench: raw MQTT -> JetStream with nothing in between. A process of its
 * own subscribes to `devices/+/telemetry` on the broker (QoS 1, MQTT 5) and publishes every payload,
 * pipelined (createJsPublisher, a Nats-Msg-Id per message as the gateway sets), to one stream. No
 * decoding, no validation, no envelope, and the PUBACK is not held for the JetStream ack (only while
 * MAX_IN_FLIGHT publishes are pending: then it reads no further).
 *
 * With `reader`, the same process also reads the stream back through one durable pull consumer
 * (cumulative acks, as fleetstream's consumers ack): the least any pipeline that consumes what it
 * stores adds. nats-server 2.10 pays for that on the write side too (a block's write cache is kept
 * and regrown while it is being read), so it is a yardstick of its own, not a detail.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createJsPublisher } from "../core/js_publisher.ts";
import { spawnManaged, type ManagedProcess } from "../testing/mod.ts";

export interface PassthroughOptions {
  natsUrl: string;
  mqttUrl: string;
  /** Stream to create; it takes `<subject>.>`. */
  stream: string;
  subject: string;
  /** Also read every message back through a durable consumer named `READER`. */
  reader?: boolean;
}

/** The durable consumer of a passthrough started with `reader`. */
export const READER = "reader";

/** A running passthrough process; `pid` is the process that does the work. */
export interface Passthrough {
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the passthrough in a child process and resolves once it is subscribed. */
export async function startPassthrough(o: PassthroughOptions): Promise<Passthrough> {
  const p: ManagedProcess = spawnManaged(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), JSON.stringify(o)]);
  const deadline = Date.now() + 30_000;
  while (!p.output().includes("passthrough ready")) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`passthrough did not start: ${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: p.child.pid!, stop: () => p.stop() };
}

/** Publishes awaiting their JetStream ack, at most. */
const MAX_IN_FLIGHT = 4000;

async function main(o: PassthroughOptions): Promise<void> {
  const nc = await connect({ servers: o.natsUrl, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: o.stream, subjects: [`${o.subject}.>`] });
  let read = 0;
  let messages: ConsumerMessages | undefined;
  if (o.reader) {
    await jsm.consumers.add(o.stream, { durable_name: READER, ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.All });
    messages = await (await jetstream(nc).consumers.get(o.stream, READER)).consume({ max_messages: 1000 });
    const it = messages;
    void (async () => {
      // Cumulative acks: every 100th message acks all before it, and a 100 ms tick acks the newest
      // one not yet acked (one timer for the reader, not one per message in the measured process).
      let last: { ack(): void } | undefined;
      let acked = last;
      const tick = setInterval(() => {
        if (last !== acked) (acked = last)?.ack();
      }, 100);
      for await (const m of it) {
        read++;
        last = m;
        if (read % 100 === 0) (acked = m).ack();
      }
      clearInterval(tick);
    })();
  }
  const pub = createJsPublisher(nc, { maxInFlight: MAX_IN_FLIGHT });
  let n = 0;
  let failed = 0;
  let inFlight = 0;
  const paused: Array<() => void> = [];
  const sub = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 5, clientId: `bench-e2e-pass-${process.pid}`, clean: true });
  sub.on("message", (topic, payload) => {
    const h = headers();
    h.set("Nats-Msg-Id", `p${n++}`);
    inFlight++;
    pub
      .publish(`${o.subject}.${topic.replace(/\//g, ".")}`, payload, h)
      .catch(() => void failed++)
      .finally(() => {
        inFlight--;
        while (paused.length > 0 && inFlight < MAX_IN_FLIGHT) paused.shift()!();
      });
  });
  // Bounded, as any bridge must be: with MAX_IN_FLIGHT publishes awaiting JetStream, mqtt.js is not
  // called back, so it reads no further and TCP holds the broker (the PUBACK of the message that
  // waits goes out with the callback). Unbounded, a passthrough that fell behind buffered ~300 MB and
  // spent its time in GC: 80-90 CPU us per message instead of 24-40, and half the rate.
  const handle = sub.handleMessage.bind(sub);
  sub.handleMessage = (packet, callback) =>
    handle(packet, (err) => {
      if (err || inFlight < MAX_IN_FLIGHT) callback(err);
      else paused.push(() => callback());
    });
  await sub.subscribeAsync("devices/+/telemetry", { qos: 1 });
  process.stdout.write("passthrough ready\n");
  await new Promise<void>((r) => process.once("SIGTERM", () => r()));
  await sub.endAsync();
  await pub.close();
  messages?.stop();
  await nc.close();
  process.stdout.write(`passthrough done: received=${n} failed=${failed}${o.reader ? ` read=${read}` : ""}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(JSON.parse(process.argv[2]!) as PassthroughOptions);
  process.exit(0);
}
