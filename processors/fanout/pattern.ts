/**
 * EventBridge-style event patterns over the structured CloudEvent (`type`, `subject`, `source`,
 * `id`, `time`, `data.*`), compiled once into a plain predicate.
 *
 * A pattern is an object whose keys are event fields. A value is either a nested object (for
 * nested fields such as `data.location.zone`) or an array of alternatives (OR) for that field:
 *
 * | alternative                          | matches a field value that ...                               |
 * |--------------------------------------|--------------------------------------------------------------|
 * | `"x"`, `5`, `true`, `null`           | equals it                                                    |
 * | `{"prefix": "x"}` / `{"suffix": "x"}`| is a string starting / ending with it (also `{"prefix": {"equals-ignore-case": "x"}}`) |
 * | `{"equals-ignore-case": "x"}`        | is a string equal to it ignoring case                        |
 * | `{"wildcard": "dev-*-eu"}`           | is a string matching, `*` = any run of characters (`\\*` a literal star) |
 * | `{"anything-but": v}`                | exists and is none of v: a value, a list, `{prefix}`, `{suffix}`, `{equals-ignore-case}` or `{wildcard}` |
 * | `{"numeric": [">", 0, "<=", 10]}`    | is a number meeting every (operator, number) pair; operators `<` `<=` `=` `>` `>=` |
 * | `{"exists": true}` / `false`         | is present / absent                                          |
 *
 * `"$or": [pattern, pattern, ...]` at any level matches when one of the sub-patterns matches.
 * When the event holds an array at a field (or on the way to it), the field matches when any
 * element matches. All fields of a pattern must match (AND).
 *
 * @example
 * const m = compilePattern({ type: ["WindowAggregateComputed"], data: { metrics: { temperature: { max: [{ numeric: [">", 30] }] } } } });
 * m(toStructured(ev)) // => true when the window's max temperature exceeded 30
 */
import { PatternError } from "./errors.ts";

/** A compiled pattern: true when the structured event matches. */
export type Matcher = (event: Record<string, unknown>) => boolean;

type ValueTest = (v: unknown) => boolean;

const NUMERIC_OPS = new Set(["<", "<=", "=", ">", ">="]);
const NUMERIC_HELP = "numeric expects [op, number] or [op, number, op, number] with op one of <, <=, =, >, >=";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** True when some value at `path` (descending through arrays) passes `test`. Allocates nothing. */
function anyAt(node: unknown, path: readonly string[], i: number, test: ValueTest): boolean {
  if (Array.isArray(node)) {
    for (const el of node) if (anyAt(el, path, i, test)) return true;
    return false;
  }
  if (i === path.length) return node !== undefined && test(node);
  if (!isObject(node)) return false;
  return anyAt(node[path[i]!], path, i + 1, test);
}

const present: ValueTest = () => true;

function stringTest(where: string, op: string, arg: unknown, make: (s: string, ci: boolean) => ValueTest): ValueTest {
  if (typeof arg === "string") return make(arg, false);
  if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg["equals-ignore-case"] === "string") return make(arg["equals-ignore-case"], true);
  throw new PatternError(where, `${op} expects a string (or {"equals-ignore-case": string}), got ${JSON.stringify(arg)}`);
}

function wildcardRegExp(where: string, w: unknown): RegExp {
  if (typeof w !== "string") throw new PatternError(where, `wildcard expects a string, got ${JSON.stringify(w)}`);
  if (w.includes("**")) throw new PatternError(where, `wildcard "${w}" has consecutive *: use one`);
  let src = "";
  for (let i = 0; i < w.length; i++) {
    const c = w[i]!;
    if (c === "\\" && w[i + 1] === "*") {
      src += "\\*";
      i++;
    } else if (c === "*") src += ".*";
    else src += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${src}$`, "s");
}

const prefixTest = (s: string, ci: boolean): ValueTest =>
  ci ? ((v) => typeof v === "string" && v.slice(0, s.length).toLowerCase() === s.toLowerCase()) : (v) => typeof v === "string" && v.startsWith(s);
const suffixTest = (s: string, ci: boolean): ValueTest =>
  ci ? ((v) => typeof v === "string" && v.length >= s.length && v.slice(v.length - s.length).toLowerCase() === s.toLowerCase()) : (v) => typeof v === "string" && v.endsWith(s);
const ignoreCaseTest = (s: string): ValueTest => {
  const lower = s.toLowerCase();
  return (v) => typeof v === "string" && v.toLowerCase() === lower;
};

function numericTest(where: string, arg: unknown): ValueTest {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) throw new PatternError(where, `${NUMERIC_HELP}, got ${JSON.stringify(arg)}`);
  const conds: Array<[string, number]> = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const n = arg[i + 1];
    if (typeof op !== "string" || !NUMERIC_OPS.has(op) || typeof n !== "number" || !Number.isFinite(n)) throw new PatternError(where, `${NUMERIC_HELP}, got ${JSON.stringify(arg)}`);
    conds.push([op, n]);
  }
  const one = ([op, n]: [string, number]): ((x: number) => boolean) =>
    op === "<" ? (x) => x < n : op === "<=" ? (x) => x <= n : op === "=" ? (x) => x === n : op === ">" ? (x) => x > n : (x) => x >= n;
  const [a, b] = conds.map(one);
  return b ? (v) => typeof v === "number" && a!(v) && b(v) : (v) => typeof v === "number" && a!(v);
}

function anythingButTest(where: string, arg: unknown): ValueTest {
  const isScalar = (x: unknown) => typeof x === "string" || typeof x === "number" || typeof x === "boolean" || x === null;
  if (isScalar(arg)) return (v) => v !== arg;
  if (Array.isArray(arg)) {
    if (arg.length === 0 || !arg.every(isScalar)) throw new PatternError(where, `anything-but expects a value or a non-empty list of values, got ${JSON.stringify(arg)}`);
    const set = new Set<unknown>(arg);
    return (v) => !set.has(v);
  }
  if (isObject(arg) && Object.keys(arg).length === 1) {
    const [op, inner] = Object.entries(arg)[0]!;
    const list = (x: unknown) => (Array.isArray(x) ? x : [x]);
    switch (op) {
      case "prefix": {
        const t = stringTest(where, "anything-but.prefix", inner, prefixTest);
        return (v) => typeof v === "string" && !t(v);
      }
      case "suffix": {
        const t = stringTest(where, "anything-but.suffix", inner, suffixTest);
        return (v) => typeof v === "string" && !t(v);
      }
      case "equals-ignore-case": {
        const xs = list(inner);
        if (xs.length === 0 || !xs.every((x) => typeof x === "string")) throw new PatternError(where, `anything-but.equals-ignore-case expects a string or a list of strings, got ${JSON.stringify(inner)}`);
        const set = new Set(xs.map((x) => (x as string).toLowerCase()));
        return (v) => typeof v === "string" && !set.has(v.toLowerCase());
      }
      case "wildcard": {
        const res = list(inner).map((w) => wildcardRegExp(where, w));
        if (res.length === 0) throw new PatternError(where, "anything-but.wildcard expects a string or a list of strings");
        return (v) => typeof v === "string" && !res.some((r) => r.test(v));
      }
    }
  }
  throw new PatternError(where, `anything-but expects a value, a list, or one of {prefix}, {suffix}, {equals-ignore-case}, {wildcard}; got ${JSON.stringify(arg)}`);
}

/** One field's alternatives: the field matches when any alternative does. */
function compileField(where: string, path: readonly string[], alternatives: unknown[]): Matcher {
  if (alternatives.length === 0) throw new PatternError(where, "expects a non-empty array of values or matchers");
  const tests: ValueTest[] = [];
  let existsTrue = false;
  let existsFalse = false;
  const equals = new Set<unknown>();
  for (const alt of alternatives) {
    if (alt === null || typeof alt === "string" || typeof alt === "number" || typeof alt === "boolean") {
      equals.add(alt);
      continue;
    }
    if (!isObject(alt) || Object.keys(alt).length !== 1) throw new PatternError(where, `expects values or one-key matcher objects ({prefix}, {numeric}, ...), got ${JSON.stringify(alt)}`);
    const [op, arg] = Object.entries(alt)[0]!;
    switch (op) {
      case "prefix":
        tests.push(stringTest(where, "prefix", arg, prefixTest));
        break;
      case "suffix":
        tests.push(stringTest(where, "suffix", arg, suffixTest));
        break;
      case "equals-ignore-case":
        if (typeof arg !== "string") throw new PatternError(where, `equals-ignore-case expects a string, got ${JSON.stringify(arg)}`);
        tests.push(ignoreCaseTest(arg));
        break;
      case "wildcard": {
        const re = wildcardRegExp(where, arg);
        tests.push((v) => typeof v === "string" && re.test(v));
        break;
      }
      case "anything-but":
        tests.push(anythingButTest(where, arg));
        break;
      case "numeric":
        tests.push(numericTest(where, arg));
        break;
      case "exists":
        if (typeof arg !== "boolean") throw new PatternError(where, `exists expects true or false, got ${JSON.stringify(arg)}`);
        if (arg) existsTrue = true;
        else existsFalse = true;
        break;
      default:
        throw new PatternError(where, `unknown matcher "${op}": use prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric or exists`);
    }
  }
  if (equals.size > 0) tests.unshift(equals.size === 1 ? ((x) => (v: unknown) => v === x)([...equals][0]) : (v) => equals.has(v));
  const one = tests.length === 1 ? tests[0]! : tests.length > 1 ? (v: unknown) => tests.some((t) => t(v)) : undefined;
  const key = path[0]!;
  const rest = path.length === 1;
  return (ev) => {
    // The common case, a top-level scalar, without the generic walk.
    if (rest) {
      const v = ev[key];
      if (v === undefined) return existsFalse;
      if (existsTrue) return true;
      if (!one) return false;
      return Array.isArray(v) ? v.some(one) : one(v);
    }
    if (existsTrue || existsFalse) {
      const has = anyAt(ev, path, 0, present);
      if (has ? existsTrue : existsFalse) return true;
      if (!has) return false;
    }
    return one !== undefined && anyAt(ev, path, 0, one);
  };
}

function compileObject(where: string, prefix: readonly string[], pattern: Record<string, unknown>): Matcher[] {
  const out: Matcher[] = [];
  for (const [k, v] of Object.entries(pattern)) {
    const here = `${where}.${k}`;
    if (k === "$or") {
      if (!Array.isArray(v) || v.length === 0 || !v.every(isObject)) throw new PatternError(here, "$or expects a non-empty array of patterns");
      const subs = v.map((p, i) => all(compileObject(`${here}[${i}]`, prefix, p as Record<string, unknown>)));
      out.push((ev) => subs.some((s) => s(ev)));
    } else if (Array.isArray(v)) out.push(compileField(here, [...prefix, k], v));
    else if (isObject(v)) {
      if (Object.keys(v).length === 0) throw new PatternError(here, "expects an array of values or matchers, or a non-empty nested pattern");
      out.push(...compileObject(here, [...prefix, k], v));
    } else throw new PatternError(here, `expects an array of values or matchers (e.g. [${JSON.stringify(v)}]) or a nested pattern, got ${JSON.stringify(v)}`);
  }
  return out;
}

function all(ms: Matcher[]): Matcher {
  if (ms.length === 0) return () => true;
  if (ms.length === 1) return ms[0]!;
  if (ms.length === 2) {
    const [a, b] = ms as [Matcher, Matcher];
    return (ev) => a(ev) && b(ev);
  }
  return (ev) => {
    for (const m of ms) if (!m(ev)) return false;
    return true;
  };
}

/**
 * Compiles a pattern; `where` prefixes error paths.
 * @throws PatternError e.g. `rules[2].pattern.data.temp: numeric expects ...`
 */
export function compilePattern(pattern: unknown, where = "pattern"): Matcher {
  if (!isObject(pattern)) throw new PatternError(where, `expects an object of event fields, got ${JSON.stringify(pattern)}`);
  return all(compileObject(where, [], pattern));
}
