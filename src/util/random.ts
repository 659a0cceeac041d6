// Random: the injectable source of randomness. Security-relevant bytes (nonces,
// incarnation ids) come from bytes(), which is node:crypto in production; jitter and
// peer selection use float(), which a seeded generator can replay.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';

/** Randomness, injected so simulations can be replayed from a seed. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** n random bytes. */
  bytes(n: number): Buffer;
}

/** Production randomness: node:crypto for bytes; Math.random() for jitter and peer choice, which need no secrecy. */
export const systemRandom: Random = {
  float: () => Math.random(),
  bytes: (n) => cryptoRandomBytes(n),
};

/** A deterministic generator (mulberry32) for simulations and tests; never for keys. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  return {
    float: next,
    bytes(n) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

/** Full-jitter value in [base/2, base): spreads retries so peers do not synchronise. */
export function jitter(random: Random, baseMs: number): number {
  return baseMs / 2 + random.float() * (baseMs / 2);
}
