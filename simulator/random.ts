/**
 * A small seeded pseudo-random generator (mulberry32) so that a simulator seed always produces the
 * same fleet, the same signals and the same faults. Each device draws from its own stream, so adding
 * a device does not change what the others send.
 */

import { mulberry32 } from "../core/random.ts";
import { fnv1a32 } from "../core/subjects.ts";

/** A source of uniform numbers in [0, 1) plus the helpers the device models need. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Normally distributed (Box-Muller). */
  gaussian(mean?: number, sd?: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** FNV-1a 32-bit of a string: derives independent stream seeds from the run seed and a name. */

/**
 * A seeded generator; `stream` names an independent sequence under the same seed.
 * @example const r = createRandom(42, "sensor-0001"); r.uniform(18, 24)
 */
export function createRandom(seed: number, stream = ""): Random {
  const next = mulberry32(fnv1a32(`${seed >>> 0}:${stream}`) ^ Math.imul(seed | 0, 0x9e3779b1));
  const r: Random = {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => p > 0 && next() < p,
    gaussian: (mean = 0, sd = 1) => {
      const u = 1 - next();
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
  return r;
}
