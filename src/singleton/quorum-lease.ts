// Quorum lease: the cluster's own lease backend, the failover and quorum modes of the
// Singleton behind the lease port (lease.ts). Moved out of the supervisor unchanged.
// - Every node standing for the name registers a candidacy marker (so candidates are
//   ordered by how long they have been around). Whenever the name has no holder,
//   exactly one candidate — the longest-lived one alive in its view — takes it, with a
//   fencing epoch one above the highest ever seen (the token).
// - With a quorum, the tenure is granted by a quorum of members first (quorum.ts), and
//   held only while a quorum is in sight. Only candidates vote: a member that does not
//   run this Singleton is neither counted nor asked.
// - A holder whose own event loop stalled past its lease (membership/timing.ts
//   leaseMs) is suspended until it knows whether anyone lost sight of it; then it
//   resumes, or the tenure is stale and ends.
// - A tenure starts only if it would be valid at that instant: an attempt awaits grants,
//   sync, the confirm round and the save, and a node that was unresponsive meanwhile
//   (or lost sight of its quorum) drops the claim instead (it may have been replaced).
// Invariant: valid() is true only while this node holds the name, its lease has not run
// out, and (with a quorum) a quorum is in sight.
import type { Claim } from '../registry/registry.js';
import { compareClaims } from '../registry/registry.js';
import { isUsableEpoch, MAX_COUNTER } from '../registry/bounds.js';
import { leaseMs, quorumFreshMs, quorumRequestTimeoutMs, rejoinQuietMs } from '../membership/timing.js';
import type { TimerHandle } from '../util/clock.js';
import type { LeaseBackend, LeaseEvents, LeaseHolder, LeaseTenure } from './lease.js';
import type { SingletonHost } from './supervisor.js';

/** Registry names of candidacy markers start with this (never shown by registered()). */
export const CANDIDATE_PREFIX = '\u0001candidate/';

/** The prefix of every candidacy marker for the Singleton `name`; a node's marker is the prefix plus its node name. */
export function candidacyPrefix(name: string): string {
  return `${CANDIDATE_PREFIX}${name}/`;
}

/** Where the quorum lease is: not standing, standing by, or holding the name. */
type Phase = 'idle' | 'standby' | 'held' | 'closed';

/** The cluster's own lease backend: the registry's confirmed claims, with quorum grants when quorum > 0. */
export class QuorumLease implements LeaseBackend {
  readonly kind = 'quorum' as const;
  private phase: Phase = 'idle';
  /** Epoch of the current (or last) tenure. */
  private epoch = 0;
  private opened = false;
  private unsubscribe: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private acquiring = false;
  private tenureStartedAt = 0;
  private waiter: { resolve: (t: LeaseTenure | undefined) => void; events: LeaseEvents } | undefined;
  private events: LeaseEvents | undefined;
  /** Do not take the name before this time: after a stale tenure, or after this node was itself unresponsive. */
  private quietUntil = 0;
  /** Members connected at the last check that found the tenure valid. */
  private lastGoodMembers: string[] = [];
  /** The holder a standby last said (owner#inc#epoch; '' for none). */
  private holderNoted = '';
  /** The candidates in sight a waiting successor last said (-1: not waiting). */
  private waitingNoted = -1;
  /** Set when our lease ran out (our loop stalled): the tenure is suspended until we know whether anyone lost sight of us. */
  private stall: { since: number; members: string[] } | undefined;
  private epochExhausted = false;
  /** Set while the last attempt could not save its epoch (the error is logged once per run of failures). */
  private unsaved = false;

  /** quorum: hold only while this many candidates (this one included) are in sight, and take the name only with their grants; 0 for none. */
  constructor(
    private readonly host: SingletonHost,
    readonly name: string,
    private readonly quorum: number,
  ) {}

  private get candidacy(): string {
    return candidacyPrefix(this.name) + this.host.name;
  }

  /** Lease: how long after our last on-time tick we may still act. */
  private leaseMs(): number {
    return leaseMs(this.host.failureTimeoutMs, this.host.heartbeatIntervalMs);
  }

  async acquire(signal: AbortSignal, events: LeaseEvents): Promise<LeaseTenure | undefined> {
    if (signal.aborted || this.phase === 'closed') return undefined;
    const won = new Promise<LeaseTenure | undefined>((resolve) => {
      this.waiter = { resolve, events };
    });
    signal.addEventListener(
      'abort',
      () => {
        const w = this.waiter;
        this.waiter = undefined;
        w?.resolve(undefined);
      },
      { once: true },
    );
    if (!this.opened) {
      this.opened = true;
      await this.host.register(this.candidacy);
      if ((this.phase as Phase) === 'closed') return won;
      this.phase = 'standby';
      this.unsubscribe = this.host.onChange((event, name, claim) => {
        if (event === 'lost' && name === this.name && this.phase === 'held' && claim) {
          this.host.logger.warn(`${this.name} (epoch ${this.epoch}) superseded by ${claim.owner} (epoch ${claim.epoch ?? 0}); stopping`, { name: this.name, winner: claim.owner });
          this.end(`superseded by ${claim.owner}`, false);
          return;
        }
        if (event === 'nodedown' || event === 'nodeup' || name === this.name || name.startsWith(candidacyPrefix(this.name))) this.check();
      });
      this.schedule();
      this.check();
    } else if ((this.phase as Phase) !== 'closed') {
      this.phase = 'standby';
    }
    return won;
  }

  async renew(): Promise<boolean> {
    this.check();
    return this.phase === 'held';
  }

  valid(): boolean {
    if (this.phase !== 'held') return false;
    if (this.stall || this.leaseExpired(this.host.clock.now())) return false;
    return this.quorumInSight();
  }

  async release(): Promise<void> {
    if (this.phase === 'held') this.phase = 'idle';
    this.host.unregister(this.name);
  }

  async holder(): Promise<LeaseHolder | undefined> {
    const c = this.host.holder(this.name);
    return c ? { owner: c.owner, token: c.epoch ?? 0 } : undefined;
  }

  close(): void {
    this.phase = 'closed';
    this.host.clock.clearTimeout(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.opened) this.host.unregister(this.candidacy);
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve(undefined);
  }

  /** The tenure ends: tell the supervisor (which stops the code and, with release, gives the name back). */
  private end(why: string, release: boolean): void {
    this.phase = 'standby';
    this.events?.lost(why, release);
  }

  private schedule(): void {
    this.timer = this.host.clock.setTimeout(() => {
      this.check();
      if (this.phase === 'standby' || this.phase === 'held') this.schedule();
    }, this.host.heartbeatIntervalMs / 2);
  }

  private leaseExpired(now: number): boolean {
    return now - this.host.lastHealthyTickAt() > this.leaseMs() && now - this.tenureStartedAt > this.leaseMs();
  }

  /**
   * Members the failure detector must watch for these rules: a candidate watches the
   * holder, since it takes over only once it declared the holder down on its own
   * evidence; a holder watches the other candidates (quorum freshness must hear them);
   * with a quorum every candidate watches the voters too (a successor needs a quorum in
   * sight). Nobody while not standing.
   */
  watch(): string[] {
    if (this.phase !== 'standby' && this.phase !== 'held') return [];
    const out = new Set<string>();
    if (this.phase === 'held' || this.quorum > 0) for (const v of this.voters()) out.add(v);
    const holder = this.host.holder(this.name);
    if (holder && holder.owner !== this.host.name) out.add(holder.owner);
    return [...out];
  }

  /**
   * The other members that vote on this name: those standing as candidates for it (a
   * candidacy marker in the registry). An observer (--no-singleton, or a node running
   * other Singletons only) is neither counted towards a quorum nor asked for a grant.
   */
  private voters(): string[] {
    const prefix = candidacyPrefix(this.name);
    return this.host.claimsOfMembers(prefix).filter((c) => c.owner !== this.host.name && c.name === prefix + c.owner).map((c) => c.owner);
  }

  private quorumInSight(): boolean {
    return this.quorum === 0 || this.host.freshMembers(quorumFreshMs(this.host.failureTimeoutMs, this.host.heartbeatIntervalMs), new Set(this.voters())) + 1 >= this.quorum;
  }

  /**
   * The loop body. A held tenure whose lease ran out (our own loop stalled) is
   * suspended — valid() is false — until we have read what arrived meanwhile: if every
   * member we saw before still holds its connection to us, nobody declared us down, so
   * nobody took over, and the tenure resumes; otherwise it is stale and ends. A tenure
   * that loses sight of its quorum ends. A standby takes the name when it is free and
   * this node is the longest-lived candidate.
   */
  private check(): void {
    const now = this.host.clock.now();
    this.noteOwnHealth(now);
    if (this.phase === 'held') {
      if (!this.stall && this.leaseExpired(now)) this.stall = { since: now, members: this.lastGoodMembers };
      if (this.stall) {
        const stall = this.stall;
        const readSince = this.host.lastHealthyTickAt() > stall.since;
        if (!readSince && now - stall.since < rejoinQuietMs(this.host.failureTimeoutMs)) return;
        const present = new Set(this.host.members());
        const lost = stall.members.filter((m) => !present.has(m));
        if (readSince && lost.length === 0) {
          this.stall = undefined;
          this.host.logger.info(`${this.name} (epoch ${this.epoch}) resumes after a stall of ${((now - stall.since) / 1000 + this.leaseMs() / 1000).toFixed(1)} s: no member lost sight of this node`, { name: this.name, epoch: this.epoch });
        } else {
          const names = lost.map((m) => m.replace(/#\d+$/, ''));
          return this.stale(`this node was unresponsive and ${names.length ? `${names.join(', ')} lost sight of it` : 'could not catch up'}; it may have been replaced`);
        }
      }
      if (!this.quorumInSight()) return this.stale(`fewer than ${this.quorum} members in sight (quorum lost)`);
      this.lastGoodMembers = this.host.members();
      return;
    }
    if (this.phase !== 'standby' || this.acquiring) return;
    const holder = this.host.holder(this.name);
    this.noteHolder(holder);
    if (now < this.quietUntil) return;
    // A member we have not synced with yet may hold the name: learn that first.
    if (!this.host.isSynced()) return;
    if (holder) return;
    if (!this.waiter) return;
    const successor = this.successor();
    if (successor !== this.host.name) return;
    if (!this.quorumInSight()) return this.noteWaiting();
    this.waitingNoted = -1;
    void this.attempt();
  }

  /** A standby says who holds the name, once per change of holder or epoch. */
  private noteHolder(holder: Claim | undefined): void {
    const key = holder ? `${holder.owner}#${holder.incarnation}#${holder.epoch ?? 0}` : '';
    if (key === this.holderNoted) return;
    this.holderNoted = key;
    if (!holder || holder.owner === this.host.name) return;
    const epoch = holder.epoch ?? 0;
    this.host.logger.info(`${this.name} is held by ${holder.owner}${epoch ? `, epoch ${epoch}` : ''}; this node stands by`, { name: this.name, holder: holder.owner, epoch });
  }

  /** The successor below its quorum says so, and for how many it waits, once per change of the count. */
  private noteWaiting(): void {
    const inSight = this.host.freshMembers(quorumFreshMs(this.host.failureTimeoutMs, this.host.heartbeatIntervalMs), new Set(this.voters())) + 1;
    if (inSight === this.waitingNoted) return;
    this.waitingNoted = inSight;
    const missing = this.quorum - inSight;
    this.host.logger.info(`${this.name}: waiting for a quorum: ${inSight} of ${this.quorum} candidates in sight (this one included), ${missing} more needed`, { name: this.name, inSight, quorum: this.quorum });
  }

  /**
   * Right after this node was itself unresponsive — its loop stalled past the lease, or
   * a member told it that it was declared down — its view of who is down is suspect:
   * the members whose connections it just saw close are alive, judged *it* down, and
   * are redialing it. Taking the name then would start a second, needless tenure while
   * theirs runs. So a standby waits one failure timeout for them to come back and sync.
   */
  private noteOwnHealth(now: number): void {
    const since = Math.max(this.host.lastDeclaredDownAt(), now - this.host.lastHealthyTickAt() > this.leaseMs() ? now : -Infinity);
    this.quietUntil = Math.max(this.quietUntil, since + rejoinQuietMs(this.host.failureTimeoutMs));
  }

  private stale(why: string): void {
    this.stall = undefined;
    this.host.logger.warn(`stale tenure of ${this.name} (epoch ${this.epoch}): ${why}; stopping`, { name: this.name, epoch: this.epoch });
    // Give reconnections a moment to start (their sync then holds us back as well).
    this.quietUntil = this.host.clock.now() + 2 * this.host.heartbeatIntervalMs;
    this.end('stale tenure', true);
  }

  /** The longest-lived candidate alive in our view (earliest candidacy). */
  private successor(): string | undefined {
    const prefix = candidacyPrefix(this.name);
    const candidates = this.host.claimsOfMembers(prefix).sort(compareClaims);
    return candidates[0]?.owner;
  }

  /** One attempt to take the free name: grants (with a quorum), the confirmed claim, the saved epoch. */
  private async attempt(): Promise<void> {
    this.acquiring = true;
    try {
      // Without a quorum the epoch is read when the claim is made (highest seen + 1), so
      // one learned while waiting for the registry to sync is never reused.
      const epoch = this.host.epochOf(this.name) + 1;
      if (!isUsableEpoch(epoch)) {
        // Only reachable after members walked the epoch up to the ceiling in bounded steps: stay a standby.
        if (!this.epochExhausted) this.host.logger.error(`${this.name}: the fencing epoch ${this.host.epochOf(this.name)} is at the ceiling ${MAX_COUNTER}; no tenure can start (clear the state file)`, { name: this.name });
        this.epochExhausted = true;
        return;
      }
      if (this.quorum > 0) {
        const askedAt = this.host.clock.now();
        const requestMs = quorumRequestTimeoutMs(this.host.failureTimeoutMs);
        const { granted, highestEpoch } = await this.host.requestQuorum(this.name, epoch, this.quorum, requestMs, this.voters());
        if (this.phase !== 'standby' || !this.waiter) return this.host.releaseQuorum(this.name, epoch, granted);
        if (granted.length < this.quorum) {
          this.host.releaseQuorum(this.name, epoch, granted);
          this.host.logger.debug(`${this.name}: ${granted.length} of ${this.quorum} grants for epoch ${epoch} (highest seen ${highestEpoch}); will retry`, { name: this.name });
          return;
        }
        // The grants keep others out for grantLifetimeMs (membership/timing.ts) from when
        // each voter got the request: the claim goes out at once, within the request's
        // deadline and without waiting for a sync, or the grants go back.
        if (this.host.clock.now() - askedAt > requestMs || !this.host.isSynced()) {
          this.host.releaseQuorum(this.name, epoch, granted);
          this.host.logger.debug(`${this.name}: grants for epoch ${epoch} came too late to claim on (or the registry is not synced); will retry`, { name: this.name });
          return;
        }
      }
      if (this.phase !== 'standby' || !this.waiter || this.host.holder(this.name)) return;
      const result = await this.host.register(this.name, this.quorum > 0 ? epoch : 'next');
      if (!result.won || this.phase !== 'standby' || !this.waiter) {
        if (result.won) this.host.unregister(this.name);
        return;
      }
      // Never run on an epoch a crash could forget: the claim's epoch is durably saved
      // (with a state directory) before the tenure starts; if it cannot be, the claim
      // goes and this node stays a standby.
      const claimed = result.claim.epoch ?? epoch;
      const saved = await this.host.persistEpoch(this.name, claimed);
      const holder = this.host.holder(this.name);
      const waiter = this.waiter;
      if (!saved || this.phase !== 'standby' || !waiter || holder?.owner !== this.host.name) {
        if (holder?.owner === this.host.name) this.host.unregister(this.name);
        if (!saved && !this.unsaved) this.host.logger.error(`${this.name}: epoch ${claimed} could not be saved; staying a standby (no tenure runs on an unsaved epoch)`, { name: this.name, epoch: claimed });
        if (!saved) this.unsaved = true;
        return;
      }
      this.unsaved = false;
      // The attempt awaited grants, the registry's sync, the confirm round and the save:
      // our own loop may have stalled meanwhile (a SIGSTOP, a long pause), and a confirm
      // round completes from answers sent before the others declared us down and took
      // over — our registry has not heard of it yet. So the tenure starts only if it
      // would be valid at this instant (the rules of noteOwnHealth and of the quorum);
      // otherwise the claim goes and this node stays a standby.
      const startAt = this.host.clock.now();
      this.noteOwnHealth(startAt);
      const unresponsive = startAt < this.quietUntil;
      if (unresponsive || !this.quorumInSight()) {
        this.host.unregister(this.name);
        this.host.logger.warn(
          `${this.name}: claim with epoch ${claimed} dropped before its tenure started: ${unresponsive ? 'this node was unresponsive during the attempt and may have been replaced' : `fewer than ${this.quorum} members in sight`}; standing by`,
          { name: this.name, epoch: claimed },
        );
        return;
      }
      this.waiter = undefined;
      this.events = waiter.events;
      this.phase = 'held';
      this.epoch = claimed;
      this.tenureStartedAt = this.host.clock.now();
      this.lastGoodMembers = this.host.members();
      this.stall = undefined;
      waiter.resolve({ token: claimed });
    } finally {
      this.acquiring = false;
    }
  }
}
