/**
 * Topic routing (CONTRACT section 2): the first route whose filter matches a topic picks the decoder,
 * the event type and which topic levels make the device id.
 */
import type { Route } from "../core/config.ts";
import { DEVICE_ID_RE } from "../core/subjects.ts";
import { topicMatches } from "../core/topics.ts";
import { RejectError } from "../core/errors.ts";
import { DECODERS, DEFAULT_EVENT_TYPE, type Decoder } from "./decoders/mod.ts";

export interface ResolvedRoute {
  route: Route;
  decoder: Decoder;
  type: string;
}

export interface Router {
  /** The route for a topic, or undefined when none matches. */
  match(topic: string): ResolvedRoute | undefined;
}

/** @example createRouter(cfg.routes).match("devices/t1/telemetry")?.type // => "SensorReadingRecorded" */
export function createRouter(routes: readonly Route[]): Router {
  const resolved = routes.map((route) => ({ route, decoder: DECODERS[route.decoder], type: route.type ?? DEFAULT_EVENT_TYPE[route.decoder] }));
  const cache = new Map<string, ResolvedRoute | undefined>();
  return {
    match(topic) {
      if (cache.has(topic)) return cache.get(topic);
      const r = resolved.find((x) => topicMatches(x.route.filter, topic));
      // Topics are per device, so the cache is bounded by the fleet size; cap it anyway.
      if (cache.size > 100_000) cache.clear();
      cache.set(topic, r);
      return r;
    },
  };
}

/**
 * The device id a route assigns to a topic: level `device` (1-based, default 2), or
 * `<user>-<device>` for `owntracks`.
 * @throws RejectError `invalid_device_id` when it is not `^[A-Za-z0-9_-]{1,64}$`
 */
export function deviceIdOf(route: Route, topic: string): string {
  const how = route.device ?? (route.decoder === "owntracks" ? "owntracks" : 2);
  const id = how === "owntracks" ? `${topicLevel(topic, 2)}-${topicLevel(topic, 3)}` : topicLevel(topic, how);
  if (!DEVICE_ID_RE.test(id)) {
    throw new RejectError("invalid_device_id", `device id "${id.slice(0, 80)}" from topic "${topic.slice(0, 200)}" must match ${DEVICE_ID_RE.source}`);
  }
  return id;
}

/** Level `n` (1-based) of a topic, or "" when it has fewer levels; no array of all levels. */
function topicLevel(topic: string, n: number): string {
  let start = 0;
  for (let i = 1; i < n; i++) {
    const slash = topic.indexOf("/", start);
    if (slash < 0) return "";
    start = slash + 1;
  }
  const end = topic.indexOf("/", start);
  return topic.slice(start, end < 0 ? topic.length : end);
}
