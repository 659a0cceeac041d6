// Dialer: when the mesh may dial — redial backoff with jitter after failures, and the
// pacing that bounds how hard forged discovery records can make this node hit any one
// address: a token bucket per destination address, a global one, and a bound on dials
// in flight. Pure over injected time: the mesh asks reserve() before each attempt and
// waits the answer out on its clock.
// Invariants (the documented limits): at most DIALS_PER_ADDRESS.capacity +
// DIALS_PER_ADDRESS.perSecond × T connection attempts to one IP address (all ports
// together) in any T seconds — 8 at once, then 2 per second sustained; at most
// DIALS_GLOBAL.capacity + DIALS_GLOBAL.perSecond × T in total — 20 at once, then 20
// per second; at most MAX_CONCURRENT_DIALS (2) dials in flight; a candidate's backoff is
// reset by an address or port change at most once per BACKOFF_RESET_MIN_INTERVAL_MS.
import { backoffDelay } from '../membership/timing.js';
import { KeyedBuckets, TokenBucket } from './rate-limit.js';
import type { BucketConfig } from './rate-limit.js';

/** Connection attempts per destination IP address: burst 8, then 2 per second. */
export const DIALS_PER_ADDRESS: BucketConfig = { capacity: 8, perSecond: 2 };
/** Connection attempts in total: burst 20, then 20 per second. */
export const DIALS_GLOBAL: BucketConfig = { capacity: 20, perSecond: 20 };
/**
 * Dials (connect + handshake) in flight at once: 2, half the handshake turns
 * (handshake-queue.ts; the other half is for inbound handshakes). Measured with the
 * formation benchmark (20 nodes on 4 virtual hosts, 2 cores): 32 in flight made
 * hundreds of handshake timeouts per run; see README "Pacing".
 */
export const MAX_CONCURRENT_DIALS = 2;
/** How long a dial waits when MAX_CONCURRENT_DIALS are in flight before it asks again, ms. */
export const CONCURRENCY_RETRY_MS = 100;
/** A candidate's address or port change resets its backoff at most this often, ms. */
export const BACKOFF_RESET_MIN_INTERVAL_MS = 60_000;
/** Destination addresses whose buckets are remembered. */
export const MAX_DIAL_BUCKETS = 4096;
/** First delay of the backoff after failed authentications, ms. */
export const AUTH_BACKOFF_MIN_MS = 1000;
/**
 * How long the end whose dial would lose the simultaneous-dial tie-break waits before
 * its first dial of a named peer, ms: 250. Both ends usually find each other at once
 * (mDNS announcements cross), and one handshake per pair beats two of which one is
 * thrown away (a second connection costs both sides a handshake, ~0.4 ms of CPU each
 * with X25519, plus a socket, and its closing is one more event to settle).
 */
export const SIMULTANEOUS_DIAL_GRACE_MS = 250;

/**
 * True when our first dial to a peer should wait SIMULTANEOUS_DIAL_GRACE_MS: the peer's
 * name sorts first, so of two connections dialed at once its dial is the one kept
 * (preferConnection), and it has likely found us too. Only for peers discovery found
 * (mDNS, seeds): one named in a member's list has not heard of us (mesh.ts).
 */
export function yieldsFirstDial(ourName: string, peerName: string): boolean {
  return peerName < ourName;
}

/** The timing settings the redial backoff uses. */
export interface BackoffConfig {
  reconnectMinMs: number;
  reconnectMaxMs: number;
  authBackoffMaxMs: number;
}

/**
 * Delay before the next attempt at a candidate, ms: exponential with jitter
 * (backoffDelay) from reconnectMinMs after `attempt` failures, or from 1 s up to
 * authBackoffMaxMs after `authFailures` failed authentications (a node with another
 * cookie will not change its mind soon).
 */
export function redialDelay(attempt: number, authFailures: number, cfg: BackoffConfig, random01: number): number {
  return authFailures > 0
    ? backoffDelay(authFailures - 1, AUTH_BACKOFF_MIN_MS, cfg.authBackoffMaxMs, random01)
    : backoffDelay(attempt, cfg.reconnectMinMs, cfg.reconnectMaxMs, random01);
}

/**
 * How long a candidate the pacer turned away waits, ms: the pacer's wait, spread over
 * the candidates already waiting (othersWaiting), since a token comes for each of them
 * in turn. Keeps the wakeups of n waiting candidates near the dial rate instead of n
 * per token.
 */
export function pacedDelay(waitMs: number, othersWaiting: number, random01: number): number {
  return waitMs * (1 + random01 * Math.max(1, othersWaiting));
}

/** True when an address or port change at nowMs may reset a backoff last reset at lastResetAtMs. */
export function mayResetBackoff(lastResetAtMs: number, nowMs: number): boolean {
  return nowMs - lastResetAtMs >= BACKOFF_RESET_MIN_INTERVAL_MS;
}

/** Limits of a DialPacer (the defaults above unless a test asks otherwise). */
export interface PacerLimits {
  perAddress: BucketConfig;
  global: BucketConfig;
  maxConcurrent: number;
}

/** The pacing state of one mesh. */
export class DialPacer {
  private readonly global: TokenBucket;
  private readonly perAddress: KeyedBuckets;
  private inFlight = 0;

  constructor(
    private readonly now: () => number,
    readonly limits: PacerLimits = { perAddress: DIALS_PER_ADDRESS, global: DIALS_GLOBAL, maxConcurrent: MAX_CONCURRENT_DIALS },
  ) {
    this.global = new TokenBucket(limits.global, now());
    this.perAddress = new KeyedBuckets(limits.perAddress, MAX_DIAL_BUCKETS);
  }

  /** Dials in flight. */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Ask to begin a dial that will try `addresses`: 0 means go (a slot and a token for
   * the first address are taken: call end() when the dial is over); otherwise the
   * milliseconds to wait before asking again.
   */
  begin(addresses: readonly string[]): number {
    if (this.inFlight >= this.limits.maxConcurrent) return CONCURRENCY_RETRY_MS;
    const wait = this.reserve(addresses[0] ?? '');
    if (wait > 0) return wait;
    this.inFlight++;
    return 0;
  }

  /**
   * Take a token for one connection attempt to address (a dial that falls back to
   * another address asks again): 0 means taken, else ms to wait.
   */
  reserve(address: string): number {
    const now = this.now();
    // The global bucket first: while it is empty no per-address bucket is created, so
    // candidates waking for tokens cannot churn the per-address table.
    const globalWait = this.global.waitMs(now);
    if (globalWait > 0) return globalWait;
    const mine = this.perAddress.get(address, now);
    const wait = mine.waitMs(now);
    if (wait > 0) return wait;
    mine.take(now);
    this.global.take(now);
    return 0;
  }

  /** A dial begun with begin() is over. */
  end(): void {
    if (this.inFlight > 0) this.inFlight--;
  }
}
