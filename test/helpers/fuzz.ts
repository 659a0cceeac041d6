// Seeded property runs (fast-check) for every property and fuzz test: a fixed default
// seed so CI is reproducible, more runs on request, and a failure message that names
// the seed and path to replay it. Each suite has its own environment prefix:
//   fuzz (parsers facing the network): FUZZ_SEED, FUZZ_PATH, FUZZ_RUNS
//   sim  (cluster simulations):        SIM_SEED,  SIM_PATH,  SIM_RUNS
import fc from 'fast-check';

/** Which environment variables a suite reads (PREFIX_SEED, PREFIX_PATH, PREFIX_RUNS). */
export type PropertyEnv = 'FUZZ' | 'SIM';

const DEFAULT_FUZZ_SEED = 20_261_201;

/** The seed of a suite: PREFIX_SEED if set, else the suite's default. */
export function propertySeed(env: PropertyEnv = 'FUZZ', defaultSeed = DEFAULT_FUZZ_SEED): number {
  return Number(process.env[`${env}_SEED`] ?? defaultSeed);
}

/** The seed fuzz tests use (FUZZ_SEED or the default), for printing. */
export function fuzzSeed(): number {
  return propertySeed('FUZZ');
}

/** The number of runs: PREFIX_RUNS if set, else defaultRuns. */
export function fuzzRuns(defaultRuns: number, env: PropertyEnv = 'FUZZ'): number {
  const v = process.env[`${env}_RUNS`];
  return v ? Number(v) : defaultRuns;
}

/** Run a property with a fixed seed; throws with the seed, path and counterexample on failure. */
export function checkProperty<T>(env: PropertyEnv, defaultSeed: number, what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void, defaultRuns: number): void {
  const path = process.env[`${env}_PATH`];
  const details = fc.check(fc.property(arb, predicate), { seed: propertySeed(env, defaultSeed), numRuns: fuzzRuns(defaultRuns, env), ...(path ? { path, endOnFailure: true } : {}) });
  if (details.failed) {
    const err = details.errorInstance;
    throw new Error(
      `${what}: failed; replay with ${env}_SEED=${details.seed} ${env}_PATH=${details.counterexamplePath}\n` +
        `counterexample: ${fc.stringify(details.counterexample)}\n${err instanceof Error ? (err.stack ?? err.message) : 'a thrown non-Error'}`,
    );
  }
}

/** checkProperty for an async predicate (whole-node simulations that await their I/O). */
export async function checkAsyncProperty<T>(env: PropertyEnv, defaultSeed: number, what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => Promise<void>, defaultRuns: number): Promise<void> {
  const path = process.env[`${env}_PATH`];
  const details = await fc.check(fc.asyncProperty(arb, predicate), { seed: propertySeed(env, defaultSeed), numRuns: fuzzRuns(defaultRuns, env), ...(path ? { path, endOnFailure: true } : {}) });
  if (details.failed) {
    const err = details.errorInstance;
    throw new Error(
      `${what}: failed; replay with ${env}_SEED=${details.seed} ${env}_PATH=${details.counterexamplePath}\n` +
        `counterexample: ${fc.stringify(details.counterexample)}\n${err instanceof Error ? (err.stack ?? err.message) : 'a thrown non-Error'}`,
    );
  }
}

/** A fuzz property (FUZZ_* environment, default seed). */
export function fuzz<T>(what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void, defaultRuns = 500): void {
  checkProperty('FUZZ', DEFAULT_FUZZ_SEED, what, arb, predicate, defaultRuns);
}

/** Milliseconds fn takes (wall clock, high resolution). */
export function timed(fn: () => void): number {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}
