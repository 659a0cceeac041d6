// HLC: a hybrid logical clock (Kulkarni et al.). A stamp is physical milliseconds
// plus a logical counter; now() never goes backwards and observe() advances past
// every stamp received, so a claim made after seeing another is always later.
import type { Clock } from '../util/clock.js';

/** A hybrid logical clock stamp: [wall milliseconds, logical counter]. */
export type Stamp = readonly [wall: number, logical: number];

/** Order two stamps: negative if a is earlier. */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** True if v is a well-formed stamp (non-negative safe integers). */
export function isStamp(v: unknown): v is Stamp {
  return (
    Array.isArray(v) &&
    v.length === 2 &&
    Number.isSafeInteger(v[0]) &&
    Number.isSafeInteger(v[1]) &&
    (v[0] as number) >= 0 &&
    (v[1] as number) >= 0
  );
}

/** Largest clock skew accepted from a peer's stamp: stamps further ahead are clamped to now + this. */
export const MAX_HLC_DRIFT_MS = 60_000;

/** Largest logical part of a remote stamp the clock observes: 2^32 (it restarts at 0 every millisecond; real ones stay tiny). */
export const MAX_HLC_LOGICAL = 2 ** 32;

/** A hybrid logical clock driven by an injected Clock's wall time. */
export class HybridClock {
  private last: Stamp = [0, 0];

  constructor(private readonly clock: Clock) {}

  /** A fresh stamp, later than every stamp issued or observed before. */
  now(): Stamp {
    const wall = Math.floor(this.clock.wallNow());
    this.last = wall > this.last[0] ? [wall, 0] : [this.last[0], this.last[1] + 1];
    return this.last;
  }

  /**
   * Advance past a stamp received from a peer, ignoring one that is not a stamp, one from
   * beyond MAX_HLC_DRIFT_MS in the future, and one whose logical part is above
   * MAX_HLC_LOGICAL (counting on from it would leave the safe integers).
   */
  observe(remote: Stamp): void {
    if (!isStamp(remote) || remote[1] > MAX_HLC_LOGICAL) return;
    const wall = Math.floor(this.clock.wallNow());
    if (remote[0] > wall + MAX_HLC_DRIFT_MS) return;
    const top = compareStamps(remote, this.last) > 0 ? remote : this.last;
    this.last = wall > top[0] ? [wall, 0] : [top[0], top[1] + 1];
  }

  /** The latest stamp issued or observed. */
  peek(): Stamp {
    return this.last;
  }
}
