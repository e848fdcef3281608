/**
 * Rule reload without a restart: SIGHUP, or a change of the config file, re-reads `rules:` and hands
 * them to the fan-out. Used by `fleetstream fanout` and `fleetstream start`.
 */
import { watch } from "node:fs";
import { basename, dirname } from "node:path";
import { loadConfig } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { Fanout } from "../processors/fanout/fanout.ts";

/** Starts watching; the returned function stops it. `overrides` are re-applied on every reload. */
export function watchRules(fanout: Fanout, path: string | undefined, log: Logger, overrides?: Record<string, unknown>): () => void {
  let timer: NodeJS.Timeout | undefined;
  const reload = (why: string) => {
    clearTimeout(timer);
    // Editors write files in several steps: settle first.
    timer = setTimeout(() => {
      try {
        const next = loadConfig({ path, overrides });
        fanout
          .reload(next.rules)
          .then((r) => log.info("rules reloaded", { why, ...r }))
          .catch((e) => log.error("rule reload failed; the running rules stay", { why, err: e }));
      } catch (e) {
        log.error("rule reload failed; the running rules stay", { why, err: e });
      }
    }, 200);
  };
  const onHup = () => reload("SIGHUP");
  process.on("SIGHUP", onHup);
  // The directory, not the file: editors often replace the file, which ends a watch on it.
  const watcher = path ? watch(dirname(path), (_ev, name) => name === basename(path) && reload("config file changed")) : undefined;
  return () => {
    process.off("SIGHUP", onHup);
    watcher?.close();
    clearTimeout(timer);
  };
}
