// Chaos schedule: the list of faults a chaos run injects, generated entirely from a
// seed, so `--seed S` replays the same schedule (the same faults, at the same offsets,
// held for the same time, aimed the same way). Targets are abstract — "the holder"
// or "any host", with a pre-drawn pick — and resolved against the live cluster when
// the step runs, so the system's own timing can change who is hit but not the plan.
// Invariant: at no offset are more than maxDisrupted steps in progress (fault plus
// its recovery allowance), and every fault is undone before durationMs.
import { seededRandom } from '../../src/util/random.js';

/** The faults: SIGKILL then restart, SIGSTOP then SIGCONT, link down then up. */
export type FaultKind = 'kill' | 'freeze' | 'partition';

/** One planned fault. */
export interface ChaosStep {
  /** 1-based position in the schedule. */
  index: number;
  /** Offset from the start of the chaos phase, ms. */
  at: number;
  kind: FaultKind;
  /** Aim at the node currently roaring, or at any host. */
  target: 'holder' | 'any';
  /** In [0, 1): picks among the eligible hosts when the target is 'any' or the holder is not eligible. */
  pick: number;
  /** How long the fault lasts before it is undone (restart, SIGCONT, link up), ms. */
  holdMs: number;
  /** After undoing, the host counts as busy this much longer (rejoin, settle), ms. */
  recoverMs: number;
}

/** Options of generateSchedule. */
export interface ScheduleOptions {
  /** Length of the chaos phase, ms; every fault is undone before it ends. */
  durationMs: number;
  /** Most steps (fault + recovery) in progress at once; default 1. */
  maxDisrupted?: number;
  /** Probability a step aims at the holder; default 0.6. */
  holderBias?: number;
}

interface KindSpec {
  weight: number;
  /** Hold range, ms. */
  hold: [number, number];
  recoverMs: number;
}

/**
 * Fault mix. Freezes straddle the 3 s failure timeout: short ones must not cause a
 * takeover, long ones must, and the thawed holder must then stop without roaring.
 */
const KINDS: Readonly<Record<FaultKind, KindSpec>> = {
  kill: { weight: 1, hold: [500, 5000], recoverMs: 3000 },
  freeze: { weight: 1, hold: [500, 7000], recoverMs: 2000 },
  partition: { weight: 1, hold: [1000, 8000], recoverMs: 4000 },
};

/** Pause between the start of one step and the next (or after a busy slot frees), ms. */
const PAUSE_MS: [number, number] = [500, 3000];

/** A seed from a command-line string: a non-negative integer below 2^32. */
export function parseSeed(raw: string): number | undefined {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 ? n : undefined;
}

/** The schedule a seed gives; the same seed and options always give the same steps. */
export function generateSchedule(seed: number, o: ScheduleOptions): ChaosStep[] {
  const random = seededRandom(seed);
  const between = ([lo, hi]: [number, number]): number => Math.round(lo + random.float() * (hi - lo));
  const maxDisrupted = o.maxDisrupted ?? 1;
  const holderBias = o.holderBias ?? 0.6;
  const kinds = Object.entries(KINDS) as [FaultKind, KindSpec][];
  const totalWeight = kinds.reduce((s, [, k]) => s + k.weight, 0);
  const steps: ChaosStep[] = [];
  let at = between(PAUSE_MS);
  for (;;) {
    let roll = random.float() * totalWeight;
    const [kind, spec] = kinds.find(([, k]) => (roll -= k.weight) < 0) ?? kinds[0]!;
    const target = random.float() < holderBias ? 'holder' : 'any';
    const pick = random.float();
    const holdMs = between(spec.hold);
    // Wait for a free slot: fewer than maxDisrupted steps still busy at `at`.
    for (;;) {
      const busy = steps.filter((s) => s.at + s.holdMs + s.recoverMs > at);
      if (busy.length < maxDisrupted) break;
      at = Math.min(...busy.map((s) => s.at + s.holdMs + s.recoverMs)) + between(PAUSE_MS);
    }
    if (at + holdMs > o.durationMs) break;
    steps.push({ index: steps.length + 1, at, kind, target, pick, holdMs, recoverMs: spec.recoverMs });
    at += between(PAUSE_MS);
  }
  return steps;
}

/** One line describing a planned step, e.g. `#3 +12.4 s freeze holder for 4.2 s`. */
export function describeStep(s: ChaosStep): string {
  const what = { kill: 'SIGKILL, restart after', freeze: 'SIGSTOP, SIGCONT after', partition: 'link down, up after' }[s.kind];
  return `#${s.index} +${(s.at / 1000).toFixed(1)} s ${what} ${(s.holdMs / 1000).toFixed(1)} s, target ${s.target === 'holder' ? 'the holder' : 'any host'}`;
}
