// Singleton supervisor: runs one piece of user code under a cluster-wide unique
// name, with Erlang's `temporary` restart strategy, as in the seed's
// SingletonSupervisor. After a settle window (so discovery and registry sync see the
// cluster first), it registers the name; if it wins, it starts the code; if the name
// is already held, it logs who holds it and never starts. If the code later loses the
// name to an earlier claimant (two holders met after a partition), it is stopped and
// never restarted. Invariant: the code runs only while this node holds the name.
import { EventEmitter } from 'node:events';
import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { Clock } from '../util/clock.js';
import type { Claim } from '../registry/registry.js';

/** Settle window before a Singleton claims its name: 2 s. */
export const DEFAULT_SETTLE_MS = 2000;

/** What the Singleton's code receives. */
export interface SingletonContext {
  /** The registered name. */
  name: string;
  /** This node's name. */
  node: string;
  /** Aborted when the Singleton must stop. */
  signal: AbortSignal;
}

/** Stops the Singleton's code; may return a promise. */
export type SingletonStop = () => unknown;

/** Starts the Singleton's code; may return (or resolve to) a function that stops it. */
export type SingletonStart = (ctx: SingletonContext) => void | SingletonStop | Promise<void | SingletonStop>;

/** Options of a Singleton. */
export interface SingletonOptions {
  /** Settle window in ms before claiming the name; default: the node's settleMs (2000). */
  settleMs?: number;
  /** Restart strategy; only 'temporary' (never restart) exists today. */
  restart?: 'temporary';
}

/** The outcome of registering a name. */
export type RegisterResult = { won: true; claim: Claim } | { won: false; owner: string; claim: Claim };

/** What the supervisor needs from the node (the node implements it). */
export interface SingletonHost {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  register(name: string): Promise<RegisterResult>;
  unregister(name: string): boolean;
  /** Resolves once every member currently up has synced its registry with us, or after timeoutMs. */
  whenSynced(timeoutMs: number): Promise<void>;
  /** Subscribe to losing name; returns an unsubscribe function. */
  onLost(name: string, cb: (winner: Claim) => void): () => void;
}

/** Where a Singleton is in its life. */
export type SingletonState = 'settling' | 'running' | 'not-started' | 'lost' | 'failed' | 'stopped';

/** Events of a supervisor. */
export interface SingletonEvents {
  started: [];
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
  private stopChild: SingletonStop | undefined;
  private abort: AbortController | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly host: SingletonHost,
    readonly name: string,
    private readonly start: SingletonStart,
    private readonly settleMs: number,
  ) {
    super();
  }

  /** Settle, claim, and start the code if the claim wins. */
  async run(): Promise<void> {
    await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, this.settleMs));
    await this.host.whenSynced(this.settleMs);
    if (this.state !== 'settling') return;
    const result = await this.host.register(this.name);
    if (this.state !== 'settling') {
      if (result.won) this.host.unregister(this.name);
      return;
    }
    if (!result.won) {
      this.state = 'not-started';
      this.host.logger.info(`${this.name} already running on ${result.owner}; not restarting (restart: temporary)`, { name: this.name, owner: result.owner });
      this.emit('held', result.owner);
      return;
    }
    this.unsubscribe = this.host.onLost(this.name, (winner) => {
      const ours = result.claim;
      this.host.logger.warn(
        `${this.name} lost to ${winner.owner}, the earlier claimant (its claim ${iso(winner.stamp)}, ours ${iso(ours.stamp)}); stopping, not restarting (restart: temporary)`,
        { name: this.name, winner: winner.owner },
      );
      void this.halt('lost', `lost to ${winner.owner}`);
    });
    this.state = 'running';
    this.abort = new AbortController();
    try {
      const stop = await this.start({ name: this.name, node: this.host.name, signal: this.abort.signal });
      if (typeof stop === 'function') this.stopChild = stop;
    } catch (err) {
      this.host.logger.error(`${this.name} failed to start: ${describeError(err)}; not restarting (restart: temporary)`, { name: this.name });
      await this.halt('failed', 'start failed');
      this.host.unregister(this.name);
      return;
    }
    if ((this.state as SingletonState) !== 'running') {
      await this.stopChild?.();
      return;
    }
    this.host.logger.info(`${this.name} started on ${this.host.name}`, { name: this.name });
    this.emit('started');
  }

  /** Stop the Singleton (if running) and release the name. Never restarts it. */
  async stop(): Promise<void> {
    const wasRunning = this.state === 'running';
    await this.halt('stopped', 'node stopping');
    if (wasRunning) this.host.unregister(this.name);
  }

  private async halt(state: SingletonState, reason: string): Promise<void> {
    const wasRunning = this.state === 'running';
    if (this.state === 'running' || this.state === 'settling') this.state = state;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
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
