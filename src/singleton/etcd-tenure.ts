// etcd tenure: the timing rules of a Singleton held through an etcd lease. Pure
// functions of the failure timeout and the injected clock's readings.
// - The lease's TTL follows --failure-timeout (whole seconds, at least 2: etcd's own
//   minimum with its default election timeout), so takeover after a crash or freeze
//   takes about as long as a failure detection in the quorum mode.
// - The holder may act until holdDeadline: the clock reading taken *before* sending
//   its last successful grant or keepalive, plus the TTL etcd answered, minus a margin.
//   etcd starts the TTL when it receives the request, which is later, so the holder
//   stops before etcd can expire the lease and hand the key to a standby.
// - Keepalives go every third of the TTL (as etcd's own client does), so two can fail
//   before the deadline; each request may take a third of the TTL at most.
// Invariant: holdDeadline(sentAt, ttl) <= sentAt + ttl - renewMarginMs(ttl) < the time
// etcd expires the lease.

/** TTL of the etcd lease in whole seconds for a failure timeout (ms): ceil(timeout / 1 s), at least 2. */
export function etcdTtlSeconds(failureTimeoutMs: number): number {
  return Math.max(2, Math.ceil(failureTimeoutMs / 1000));
}

/** How long before the TTL runs out (from the request's send time) a holder stops: a tenth of the TTL, at least 250 ms. */
export function renewMarginMs(ttlMs: number): number {
  return Math.max(250, ttlMs / 10);
}

/** Until when (clock ms) a holder may act after a grant or keepalive sent at sentAt was answered with ttlS seconds. */
export function holdDeadline(sentAt: number, ttlS: number): number {
  const ttlMs = ttlS * 1000;
  return sentAt + ttlMs - renewMarginMs(ttlMs);
}

/** Keepalive period of a held lease: a third of the TTL. */
export function keepaliveIntervalMs(ttlS: number): number {
  return (ttlS * 1000) / 3;
}

/** Deadline of one request to etcd (grant, transaction, keepalive, revoke, read): a third of the TTL. */
export function etcdRequestTimeoutMs(ttlS: number): number {
  return (ttlS * 1000) / 3;
}

/** A standby re-reads the key at least this often while watching it (a silently dead watch costs no more): 4 TTLs, at least 5 s. */
export function watchRenewMs(ttlS: number): number {
  return Math.max(5000, 4 * ttlS * 1000);
}

/** Wait before the next try after the n-th failure in a row to reach etcd (n >= 1): 250 ms doubling, at most 2 s. */
export function etcdRetryMs(failures: number): number {
  return Math.min(2000, 250 * 2 ** Math.max(0, Math.min(failures, 10) - 1));
}
