// Counter bounds: the one rule for fencing epochs and registry versions that arrive
// from the network (or from disk). A counter is believed only when it is a safe
// non-negative integer, at most MAX_COUNTER, and at most MAX_COUNTER_JUMP above the
// highest value seen for the same thing (the name's epoch, the owner's version).
// Invariants: no adopted counter ever comes within 2^20 of 2^53, so `counter + 1` is
// always exact and always above it; a counter the rule refuses is dropped and logged
// by the caller, never adopted, never grounds to disconnect, never to start a tenure.

/** Largest step above the highest value seen that is still believed: 2^20. */
export const MAX_COUNTER_JUMP = 2 ** 20;

/** Highest counter (epoch or version) ever adopted: 2^53 − 2^20, so a successor is still exact and far from 2^53. */
export const MAX_COUNTER = 2 ** 53 - 2 ** 20;

/** What the rule says of a counter: 'ok', or why it is refused. */
export type CounterVerdict = 'ok' | 'invalid' | 'too-high' | 'too-far';

/**
 * Judge a counter against the highest value seen for the same thing (0: none).
 * `jump: false` waives the step bound (an owner speaking directly of its own version),
 * never the ceiling.
 */
export function judgeCounter(value: unknown, highestSeen: number, jump = true): CounterVerdict {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return 'invalid';
  if (value > MAX_COUNTER) return 'too-high';
  if (jump && value > Math.max(0, highestSeen) + MAX_COUNTER_JUMP) return 'too-far';
  return 'ok';
}

/** True if a tenure may take this epoch: a positive counter at most MAX_COUNTER. */
export function isUsableEpoch(epoch: number): boolean {
  return Number.isSafeInteger(epoch) && epoch > 0 && epoch <= MAX_COUNTER;
}
