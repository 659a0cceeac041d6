// Lease: the port a failover Singleton's supervisor sees. A lease backend decides who
// holds a Singleton's name and with which fencing token; the supervisor only starts
// and stops the code. Two backends implement it: the cluster's own (quorum-lease.ts:
// the registry, with quorum grants when asked for) and etcd v3 (etcd-lease.ts).
// Invariants every backend keeps:
// - acquire() resolves with a tenure only while this node holds the lease; each
//   tenure's token is strictly higher than every earlier tenure's of that name.
// - valid() turns false before another node can have taken the lease (a holder stops
//   before its lease can have expired), and never turns true again for that tenure.
// - lost() is called at most once per tenure; after it the backend stands again only
//   when acquire() is called again.

/** Which backend elects a failover Singleton. */
export type LeaseKind = 'quorum' | 'etcd';

/** A tenure won through a lease backend. */
export interface LeaseTenure {
  /** The fencing token (ctx.epoch): strictly higher than every earlier tenure's of this name. */
  readonly token: number;
}

/** The holder of a lease as the backend sees it. */
export interface LeaseHolder {
  /** Node name of the holder. */
  owner: string;
  /** Its fencing token. */
  token: number;
}

/** What a backend tells the supervisor while a tenure runs. */
export interface LeaseEvents {
  /**
   * The tenure must end now: its lease could not be renewed in time, was superseded, or
   * ran out while this node was unresponsive. `why` is the supervisor's stop reason;
   * with `release`, the supervisor calls release() once the code has stopped.
   */
  lost(why: string, release: boolean): void;
}

/** A lease backend: acquire, renew, release, and the current holder with its token. */
export interface LeaseBackend {
  readonly kind: LeaseKind;
  /** Stand for the lease: resolves with the tenure once won, or undefined once signal aborts. One acquire at a time. */
  acquire(signal: AbortSignal, events: LeaseEvents): Promise<LeaseTenure | undefined>;
  /** Renew the lease now (backends also renew on their own timers): resolves true while the tenure still holds. */
  renew(): Promise<boolean>;
  /** Whether the tenure may act at this instant: a check on the injected clock, never I/O. */
  valid(): boolean;
  /** Give the lease back (handover): the next holder may start at once. Resolves once sent (bounded in time). */
  release(): Promise<void>;
  /** The current holder and its fencing token, if any. */
  holder(): Promise<LeaseHolder | undefined>;
  /** Stop standing: no more timers, requests or candidacy. Does not release a held lease (call release() after the code stopped). */
  close(): void;
  /**
   * Members whose heartbeats this backend's safety rules rely on: the failure detector
   * watches them (membership/detector.ts). None when the backend's safety does not rest
   * on the cluster's own failure detection (etcd: its lease TTL decides).
   */
  watch(): string[];
}
