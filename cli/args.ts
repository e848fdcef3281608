/** Shared option parsing for commands: `--config` plus each command's own flags. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig, type Config } from "../core/config.ts";

export const CONFIG_USAGE = `  --config <file>   YAML config (default: FLEETSTREAM_CONFIG, else environment and defaults only)`;

/**
 * Parses argv with the command's options plus `--config`, and loads the config.
 * @example const { values, cfg } = parseCommand(argv, { duration: { type: "string" } })
 */
export function parseCommand<O extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: O,
  overrides?: Record<string, unknown>,
) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, ...options },
    allowPositionals: true,
    strict: true,
  });
  const cfg: Config = loadConfig({ path: (values as { config?: string }).config, overrides });
  return { values, positionals, cfg };
}
