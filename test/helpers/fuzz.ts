// Fuzz: seeded fast-check runs for the parsers that face the network. Short by default
// (CI), longer on request: FUZZ_RUNS=100000 npm run test:unit. A failure prints the
// seed and path to replay it: FUZZ_SEED=<seed> FUZZ_PATH=<path>.
import fc from 'fast-check';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_201);
const PATH = process.env.FUZZ_PATH;

/** The seed every property runs with: FUZZ_SEED if set, else a fixed default (print it so a run can be replayed). */
export function fuzzSeed(): number {
  return SEED;
}

/** The number of runs: FUZZ_RUNS if set, else defaultRuns. */
export function fuzzRuns(defaultRuns: number): number {
  return process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : defaultRuns;
}

/** Run a property with a fixed seed; throws with the seed, path and counterexample on failure. */
export function fuzz<T>(what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void, defaultRuns = 500): void {
  const details = fc.check(fc.property(arb, predicate), { seed: SEED, numRuns: fuzzRuns(defaultRuns), ...(PATH ? { path: PATH, endOnFailure: true } : {}) });
  if (details.failed) {
    throw new Error(
      `${what}: failed; replay with FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath}\n` +
        `counterexample: ${fc.stringify(details.counterexample)}\n${details.errorInstance instanceof Error ? details.errorInstance.stack : ''}`,
    );
  }
}

/** Milliseconds fn takes (wall clock, high resolution). */
export function timed(fn: () => void): number {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}
