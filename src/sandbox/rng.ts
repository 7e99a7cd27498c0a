/**
 * A tiny seeded PRNG so generated traffic can be reproduced: the same seed always yields the
 * same frames, which keeps tests and benchmark runs comparable.
 */
import { randomBytes } from 'node:crypto';

/** A source of uniform floats in [0, 1), interchangeable with `Math.random`. */
export type Rng = () => number;

/** mulberry32: 32 bits of state, fast, and good enough for fake traffic (not for secrets). */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh 32-bit seed for instances that were not given one. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}

/** An integer in [min, max], both inclusive. */
export function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** One element of a non-empty list. */
export function pick<T>(rng: Rng, items: readonly [T, ...T[]]): T {
  return items[Math.floor(rng() * items.length)] ?? items[0];
}

/** True with probability `p`. */
export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}
