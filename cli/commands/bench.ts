/** `fleetstream bench <name>`: the same benchmarks as `npm run bench -- <name>`. */
export const summary = "run a benchmark: gateway, processor, matcher or e2e (prints figures)";
export const usage = `Usage: fleetstream bench [gateway|processor|matcher|e2e] [args]

Starts its own servers on free ports, measures, prints figures and exits. Default: e2e.
`;

export async function run(argv: string[]): Promise<number> {
  process.argv = [process.argv[0]!, "bench", ...argv];
  await import("../../bench/main.ts");
  return 0;
}
