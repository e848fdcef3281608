import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseDuration, parseSize, redactConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";

const dir = mkdtempSync(join(tmpdir(), "fs-config-"));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("config", () => {
  it("works from the environment alone with the contract's defaults", () => {
    const cfg = loadConfig({ env: {} });
    expect(cfg.intake).toBe("nats");
    expect(cfg.nats.url).toBe("nats://127.0.0.1:4222");
    expect(cfg.streams.partitions).toBe(8);
    expect(cfg.streams.duplicateWindow).toBe(120_000);
    expect(cfg.limits.maxPayload).toBe(256 * 1024);
    expect(cfg.limits.maxPast).toBe(7 * 86_400_000);
    expect(cfg.limits.maxFuture).toBe(5 * 60_000);
    expect(cfg.processor.windows).toEqual([{ type: "tumbling", size: 60_000 }]);
    expect(cfg.processor.maxOutOfOrder).toBe(5000);
    expect(cfg.processor.allowedLateness).toBe(60_000);
    expect(cfg.routes.map((r) => r.filter)).toEqual(["devices/+/telemetry", "devices/+/location", "owntracks/+/+", "zigbee2mqtt/+"]);
    expect(Object.isFrozen(cfg.streams)).toBe(true);
  });

  it("MQTT_URL selects the broker intake", () => {
    expect(loadConfig({ env: { MQTT_URL: "mqtt://127.0.0.1:1883" } }).intake).toBe("broker");
  });

  it("environment overrides the file, and *_FILE reads secrets", () => {
    const secret = file("token", "s3cret\n");
    const path = file("a.yaml", "influx:\n  url: http://file:8086\n  bucket: b1\nstreams:\n  partitions: 4\n");
    const cfg = loadConfig({ path, env: { INFLUX_URL: "http://env:8086", INFLUX_TOKEN_FILE: secret } });
    expect(cfg.influx.url).toBe("http://env:8086");
    expect(cfg.influx.bucket).toBe("b1");
    expect(cfg.influx.token).toBe("s3cret");
    expect(cfg.streams.partitions).toBe(4);
  });

  it("names the key and the fix when a value is invalid", () => {
    const path = file("bad.yaml", "streams:\n  partitions: lots\n");
    expect(() => loadConfig({ path, env: {} })).toThrow(/streams\.partitions/);
    expect(() => loadConfig({ env: { INFLUX_API: "v3" } })).toThrow(/influx\.api.*INFLUX_API/);
    expect(() => loadConfig({ env: { FLEETSTREAM_STREAM_REPLICAS: "three" } })).toThrow(/streams\.replicas.*FLEETSTREAM_STREAM_REPLICAS/);
    // A misspelt key is refused, not ignored (its setting would silently stay at the default).
    expect(() => loadConfig({ env: {}, overrides: { streams: { replica: 3 } } })).toThrow(
      /^unknown config key streams\.replica: fleetstream does not read it; did you mean streams\.replicas\? \(streams takes: prefix, subjectRoot, partitions, replicas, .*\)$/,
    );
    expect(() => loadConfig({ env: {}, overrides: { procesor: {} } })).toThrow(/^unknown config key procesor: .*did you mean processor\? \(the top level takes: gatewayId, nats, /);
    expect(() => loadConfig({ env: {}, overrides: { routes: [{ filter: "a/+", decoder: "owntracks", devcie: 2 }] } })).toThrow(/^unknown config key routes\.0\.devcie: .*did you mean routes\.0\.device\?/);
    expect(() => loadConfig({ env: {}, overrides: { influx: { colour: "red" } } })).toThrow(/^unknown config key influx\.colour: fleetstream does not read it; \(influx takes: url, api, /);
    const rule = (target: Record<string, unknown>) => ({ rules: [{ name: "r", pattern: {}, target }] });
    expect(() => loadConfig({ env: {}, overrides: rule({ type: "webhook", url: "http://x", timout: "1s" }) })).toThrow(/did you mean rules\.0\.target\.timeout\?/);
    expect(() => loadConfig({ env: {}, overrides: rule({ type: "webhok", url: "http://x" }) })).toThrow(/^invalid config at rules\.0\.target\.type: .*'jetstream' \| 'webhook' \| 'mqtt'/);
    expect(() => loadConfig({ env: {}, overrides: { processor: { windows: [{ type: "tumbling", size: "1m", hop: "1m" }] } } })).toThrow(
      /^unknown config key processor\.windows\.0\.hop: .*belongs to another type than the one given \(processor\.windows\.0 takes: type, size, hop, gap\)$/,
    );
    expect(loadConfig({ env: { FLEETSTREAM_STREAM_REPLICAS: "3" } }).streams.replicas).toBe(3);
    const w = file("w.yaml", "processor:\n  windows:\n    - type: tumbling\n      size: soon\n");
    expect(() => loadConfig({ path: w, env: {} })).toThrow(/processor\.windows\.0\.size.*duration/);
    try {
      loadConfig({ env: { INFLUX_TOKEN_FILE: "/nonexistent/token" } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).key).toBe("influx.token");
      expect((e as Error).message).toMatch(/INFLUX_TOKEN_FILE/);
    }
  });

  it("rejects a broker intake without a broker URL", () => {
    expect(() => loadConfig({ env: {}, overrides: { intake: "broker" } })).toThrow(/mqtt\.url.*MQTT_URL/);
  });

  it("parses durations and sizes", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("5s")).toBe(5000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseSize("256KiB")).toBe(262_144);
    expect(parseSize("1GiB")).toBe(1024 ** 3);
    expect(() => parseDuration("5 parsecs")).toThrow(/not a duration/);
  });

  it("redacts secrets, including passwords in URLs", () => {
    const cfg = loadConfig({ env: { MQTT_URL: "mqtt://dev:hunter2@broker:1883", INFLUX_TOKEN: "tok", NATS_PASS: "pw" } });
    const text = JSON.stringify(redactConfig(cfg));
    expect(text).not.toMatch(/hunter2|"tok"|"pw"/);
    expect(text).toMatch(/mqtt:\/\/dev:\*\*\*@broker:1883/);
  });
});
