// The local nats-server of `fleetstream start`: its MQTT listener opens only after `prepare` has run
// (so the raw capture stream exists before any device can be acknowledged), and not at all without
// the nats intake. Real nats-server, real MQTT client.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { connect as tcpConnect } from "node:net";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../core/logger.ts";
import { removeDir, tempDir } from "../testing/mod.ts";
import { startLocalNats } from "./local_nats.ts";

const accepts = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const c = tcpConnect({ host: hostname, port: Number(port) }, () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });

describe("startLocalNats", () => {
  it("opens the MQTT listener only after prepare, so the first message a device sends is kept", async () => {
    const dir = tempDir("local-nats");
    let listenerDuringPrepare: boolean | undefined;
    const local = await startLocalNats(silentLogger, dir, {
      mqtt: true,
      prepare: async (natsUrl, mqttUrl) => {
        listenerDuringPrepare = await accepts(mqttUrl);
        const nc = await connect({ servers: natsUrl });
        await (await jetstreamManager(nc)).streams.add({ name: "RAW", subjects: ["devices.>"] });
        await nc.close();
      },
    });
    try {
      expect(listenerDuringPrepare).toBe(false);
      const device = await mqtt.connectAsync(local.mqttUrl!, { protocolVersion: 4, clientId: "first-device", reconnectPeriod: 0 });
      await device.publishAsync("devices/d1/telemetry", JSON.stringify({ temperature: 21 }), { qos: 1 });
      await device.endAsync();
      const nc = await connect({ servers: local.url });
      // The stream made while preparing survived the restart and holds the message.
      expect((await (await jetstreamManager(nc)).streams.info("RAW")).state.messages).toBe(1);
      await nc.close();
    } finally {
      await local.stop();
      removeDir(dir);
    }
  });

  it("opens no MQTT listener when nothing would capture it", async () => {
    const dir = tempDir("local-nats");
    const local = await startLocalNats(silentLogger, dir, { mqtt: false });
    try {
      expect(local.mqttUrl).toBeUndefined();
      const nc = await connect({ servers: local.url });
      expect((await (await jetstreamManager(nc)).getAccountInfo()).limits).toBeDefined();
      await nc.close();
    } finally {
      await local.stop();
      removeDir(dir);
    }
  });
});
