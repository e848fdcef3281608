/**
 * MQTT target: publishes the structured CloudEvent (JSON) to a topic; `{subject}` and `{type}` in
 * the topic are replaced by the event's device and type. The client reconnects on its own; while
 * it is disconnected deliveries fail as retryable instead of piling up in mqtt.js's offline queue.
 */
import mqtt, { type MqttClient } from "mqtt";
import { DeliveryError } from "./errors.ts";
import type { Delivery, Target } from "./target.ts";

export interface MqttTargetOptions {
  url: string;
  topic: string;
  qos: 0 | 1;
  username?: string;
  password?: string;
  timeoutMs: number;
}

export function createMqttTarget(o: MqttTargetOptions): Target {
  const client: MqttClient = mqtt.connect(o.url, {
    username: o.username,
    password: o.password,
    reconnectPeriod: 1000,
    // Otherwise one refused CONNECT (a broker restarting) stops its reconnects for good.
    reconnectOnConnackError: true,
    connectTimeout: o.timeoutMs,
    clientId: `fleetstream-fanout-${Math.random().toString(16).slice(2, 10)}`,
    writeCache: false, // see gateway/intake_broker.ts
  });
  client.on("error", () => {}); // reconnects on its own; failures surface per delivery
  return {
    describe: `mqtt ${o.url} ${o.topic}`,
    async deliver(d: Delivery) {
      if (!client.connected) throw new DeliveryError(`MQTT broker ${o.url} is not connected`, true);
      const topic = o.topic.replace(/\{subject\}/g, d.event.subject).replace(/\{type\}/g, d.event.type);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.publishAsync(topic, JSON.stringify(d.structured), { qos: o.qos }),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no PUBACK within ${o.timeoutMs} ms`)), o.timeoutMs))),
        ]);
      } catch (e) {
        throw new DeliveryError(`MQTT publish to ${topic} failed: ${(e as Error).message}`, true, undefined, { cause: e });
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await client.endAsync(true).catch(() => {});
    },
  };
}
