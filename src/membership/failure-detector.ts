// Failure detector: the timing rules that decide when a silent peer is down, as pure
// functions over numbers (all in milliseconds on one monotonic clock). Local health
// awareness: when our own event loop was stalled, the silence we measure is partly
// ours, so the check is deferred until incoming data has had a chance to be read.

/** True when a peer last heard at lastHeardMs is overdue at nowMs. */
export function isOverdue(lastHeardMs: number, nowMs: number, failureTimeoutMs: number): boolean {
  return nowMs - lastHeardMs > failureTimeoutMs;
}

/** How late a periodic tick fired: 0 when on time. */
export function tickLag(expectedAtMs: number, nowMs: number): number {
  return Math.max(0, nowMs - expectedAtMs);
}

/**
 * True when this tick may declare peers down: our own loop was not stalled for more
 * than one heartbeat interval (after a stall, socket reads queued behind it have not
 * been processed yet, so silence measured now would be a false alarm).
 */
export function mayJudge(lagMs: number, heartbeatIntervalMs: number): boolean {
  return lagMs <= heartbeatIntervalMs;
}

/** Exponential backoff: min * 2^attempt, capped at max, with jitter in [d/2, d). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random01: number): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return d / 2 + random01 * (d / 2);
}

/**
 * Local health awareness: a timeout (the silence before suspicion) stretched by our own
 * recent event-loop lag beyond one heartbeat interval (a slow process measures silence
 * it caused itself).
 */
export function stretchedTimeout(timeoutMs: number, recentLagMs: number, heartbeatIntervalMs: number): number {
  // Capped: a node that is merely slow gets slack; one long freeze (handled by
  // mayJudge on the tick after it) must not blunt detection for long afterwards.
  return timeoutMs + Math.min(Math.max(0, recentLagMs - heartbeatIntervalMs), 2 * heartbeatIntervalMs);
}

/**
 * Silence after which a peer is suspected (and, once other members confirm they do not
 * hear it either, declared down). Checks run on heartbeat ticks, which fall on the same
 * wall-clock instants on every node, so a peer silent since its heartbeat k is judged at
 * tick k + n. Suspecting half an interval below the failure timeout makes that the tick
 * at which the failure timeout is reached, not one interval after it (with the timeout
 * itself as the threshold, whether tick k + n saw a silence of "exactly" the timeout as
 * overdue was a coin flip on timer jitter): a peer that falls silent is declared down
 * failureTimeoutMs after its last heartbeat, plus a probe round trip.
 */
export function suspicionMs(failureTimeoutMs: number, heartbeatIntervalMs: number): number {
  return failureTimeoutMs - heartbeatIntervalMs / 2;
}

/**
 * How long after its last on-time heartbeat a holder may still act: others suspect it
 * no sooner than suspicionMs after its last heartbeat, so it must stop before that,
 * with half an interval to spare.
 */
export function leaseMs(failureTimeoutMs: number, heartbeatIntervalMs: number): number {
  return suspicionMs(failureTimeoutMs, heartbeatIntervalMs) - heartbeatIntervalMs / 2;
}
