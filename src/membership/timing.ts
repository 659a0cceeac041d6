// Timing: every timing rule of the cluster, named once, as pure functions over numbers
// (all in milliseconds on one monotonic clock) and tested as tables
// (test/unit/membership-timing.test.ts). Everything else uses these by name: the
// failure detector (when a silent peer is suspected and declared down), the Singleton
// (its lease, quorum freshness, quiet periods), the claim rule (the confirm deadline)
// and quorum grants (their lifetime). Local health awareness: when our own event loop
// was stalled, the silence we measure is partly ours, so the check is deferred until
// incoming data has had a chance to be read.
// Invariants: every rule derives from the configured failure timeout and heartbeat
// interval alone; leaseMs + heartbeatIntervalMs / 2 <= suspicionMs < failureTimeoutMs,
// so a holder stops before anyone can suspect it.

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
 * Local health awareness for a handshake: its deadline stretched by twice our own recent
 * event-loop lag (a handshake waits on two wakeups of ours, each of which may be that
 * late), at most doubled: handshakeTimeoutMs + min(2 × recentLagMs, handshakeTimeoutMs).
 */
export function handshakeDeadlineMs(handshakeTimeoutMs: number, recentLagMs: number): number {
  return handshakeTimeoutMs + Math.min(2 * Math.max(0, recentLagMs), handshakeTimeoutMs);
}

/**
 * How long an inbound connection may wait in our handshake queue before it is dropped:
 * half the handshake timeout. The peer's deadline runs from before it connected, so it
 * keeps at least the other half for the handshake itself once its turn comes.
 */
export function handshakeQueueWaitMs(handshakeTimeoutMs: number): number {
  return handshakeTimeoutMs / 2;
}

/**
 * The deadline of a handshake we dial: the peer may hold our connection in its queue for
 * up to handshakeQueueWaitMs before its turn, and the handshake then gets
 * handshakeDeadlineMs.
 */
export function dialHandshakeDeadlineMs(handshakeTimeoutMs: number, recentLagMs: number): number {
  return handshakeQueueWaitMs(handshakeTimeoutMs) + handshakeDeadlineMs(handshakeTimeoutMs, recentLagMs);
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

/**
 * Latest time after a frozen member's last heartbeat at which each of its watchers (its
 * ring predecessors, and the members its leases concern) declares it down, for
 * heartbeats that take under half an interval to arrive: suspected on the aligned tick
 * failureTimeoutMs after that heartbeat (suspicionMs), confirmed within one probe
 * window. The earliest is that tick itself (every member asked answered "silent").
 */
export function watcherDetectionMs(failureTimeoutMs: number, heartbeatIntervalMs: number): number {
  return failureTimeoutMs + probeWindowMs(heartbeatIntervalMs);
}

/**
 * Latest time after a frozen member's last heartbeat at which a member that does not
 * watch it declares it down, told by two of its watchers: their verdict plus the
 * transit of their reports (netMs).
 */
export function reportedDetectionMs(failureTimeoutMs: number, heartbeatIntervalMs: number, netMs: number): number {
  return watcherDetectionMs(failureTimeoutMs, heartbeatIntervalMs) + netMs;
}

/**
 * The same with a single report (the other watchers are gone too, or slow): the member
 * then watches the frozen one itself from the report on, and its own check decides: on
 * the first aligned tick past suspicionMs after the report (up to an interval later,
 * as the report comes between ticks), plus a probe window.
 */
export function singleReportDetectionMs(failureTimeoutMs: number, heartbeatIntervalMs: number, netMs: number): number {
  return reportedDetectionMs(failureTimeoutMs, heartbeatIntervalMs, netMs) + suspicionMs(failureTimeoutMs, heartbeatIntervalMs) + heartbeatIntervalMs + probeWindowMs(heartbeatIntervalMs);
}

/**
 * When to check a lease-watched member between ticks: a whole millisecond at least one
 * past the moment its silence (counted from `fromMs`) reaches timeoutMs, if that falls after nowMs and before the
 * next tick at nextTickMs; undefined otherwise (not yet due, or the next tick will see
 * it first). Clock ms.
 */
export function onTimeCheckAt(fromMs: number, timeoutMs: number, nowMs: number, nextTickMs: number): number | undefined {
  const due = Math.ceil(fromMs + timeoutMs) + 1;
  return due > nowMs && due < nextTickMs ? due : undefined;
}

/**
 * Latest time after a frozen lease-watched member's last heartbeat at which a member
 * that watches it for the lease suspects it (checked on time, not on the next tick) and
 * declares it down: suspicionMs, plus a probe window for the answers. The earliest is
 * the lease rules' own bound, suspicionMs (which leaseMs stays half an interval below).
 */
export function leaseWatchDetectionMs(failureTimeoutMs: number, heartbeatIntervalMs: number): number {
  return suspicionMs(failureTimeoutMs, heartbeatIntervalMs) + 1 + probeWindowMs(heartbeatIntervalMs);
}

/**
 * How long news of a member that came up waits before it goes to the members connected
 * before it: one handshake timeout. The newcomer got our member list and dials them
 * itself; news is the fallback for a member it cannot reach, and every newcomer of the
 * wait goes out in one message per member.
 */
export function newsDelayMs(handshakeTimeoutMs: number): number {
  return handshakeTimeoutMs;
}

/**
 * Silence past which a suspect is declared down at once, without asking other members:
 * twice the failure timeout (by then an indirect check could only confirm it).
 */
export function downWithoutProbesMs(failureTimeoutMs: number): number {
  return 2 * failureTimeoutMs;
}

/** How long the members asked about a suspect have to answer before it is declared down: half a heartbeat interval, at least 50 ms. */
export function probeWindowMs(heartbeatIntervalMs: number): number {
  return Math.max(50, heartbeatIntervalMs / 2);
}

/** A witness that heard a suspect within this long refutes the suspicion: half the failure timeout. */
export function heardRecentlyMs(failureTimeoutMs: number): number {
  return failureTimeoutMs / 2;
}

/** After a refuted suspicion, the suspect is not suspected again for this long: one failure timeout. */
export function refutedForMs(failureTimeoutMs: number): number {
  return failureTimeoutMs;
}

/**
 * How long a claim's confirm round may take before the claim fails: twice the failure
 * timeout. A member that falls silent is declared down within about one failure timeout
 * of its last heartbeat, which drops it from the round; the deadline only decides for a
 * member that stays connected and never answers.
 */
export function confirmTimeoutMs(failureTimeoutMs: number): number {
  return 2 * failureTimeoutMs;
}

/**
 * How long a quorum claimant waits for grants: one failure timeout. A voter that does
 * not answer by then is silent, and would be declared down about then anyway.
 */
export function quorumRequestTimeoutMs(failureTimeoutMs: number): number {
  return failureTimeoutMs;
}

/**
 * How long a quorum grant keeps other claimants out when its claimant neither claims nor
 * releases: twice the failure timeout. Why this is safe:
 * - It outlives the claimant's need. A claimant asks, waits at most
 *   quorumRequestTimeoutMs (one failure timeout) for the grants, and publishes its claim
 *   at once (it gives the grants back instead when that moment has passed, or when its
 *   registry is not synced). A grant starts when the voter receives the request, after
 *   the claimant sent it, so the claim is on its way with a whole failure timeout of
 *   the grant left for delivery; a link that takes longer than that also delays
 *   heartbeats, and the claimant is declared down (which drops its grants) first.
 *   Once the claim arrives, the voter sees a holder and refuses every other grant
 *   without the grant's help.
 * - It expires. A claimant that crashed is declared down (its grants go at once); one
 *   that stays connected but never claims nor releases (frozen, or a lost qrel) blocks
 *   the name for at most this long.
 */
export function grantLifetimeMs(failureTimeoutMs: number): number {
  return 2 * failureTimeoutMs;
}

/**
 * A voter counts as in sight of a quorum holder while it was heard within this long:
 * the failure timeout less one heartbeat interval, so the holder gives up its quorum
 * no later than the voter could be declared down on the other side.
 */
export function quorumFreshMs(failureTimeoutMs: number, heartbeatIntervalMs: number): number {
  return failureTimeoutMs - heartbeatIntervalMs;
}

/**
 * After this node was itself unresponsive (its lease ran out, or a member declared it
 * down), it waits this long before taking a name, and before judging a stalled tenure
 * without news: one failure timeout, the time members need to notice and reconnect.
 */
export function rejoinQuietMs(failureTimeoutMs: number): number {
  return failureTimeoutMs;
}
