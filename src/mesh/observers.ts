// Observers: hidden nodes (`cluster-node status`, whereis, ping) connected to this
// member. An observer proved the cookie like any node, but it is not a member: it is
// never in members(), never in the failure detector, the registry, a quorum count or a
// member list we gossip. It may only ask for this node's view on the status channel,
// and ping. We answer its pings with pongs (its own detector needs to hear us), and
// close it when it falls silent for the failure timeout.
// Invariants: at most MAX_OBSERVERS at once (more are refused with BUSY); one per name
// (a newer connection under the same name replaces the older); each is answered at most
// OBSERVER_ASKS per second after a small burst (building a view walks the registry), the
// rest ignored; nothing an observer sends changes any state of this node.
import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Connection } from '../transport/connection.js';
import type { MemberInfo, SessionMessage } from '../wire/messages.js';
import { TokenBucket } from './rate-limit.js';
import type { BucketConfig } from './rate-limit.js';

/** Observers connected at once; more are refused. */
export const MAX_OBSERVERS = 16;

/** Status questions answered per observer: a burst of 5, then 2 per second (`--watch` asks once a second). */
export const OBSERVER_ASKS: BucketConfig = { capacity: 5, perSecond: 2 };

/** The channel observers ask on. */
export const STATUS_CHANNEL = 'status';

/** What the observer set needs from its owner. */
export interface ObserverHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly failureTimeoutMs: number;
  /** The members we would gossip to a member, so the observer can reach all of them. */
  memberInfos(): MemberInfo[];
  /** The answer to a status-channel message from an observer, or undefined (ignored). */
  answer(observer: string, body: unknown): unknown;
}

interface Observer {
  conn: Connection;
  timer: TimerHandle | undefined;
  asks: TokenBucket;
  /** Whether a question over the limit was noted (once per observer). */
  throttled: boolean;
}

/** The observers of one member. */
export class ObserverSet {
  private readonly observers = new Map<string, Observer>();

  constructor(private readonly host: ObserverHost) {}

  /** Observers connected now (for tests and logs). */
  get size(): number {
    return this.observers.size;
  }

  /** Names of the observers connected now, sorted. */
  names(): string[] {
    return [...this.observers.keys()].sort();
  }

  /** Take an authenticated connection from a hidden node; false (and closed) if refused. */
  admit(conn: Connection, name: string): boolean {
    const old = this.observers.get(name);
    if (!old && this.observers.size >= MAX_OBSERVERS) {
      this.host.log.debug('refused an observer: too many connected', { peer: name, count: this.observers.size });
      conn.close({ code: 'BUSY', reason: `at most ${MAX_OBSERVERS} observers at once` });
      return false;
    }
    if (old) this.drop(name, old, { code: 'DUPLICATE', reason: 'replaced by another connection from the same observer' });
    const o: Observer = { conn, timer: undefined, asks: new TokenBucket(OBSERVER_ASKS, this.host.clock.now()), throttled: false };
    this.observers.set(name, o);
    this.host.log.debug('observer connected', { peer: name });
    conn.onClose(() => {
      if (this.observers.get(name) !== o) return;
      this.host.clock.clearTimeout(o.timer);
      this.observers.delete(name);
      this.host.log.debug('observer left', { peer: name });
    });
    conn.onMessage((msg) => this.onMessage(name, o, msg));
    conn.send({ t: 'members', members: this.host.memberInfos() });
    this.watch(name, o);
    return true;
  }

  /** Close every observer (this node stops). */
  stop(): void {
    for (const [name, o] of [...this.observers]) this.drop(name, o, { code: 'SHUTDOWN', reason: 'node is stopping' });
  }

  private onMessage(name: string, o: Observer, msg: SessionMessage): void {
    if (msg.t === 'ping') {
      o.conn.send({ t: 'pong', seq: msg.seq });
      return;
    }
    if (msg.t !== 'app' || msg.ch !== STATUS_CHANNEL) return;
    if (!o.asks.take(this.host.clock.now())) {
      if (!o.throttled) this.host.log.debug('ignoring an observer asking faster than 2 times a second', { peer: name });
      o.throttled = true;
      return;
    }
    const reply = this.host.answer(name, msg.body);
    if (reply === undefined) return;
    try {
      o.conn.send({ t: 'app', ch: STATUS_CHANNEL, body: reply });
    } catch (err) {
      // A view that does not fit a frame (the answer caps its lists, so this is a bug).
      this.host.log.error('cannot send a status answer', { peer: name, error: describeError(err) });
    }
  }

  /** Close the observer once it has been silent for the failure timeout. */
  private watch(name: string, o: Observer): void {
    const check = (): void => {
      const silent = this.host.clock.now() - o.conn.lastReceivedAt;
      if (silent > this.host.failureTimeoutMs) {
        this.drop(name, o, { code: 'DECLARED_DOWN', reason: `observer silent for ${Math.round(silent)} ms` });
        return;
      }
      o.timer = this.host.clock.setTimeout(check, this.host.failureTimeoutMs - silent + 1);
    };
    o.timer = this.host.clock.setTimeout(check, this.host.failureTimeoutMs);
  }

  private drop(name: string, o: Observer, bye: { code: 'BUSY' | 'DUPLICATE' | 'SHUTDOWN' | 'DECLARED_DOWN'; reason: string }): void {
    this.host.clock.clearTimeout(o.timer);
    if (this.observers.get(name) === o) this.observers.delete(name);
    o.conn.close(bye);
  }
}
