#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=4
// The `fleetstream` command. The CLI is TypeScript; this launcher bundles it with esbuild into
// .tools/build/fleetstream.mjs whenever a source file is newer than the bundle (a fraction of a
// second), then runs the bundle in this process. Compared with running the sources through tsx in a
// child process, that is one process instead of two, and no loader thread: about 50 MB less memory,
// which matters on a Raspberry Pi. FLEETSTREAM_FROM_SOURCE=1 runs the sources through tsx instead
// (stack traces with TypeScript line numbers).
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "cli/main.ts");
const outDir = join(root, ".tools/build");
const bundle = join(outDir, "fleetstream.mjs");
const inputsFile = join(outDir, "fleetstream.inputs.json");

const mtime = (f) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return Infinity;
  }
};

/** True when the bundle is missing or older than any file it was built from (or package-lock.json). */
function stale() {
  const built = mtime(bundle);
  if (!Number.isFinite(built)) return true;
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(inputsFile, "utf8"));
  } catch {
    return true;
  }
  return [...inputs, "package-lock.json", "bin/fleetstream.js"].some((f) => mtime(join(root, f)) > built);
}

async function buildBundle() {
  const { build } = await import("esbuild");
  mkdirSync(outDir, { recursive: true });
  // Unique names, then rename: several fleetstream processes may start (and build) at once.
  const tmp = `${bundle}.${process.pid}.tmp`;
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Dependencies are bundled too: tree-shaken, they load in ~25 MB less memory than from
    // node_modules (rxjs, zod and mqtt most of all). CommonJS ones get a real `require`.
    // V8 keeps the bundle's source in memory (twice); whitespace-minified it is a third smaller.
    // Names stay, so stack traces still say which function.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // rxjs's package exports give Node its CommonJS build, which cannot be tree-shaken (240 KB
    // bundled); its ES2015 build shakes down to the ~20 KB used.
    plugins: [
      { name: "rxjs-esm", setup: (b) => b.onResolve({ filter: /^rxjs$/ }, () => ({ path: join(root, "node_modules/rxjs/dist/esm/index.js") })) },
      // Loggers that cost nothing unless DEBUG is set: see bin/debug_quiet.cjs.
      { name: "debug-quiet", setup: (b) => b.onResolve({ filter: /^debug$/ }, () => ({ path: join(root, "bin/debug_quiet.cjs") })) },
    ],
    outfile: tmp,
    metafile: true,
    logLevel: "error",
  });
  writeFileSync(`${inputsFile}.${process.pid}.tmp`, JSON.stringify(Object.keys(result.metafile.inputs)));
  renameSync(`${inputsFile}.${process.pid}.tmp`, inputsFile);
  renameSync(tmp, bundle);
}

async function fromSource() {
  const { register } = await import("tsx/esm/api");
  register();
  return (await import(pathToFileURL(entry).href)).main;
}

async function loadMain() {
  if (process.env.FLEETSTREAM_FROM_SOURCE === "1") return fromSource();
  if (stale()) {
    try {
      await buildBundle();
    } catch (e) {
      // e.g. a read-only checkout: still run, from source.
      process.stderr.write(`fleetstream: cannot build ${bundle} (${e?.message ?? e}); running the TypeScript sources through tsx\n`);
      return fromSource();
    }
  }
  return (await import(pathToFileURL(bundle).href)).main;
}

// Memory: under load V8 lets the old generation grow to ~4x what is live; a 30 % margin keeps
// `fleetstream start` near 100 MB at 10k readings/s for ~15 % more CPU (bench/e2e.ts measures it).
// The young generation's cap (--max-semi-space-size) can only be set at startup: the #! line
// above and deploy/Dockerfile pass it, with MALLOC_ARENA_MAX=1 (one glibc malloc arena instead of
// one per thread: 5-10 MB less at the same load). FLEETSTREAM_V8_FLAGS replaces the runtime flags
// ("" = V8's own growth).
// Flags that shape the heap or its GC threads are read once at startup; set later, some crash V8
// (`--single-threaded-gc`: "Check failed: concurrent_marking_handle_"). Those go to node itself.
const STARTUP_ONLY = /^--(no-)?(single-threaded|concurrent-|parallel-|max-semi-space|min-semi-space|semi-space|max-old-space|max-heap|initial-heap|initial-old-space)/;
for (const flag of (process.env.FLEETSTREAM_V8_FLAGS ?? "--heap-growing-percent=30").split(/\s+/)) {
  if (!flag) continue;
  if (STARTUP_ONLY.test(flag)) {
    process.stderr.write(`fleetstream: FLEETSTREAM_V8_FLAGS: ${flag} can only be set when node starts; give it to node instead: node ${flag} ${process.argv[1] ?? "bin/fleetstream.js"} ...\n`);
    process.exit(78);
  }
  v8.setFlagsFromString(flag);
}
const main = await loadMain();
// A command that failed may have left connections open (NATS, MQTT, the metrics port): it exits
// rather than wait on them. stdout and stderr are synchronous on Linux (files, pipes, terminals).
main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (e) => {
    process.stderr.write(`fleetstream: ${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
