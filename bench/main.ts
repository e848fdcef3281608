/**
 * `npm run bench [-- <name>]`: prints figures; never asserts. Without a name it runs the end-to-end
 * benchmark. Each benchmark is `bench/<name>.ts` exporting `run(args)`.
 */
const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  gateway: () => import("./gateway.ts"),
  processor: () => import("./processor.ts"),
  matcher: () => import("./matcher.ts"),
  normalize: () => import("./normalize.ts"),
  lines: () => import("./lines.ts"),
  e2e: () => import("./e2e.ts"),
  readers: () => import("./readers.ts"),
};

const [name = "e2e", ...args] = process.argv.slice(2);
const load = BENCHES[name];
if (!load) {
  process.stderr.write(`unknown benchmark "${name}"; one of: ${Object.keys(BENCHES).join(", ")}\n`);
  process.exit(2);
}
await (await load()).run(args);
process.exit(0);
