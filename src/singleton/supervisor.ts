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
// Failover mode — unique and fault tolerant: the supervisor stands for the name
// through a lease backend (lease.ts), and runs the code for as long as the backend
// says the tenure holds, with the backend's fencing token as the epoch. The backend is
// the cluster's own (quorum-lease.ts: the longest-lived candidate takes a free name,
// with quorum grants when a quorum is set) unless another is given (etcd-lease.ts).
// When a tenure ends (lost, superseded, stale), the code stops and the node stands
// again — also when it ends before its code began, which then never starts; stop()
// stops the code first and then releases the lease (handover).
//
// Invariant: the code runs only while this node holds the name and its lease is valid.
import { EventEmitter } from 'node:events';
import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { Clock } from '../util/clock.js';
import type { Claim } from '../registry/registry.js';
import type { LeaseBackend } from './lease.js';
import type { EtcdLeaseOptions } from './etcd-lease.js';
import { QuorumLease } from './quorum-lease.js';

/** Settle window before a Singleton claims its name: 2 s. */
export const DEFAULT_SETTLE_MS = 2000;

export { CANDIDATE_PREFIX, candidacyPrefix } from './quorum-lease.js';

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
  /**
   * Failover through an etcd v3 lease instead of the cluster's own election (implies
   * failover; not with quorum): the endpoints, an optional key prefix and credentials.
   * The lease's TTL follows the node's failure timeout; ctx.epoch is the election
   * key's etcd create revision.
   */
  etcd?: EtcdLeaseOptions;
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
  private readonly failover: boolean;
  /** The lease backend of failover mode (the cluster's own quorum lease unless one is given). */
  private readonly lease: LeaseBackend | undefined;
  private campaignAbort: AbortController | undefined;

  constructor(
    private readonly host: SingletonHost,
    readonly name: string,
    private readonly start: SingletonStart,
    private readonly settleMs: number,
    options: SingletonOptions = {},
    lease?: LeaseBackend,
  ) {
    super();
    const quorum = options.quorum ?? 0;
    this.failover = options.failover === true || quorum > 0 || lease !== undefined;
    this.lease = this.failover ? (lease ?? new QuorumLease(host, name, quorum)) : undefined;
  }

  /**
   * Members this node's failure detector must watch for this Singleton's lease rules
   * (membership/detector.ts): what the lease backend names while we stand or hold; none
   * in the default mode.
   */
  leaseWatch(): string[] {
    if (!this.failover || (this.state !== 'standby' && this.state !== 'running')) return [];
    return this.lease?.watch() ?? [];
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

  /** Stand for the name through the lease backend; each time the lease is won, begin a tenure with its token. */
  private async runFailover(): Promise<void> {
    this.state = 'standby';
    this.campaign();
  }

  private campaign(): void {
    const lease = this.lease;
    if (!lease || this.state !== 'standby') return;
    const ac = new AbortController();
    this.campaignAbort = ac;
    // A backend may end the tenure before the code began (its lost() between resolving
    // acquire() and our continuation): then the code never starts, and we stand again.
    let lostEarly: { release: boolean } | undefined;
    lease
      .acquire(ac.signal, {
        lost: (why, release) => {
          if (this.state === 'running') this.lostTenure(why, release);
          else lostEarly ??= { release };
        },
      })
      .then(async (tenure) => {
        if (!tenure) return;
        if (this.state !== 'standby') {
          await lease.release();
          return;
        }
        if (lostEarly) {
          if (lostEarly.release) await lease.release();
          this.campaign();
          return;
        }
        await this.begin(tenure.token);
      })
      .catch((err: unknown) => this.host.logger.error(`${this.name}: standing for the lease failed: ${describeError(err)}`, { name: this.name }));
  }

  /**
   * The backend ended the tenure: stop the code, then give the lease back when asked,
   * and only then stand again (a release never reaches a later tenure's lease).
   */
  private lostTenure(why: string, release: boolean): void {
    if (this.state !== 'running') return;
    void this.halt('standby', why).then(async () => {
      if (release) await this.lease?.release();
      this.campaign();
    });
  }

  /** Whether this tenure may still act. */
  private valid(): boolean {
    if (this.state !== 'running') return false;
    return this.lease ? this.lease.valid() : true;
  }

  // ---- both modes ----------------------------------------------------------------

  private async begin(epoch: number): Promise<void> {
    this.state = 'running';
    this.epoch = epoch;
    this.abort = new AbortController();
    try {
      const stop = await this.start({ name: this.name, node: this.host.name, epoch, signal: this.abort.signal, isValid: () => this.valid() });
      if (typeof stop === 'function') this.stopChild = stop;
    } catch (err) {
      this.host.logger.error(`${this.name} failed to start: ${describeError(err)}; not restarting`, { name: this.name });
      await this.halt('failed', 'start failed');
      if (this.lease) await this.lease.release();
      else this.host.unregister(this.name);
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
    this.campaignAbort?.abort();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.lease?.close();
    await this.halt('stopped', 'node stopping');
    this.state = 'stopped';
    if (wasRunning) {
      if (this.lease) await this.lease.release();
      else this.host.unregister(this.name);
    }
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
