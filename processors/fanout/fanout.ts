/**
 * The fan-out (CONTRACT section 8): one durable consumer per rule on RESULTS. `reload(rules)`
 * reconciles a running fan-out with new rules without a restart: new rules start, changed ones
 * restart on their durable (continuing where they were), removed ones stop and their consumer
 * is deleted. Invalid rules are refused as a whole and the running set stays.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { streamNames, type Config, type RuleConfig } from "../../core/config.ts";
import { createJsPublisher, type JsPublisher } from "../../core/js_publisher.ts";
import type { Logger } from "../../core/logger.ts";
import { createRetentionWatch } from "../../core/retention_watch.ts";
import type { Registry } from "../../core/metrics.ts";
import { createFanoutMetrics } from "./metrics.ts";
import { startRuleConsumer, DEFAULT_RULE_CONSUMER_OPTIONS, type RuleConsumer, type RuleConsumerOptions } from "./rule_consumer.ts";
import { compileRules, type CompiledRule } from "./rules.ts";
import { jsAdmin } from "../../core/streams.ts";

export interface FanoutDeps {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
}

export type FanoutOptions = RuleConsumerOptions;
export const DEFAULT_FANOUT_OPTIONS: FanoutOptions = DEFAULT_RULE_CONSUMER_OPTIONS;

export interface Fanout {
  /** Starts a consumer per rule of `cfg.rules`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Applies a new rule set; resolves with what changed.
   * @throws PatternError / ConfigError when a rule is invalid (nothing changes then).
   */
  reload(rules: readonly RuleConfig[]): Promise<{ started: string[]; restarted: string[]; removed: string[] }>;
  /** Names of the running rules. */
  readonly rules: string[];
}

/**
 * @example
 * const fanout = createFanout({ nc, cfg, log, registry });
 * await fanout.start();
 * process.on("SIGHUP", () => fanout.reload(loadConfig().rules));
 */
export function createFanout(deps: FanoutDeps, opts: Partial<FanoutOptions> = {}): Fanout {
  const o = { ...DEFAULT_FANOUT_OPTIONS, ...opts };
  const log = deps.log.child({ component: "fanout" });
  const metrics = createFanoutMetrics(deps.registry);
  const retention = createRetentionWatch(deps.nc, deps.registry, log);
  const running = new Map<string, { key: string; consumer: RuleConsumer }>();
  let pub: JsPublisher | undefined;
  // Reloads run one after another.
  let chain: Promise<unknown> = Promise.resolve();

  // Fails early: invalid rules in the config stop `createFanout`, not a consumer later.
  const initial = compileRules(deps.cfg.rules, deps.cfg);

  async function apply(compiled: CompiledRule[]) {
    const want = new Map(compiled.map((c) => [c.rule.name, c]));
    const out = { started: [] as string[], restarted: [] as string[], removed: [] as string[] };
    const jsm = await jsAdmin(deps.nc);
    for (const [name, r] of [...running]) {
      if (want.has(name)) continue;
      await r.consumer.stop();
      running.delete(name);
      await jsm.consumers.delete(streamNames(deps.cfg).results, `${o.durablePrefix}${name}`).catch(() => false);
      out.removed.push(name);
    }
    for (const [name, c] of want) {
      const cur = running.get(name);
      if (cur?.key === c.key) continue;
      if (cur) await cur.consumer.stop();
      running.set(name, { key: c.key, consumer: await startRuleConsumer({ ...deps, log, metrics, pub: pub!, retention }, c, o) });
      (cur ? out.restarted : out.started).push(name);
    }
    return out;
  }

  return {
    async start() {
      pub = createJsPublisher(deps.nc, { maxInFlight: 512 });
      await apply(initial);
      log.info("fan-out started", { rules: [...running.keys()] });
    },
    async stop() {
      await chain.catch(() => {});
      await Promise.all([...running.values()].map((r) => r.consumer.stop()));
      running.clear();
      await pub?.close();
    },
    async reload(rules) {
      const compiled = compileRules(rules, deps.cfg);
      const next = chain.catch(() => {}).then(() => apply(compiled));
      chain = next;
      const r = await next;
      log.info("rules reloaded", r);
      return r;
    },
    get rules() {
      return [...running.keys()];
    },
  };
}
