// Singleton supervisor: runs one piece of user code under a cluster-wide unique name.
//
// Default mode — the seed's SingletonSupervisor, restart `temporary`: after a settle
// window (so discovery and registry sync see the cluster first) it registers the name;
// if it wins, it starts the code; if the name is held, it logs who holds it and never
// starts. Code that loses the name to an earlier claimant is stopped, never restarted.
// Every claim here (register, takeover) is a confirmed claim (registry/claims.ts): it
// wins only once every connected member has named it the holder, so nodes claiming in
// the same instant resolve to one before any code starts.
//
// Failover mode — unique and fault tolerant: every node running the supervisor is a
// candidate (it registers a candidacy marker at start, so candidates are ordered by
// how long they have been around). Whenever the name has no holder, exactly one
// candidate — the longest-lived one alive in its view — takes it, with a fencing epoch
// one above the highest ever seen. With a quorum, the tenure is granted by a quorum of
// members first, and held only while a quorum is in sight. Only candidates vote: a
// member that does not run this Singleton is neither counted nor asked. A holder whose own event
// loop stalled past its lease (it may have been replaced meanwhile) stops at once.
//
// Invariant: the code runs only while this node holds the name and its lease is valid.
import { EventEmitter } from 'node:events';
import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Claim } from '../registry/registry.js';
import { compareClaims } from '../registry/registry.js';
import { isUsableEpoch, MAX_COUNTER } from '../registry/bounds.js';
import { leaseMs, quorumFreshMs, quorumRequestTimeoutMs, rejoinQuietMs } from '../membership/timing.js';

/** Settle window before a Singleton claims its name: 2 s. */
export const DEFAULT_SETTLE_MS = 2000;

/** Registry names of candidacy markers start with this (never shown by registered()). */
export const CANDIDATE_PREFIX = '\u0001candidate/';

/** The prefix of every candidacy marker for the Singleton `name`; a node's marker is the prefix plus its node name. */
export function candidacyPrefix(name: string): string {
  return `${CANDIDATE_PREFIX}${name}/`;
}

/** What the Singleton's code receives. */
export interface SingletonContext {
  /** The registered name. */
  name: string;
  /** This node's name. */
  node: string;
  /** Fencing epoch of this tenure: strictly higher than every earlier tenure's (failover mode; 0 otherwise). */
  epoch: number;
  /** Aborted when the Singleton must stop. */
  signal: AbortSignal;
  /** True while this tenure is still valid; check before every side effect. */
  isValid(): boolean;
}

/** Stops the Singleton's code; may return a promise. */
export type SingletonStop = () => unknown;

/** Starts the Singleton's code; may return (or resolve to) a function that stops it. */
export type SingletonStart = (ctx: SingletonContext) => void | SingletonStop | Promise<void | SingletonStop>;

/** Options of a Singleton. */
export interface SingletonOptions {
  /** Settle window in ms before claiming the name; default: the node's settleMs (2000). */
  settleMs?: number;
  /** Restart strategy of the default mode; only 'temporary' (never restart) exists. */
  restart?: 'temporary';
  /** Take over when the holder goes away (unique and fault tolerant); default false. */
  failover?: boolean;
  /** Failover with split-brain protection: hold only while at least this many members (this node included) are in sight. */
  quorum?: number;
}

/** The outcome of registering a name. */
export type RegisterResult =
  | { won: true; claim: Claim }
  /** Another node's claim holds the name. */
  | { won: false; owner: string; claim: Claim }
  /**
   * Nobody named another holder, but the claim was not confirmed by every connected
   * member (no answer before the deadline, a member that did not see it, the node
   * stopping): it was released.
   */
  | { won: false; owner: undefined; unconfirmed: 'deadline' | 'unseen' | 'stopped' | 'gone' };

/** A registry or membership change the node reports to its supervisors. */
export type ChangeEvent = 'lost' | 'freed' | 'registered' | 'nodedown' | 'nodeup';

/** Told of each change: the event, the name (or member) it concerns, and the claim when there is one. */
export type ChangeListener = (event: ChangeEvent, name: string, claim?: Claim) => void;

/** What the supervisor needs from the node (the node implements it). */
export interface SingletonHost {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly failureTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Claim name (confirmed by every connected member); epoch 'next' takes the highest seen + 1 at the moment of the claim. */
  register(name: string, epoch?: number | 'next'): Promise<RegisterResult>;
  unregister(name: string): boolean;
  /** The holder's claim, if any. */
  holder(name: string): Claim | undefined;
  /** The holders of `${prefix}${node}` for this node and each connected member (a lookup per member, not a scan of the registry). */
  claimsOfMembers(prefix: string): Claim[];
  /** The highest fencing epoch seen for name. */
  epochOf(name: string): number;
  /** Save name's epoch durably (a state directory; raising the highest seen if needed): true once saved, false if it could not be. */
  persistEpoch(name: string, epoch: number): Promise<boolean>;
  /** Ask the voters (connected members among `voters`) for a grant (singleton/quorum.ts); resolves with who granted. */
  requestQuorum(name: string, epoch: number, needed: number, timeoutMs: number, voters: readonly string[]): Promise<{ granted: string[]; highestEpoch: number }>;
  releaseQuorum(name: string, epoch: number, granted: string[]): void;
  /** Resolves once every member currently up has synced its registry with us, or after timeoutMs. */
  whenSynced(timeoutMs: number): Promise<void>;
  /** True when every member currently up has synced its registry with us. */
  isSynced(): boolean;
  /** Members (not us; only those in `among`, when given) heard from within the last withinMs. */
  freshMembers(withinMs: number, among?: ReadonlySet<string>): number;
  /** The connected members, each as a link identity that changes when it reconnects. */
  members(): string[];
  /** Clock time of our last on-time heartbeat tick. */
  lastHealthyTickAt(): number;
  /** Clock time a member last told us it declared us down (-Infinity: never). */
  lastDeclaredDownAt(): number;
  /** Subscribe to registry and membership changes; returns an unsubscribe function. */
  onChange(cb: ChangeListener): () => void;
}

/** Where a Singleton is in its life. */
export type SingletonState = 'settling' | 'running' | 'standby' | 'not-started' | 'lost' | 'failed' | 'stopped';

/** Events of a supervisor. */
export interface SingletonEvents {
  /** A tenure started on this node. */
  started: [epoch: number];
  /** The Singleton's code stopped; reason says why. */
  stopped: [reason: string];
  /** The supervisor will not start the code because another node holds the name. */
  held: [owner: string];
}

function iso(stamp: readonly [number, number]): string {
  return `${new Date(stamp[0]).toISOString()}+${stamp[1]}`;
}

/** Supervises one Singleton on one node. */
export class SingletonSupervisor extends EventEmitter<SingletonEvents> {
  state: SingletonState = 'settling';
  /** Epoch of the current (or last) tenure on this node. */
  epoch = 0;
  private stopChild: SingletonStop | undefined;
  private abort: AbortController | undefined;
  private unsubscribe: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private acquiring = false;
  private tenureStartedAt = 0;
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
  private readonly failover: boolean;
  private readonly quorum: number;
  private epochExhausted = false;
  /** Set while the last attempt could not save its epoch (the error is logged once per run of failures). */
  private unsaved = false;

  constructor(
    private readonly host: SingletonHost,
    readonly name: string,
    private readonly start: SingletonStart,
    private readonly settleMs: number,
    options: SingletonOptions = {},
  ) {
    super();
    this.quorum = options.quorum ?? 0;
    this.failover = options.failover === true || this.quorum > 0;
  }

  private get candidacy(): string {
    return candidacyPrefix(this.name) + this.host.name;
  }

  /** Lease: how long after our last on-time tick we may still act. */
  private leaseMs(): number {
    return leaseMs(this.host.failureTimeoutMs, this.host.heartbeatIntervalMs);
  }

  /**
   * Members this node's failure detector must watch for this Singleton's lease rules
   * (membership/detector.ts): a candidate watches the holder, since it takes over only
   * once it declared the holder down on its own evidence; a holder watches the other
   * candidates (quorum freshness must hear them); with a quorum every candidate watches
   * the voters too (a successor needs a quorum in sight). None in the default mode.
   */
  leaseWatch(): string[] {
    if (!this.failover || (this.state !== 'standby' && this.state !== 'running')) return [];
    const out = new Set<string>();
    if (this.state === 'running' || this.quorum > 0) for (const v of this.voters()) out.add(v);
    const holder = this.host.holder(this.name);
    if (holder && holder.owner !== this.host.name) out.add(holder.owner);
    return [...out];
  }

  /** Settle, then claim (default mode) or stand as a candidate (failover). */
  async run(): Promise<void> {
    await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, this.settleMs));
    await this.host.whenSynced(this.settleMs);
    if (this.state !== 'settling') return;
    if (this.failover) return this.runFailover();
    const result = await this.host.register(this.name);
    if (this.state !== 'settling') {
      if (result.won) this.host.unregister(this.name);
      return;
    }
    if (!result.won && result.owner === undefined) {
      this.state = 'not-started';
      this.host.logger.warn(`${this.name} claim not confirmed by every member (${result.unconfirmed}); not starting (restart: temporary)`, { name: this.name });
      return;
    }
    if (!result.won) {
      this.state = 'not-started';
      this.host.logger.info(`${this.name} already running on ${result.owner}; not restarting (restart: temporary)`, { name: this.name, owner: result.owner });
      this.emit('held', result.owner);
      return;
    }
    this.unsubscribe = this.host.onChange((event, name, winner) => {
      if (event !== 'lost' || name !== this.name || !winner) return;
      this.host.logger.warn(
        `${this.name} lost to ${winner.owner}, the earlier claimant (its claim ${iso(winner.stamp)}, ours ${iso(result.claim.stamp)}); stopping, not restarting (restart: temporary)`,
        { name: this.name, winner: winner.owner },
      );
      void this.halt('lost', `lost to ${winner.owner}`);
    });
    await this.begin(0);
  }

  // ---- failover ----------------------------------------------------------------

  private async runFailover(): Promise<void> {
    await this.host.register(this.candidacy);
    this.state = 'standby';
    this.unsubscribe = this.host.onChange((event, name, claim) => {
      if (event === 'lost' && name === this.name && this.state === 'running' && claim) {
        this.host.logger.warn(`${this.name} (epoch ${this.epoch}) superseded by ${claim.owner} (epoch ${claim.epoch ?? 0}); stopping`, { name: this.name, winner: claim.owner });
        void this.halt('standby', `superseded by ${claim.owner}`);
        return;
      }
      if (event === 'nodedown' || event === 'nodeup' || name === this.name || name.startsWith(candidacyPrefix(this.name))) this.check();
    });
    this.schedule();
    this.check();
  }

  private schedule(): void {
    this.timer = this.host.clock.setTimeout(() => {
      this.check();
      if (this.state === 'standby' || this.state === 'running') this.schedule();
    }, this.host.heartbeatIntervalMs / 2);
  }

  private leaseExpired(now: number): boolean {
    return now - this.host.lastHealthyTickAt() > this.leaseMs() && now - this.tenureStartedAt > this.leaseMs();
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

  /** Whether this tenure may still act. */
  private valid(): boolean {
    if (this.state !== 'running') return false;
    if (!this.failover) return true;
    if (this.stall || this.leaseExpired(this.host.clock.now())) return false;
    return this.quorumInSight();
  }

  /**
   * The failover loop body. A running tenure whose lease ran out (our own loop stalled)
   * is suspended — the code's isValid() is false — until we have read what arrived
   * meanwhile: if every member we saw before still holds its connection to us, nobody
   * declared us down, so nobody took over, and the tenure resumes; otherwise it is
   * stale and stops. A tenure that loses sight of its quorum stops. A standby takes
   * the name when it is free and this node is the longest-lived candidate.
   */
  private check(): void {
    const now = this.host.clock.now();
    this.noteOwnHealth(now);
    if (this.state === 'running') {
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
    if (this.state !== 'standby' || this.acquiring) return;
    const holder = this.host.holder(this.name);
    this.noteHolder(holder);
    if (now < this.quietUntil) return;
    // A member we have not synced with yet may hold the name: learn that first.
    if (!this.host.isSynced()) return;
    if (holder) return;
    const successor = this.successor();
    if (successor !== this.host.name) return;
    if (!this.quorumInSight()) return this.noteWaiting();
    this.waitingNoted = -1;
    void this.acquire();
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
    void this.halt('standby', 'stale tenure').then(() => {
      this.host.unregister(this.name);
    });
  }

  /** The longest-lived candidate alive in our view (earliest candidacy). */
  private successor(): string | undefined {
    const prefix = candidacyPrefix(this.name);
    const candidates = this.host.claimsOfMembers(prefix).sort(compareClaims);
    return candidates[0]?.owner;
  }

  private async acquire(): Promise<void> {
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
        if (this.state !== 'standby') return this.host.releaseQuorum(this.name, epoch, granted);
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
      if (this.state !== 'standby' || this.host.holder(this.name)) return;
      const result = await this.host.register(this.name, this.quorum > 0 ? epoch : 'next');
      if (!result.won || this.state !== 'standby') {
        if (result.won) this.host.unregister(this.name);
        return;
      }
      // Never run on an epoch a crash could forget: the claim's epoch is durably saved
      // (with a state directory) before the tenure starts; if it cannot be, the claim
      // goes and this node stays a standby.
      const claimed = result.claim.epoch ?? epoch;
      const saved = await this.host.persistEpoch(this.name, claimed);
      const holder = this.host.holder(this.name);
      if (!saved || this.state !== 'standby' || holder?.owner !== this.host.name) {
        if (holder?.owner === this.host.name) this.host.unregister(this.name);
        if (!saved && !this.unsaved) this.host.logger.error(`${this.name}: epoch ${claimed} could not be saved; staying a standby (no tenure runs on an unsaved epoch)`, { name: this.name, epoch: claimed });
        if (!saved) this.unsaved = true;
        return;
      }
      this.unsaved = false;
      await this.begin(claimed);
    } finally {
      this.acquiring = false;
    }
  }

  // ---- both modes ----------------------------------------------------------------

  private async begin(epoch: number): Promise<void> {
    this.state = 'running';
    this.epoch = epoch;
    this.tenureStartedAt = this.host.clock.now();
    this.lastGoodMembers = this.host.members();
    this.stall = undefined;
    this.abort = new AbortController();
    try {
      const stop = await this.start({ name: this.name, node: this.host.name, epoch, signal: this.abort.signal, isValid: () => this.valid() });
      if (typeof stop === 'function') this.stopChild = stop;
    } catch (err) {
      this.host.logger.error(`${this.name} failed to start: ${describeError(err)}; not restarting`, { name: this.name });
      await this.halt('failed', 'start failed');
      this.host.unregister(this.name);
      return;
    }
    if ((this.state as SingletonState) !== 'running') {
      await this.stopChild?.();
      return;
    }
    this.host.logger.info(this.failover ? `${this.name} started on ${this.host.name}, epoch ${epoch}` : `${this.name} started on ${this.host.name}`, this.failover ? { name: this.name, epoch } : { name: this.name });
    this.emit('started', epoch);
  }

  /** Stop the Singleton (if running), release the name and, in failover mode, hand over. */
  async stop(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.host.clock.clearTimeout(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.failover) this.host.unregister(this.candidacy);
    await this.halt('stopped', 'node stopping');
    this.state = 'stopped';
    if (wasRunning) this.host.unregister(this.name);
  }

  private async halt(state: SingletonState, reason: string): Promise<void> {
    const wasRunning = this.state === 'running';
    if (this.state === 'running' || this.state === 'settling' || this.state === 'standby') this.state = state;
    if (!this.failover || state === 'stopped') {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
    }
    if (!wasRunning) return;
    this.abort?.abort();
    const stop = this.stopChild;
    this.stopChild = undefined;
    try {
      await stop?.();
    } catch (err) {
      this.host.logger.error(`${this.name} failed to stop cleanly: ${describeError(err)}`, { name: this.name });
    }
    this.emit('stopped', reason);
  }
}
