/**
 * Rules from config, compiled once: a pattern matcher and a target factory per rule. Every
 * problem is found at load time, with the path of the offending part (`rules[2].pattern.data.temp: ...`).
 */
import type { Config, RuleConfig } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";
import type { JsPublisher } from "../../core/js_publisher.ts";
import { PatternError } from "./errors.ts";
import { createJetStreamTarget } from "./jetstream_target.ts";
import { createMqttTarget } from "./mqtt_target.ts";
import { compilePattern, type Matcher } from "./pattern.ts";
import type { Target } from "./target.ts";
import { createWebhookTarget } from "./webhook_target.ts";

export interface CompiledRule {
  rule: RuleConfig;
  match: Matcher;
  /** A stable fingerprint: a rule whose fingerprint changed is restarted on reload. */
  key: string;
  /** Builds the rule's target (each consumer owns one). */
  makeTarget(pub: JsPublisher): Target;
}

/**
 * Validates and compiles rules.
 * @throws PatternError or ConfigError naming the rule, e.g. `rules[2].pattern.data.temp: numeric expects ...`
 */
export function compileRules(rules: readonly RuleConfig[], cfg: Pick<Config, "mqtt">): CompiledRule[] {
  const seen = new Set<string>();
  return rules.map((rule, i) => {
    if (seen.has(rule.name)) throw new ConfigError(`invalid config at rules[${i}].name: rule name "${rule.name}" is used twice`, `rules.${i}.name`);
    seen.add(rule.name);
    const match = compilePattern(rule.pattern, `rules[${i}].pattern`);
    const t = rule.target;
    let makeTarget: (pub: JsPublisher) => Target;
    switch (t.type) {
      case "jetstream":
        if (/[\s*>]/.test(t.subject)) throw new PatternError(`rules[${i}].target.subject`, `"${t.subject}" must be a subject without wildcards or spaces`);
        makeTarget = (pub) => createJetStreamTarget(pub, t.subject);
        break;
      case "webhook":
        makeTarget = () => createWebhookTarget({ url: t.url, headers: t.headers, timeoutMs: t.timeout });
        break;
      case "mqtt": {
        const url = t.url ?? cfg.mqtt.url;
        if (!url) throw new ConfigError(`invalid config at rules[${i}].target.url: an MQTT target needs a broker URL (target.url or MQTT_URL)`, `rules.${i}.target.url`);
        makeTarget = () => createMqttTarget({ url, topic: t.topic, qos: t.qos, username: cfg.mqtt.username, password: cfg.mqtt.password, timeoutMs: 10_000 });
        break;
      }
    }
    return { rule, match, key: JSON.stringify(rule), makeTarget };
  });
}
