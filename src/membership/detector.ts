// Detector: the heartbeats and failure detector of one node, over its connected members.
// Ticks fall on wall-clock multiples of the heartbeat interval, so every node of a LAN
// (clocks within milliseconds) sends its heartbeats at about the same instant and each
// receiver reads them in one wakeup instead of one per peer: the idle cost.
// Who hears whom (a monitoring ring, as in Akka, plus what the leases need): each tick a
// node recomputes the members it watches — its RING_WATCH_K ring successors (ring.ts),
// the members the Singleton's lease rules name (a candidate watches the holder, a holder
// its candidates), and members it was told about — and subscribes to their heartbeats
// (`watch on`/`off`, changes only). It sends its own heartbeat only to the members that
// subscribed to it. So a node sends and judges a constant number of heartbeats whatever
// the cluster size. It judges only the members it watches, by their silence since the
// later of their last message and the subscription (a fresh subscription is not judged
// on stale silence): a member silent past suspicionMs is suspected, checked through up
// to FD_PROBES of the members that watch it too (as in SWIM), then declared down.
// Spreading a verdict: a node that declares a member down on its own evidence reports
// it (`down`, with the incarnation) to every other member. A member that watches the
// peer itself ignores reports (its own evidence decides: the Singleton's lease safety
// rests on a candidate's own judgement of the holder); any other counts distinct
// reporters: two declare the peer down, one makes it watch the peer itself for a
// failure timeout. One member's word alone never takes a node down.
// On time for the lease: a member the lease rules name (the holder, for a candidate) is
// checked the moment its silence passes suspicionMs, not on the next tick after (up to
// an interval later): a tick that finds such a member's check due before the next tick
// arms one timer for it. Suspicion itself is unchanged (never before suspicionMs of
// silence, which the lease proof rests on); only the rounding to the tick goes, so a
// frozen holder's takeover comes up to half an interval sooner. A member that is heard
// costs no timer: its check is never due before the next tick.
// Each tick also measures our own event-loop lag (local health, timing.ts).
// No sockets and no timers of its own: the mesh gives it the members and carries its
// messages; time and randomness are injected, so whole clusters simulate.
// Invariant: suspicion, subscriptions (both ways) and reports belong to one connection
// of a member; the mesh calls forget() whenever that connection is replaced or goes.
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Random } from '../util/random.js';
import type { Logger } from '../util/log.js';
import type { FdMessage } from './fd-messages.js';
import { parseFdMessage } from './fd-messages.js';
import { ringPredecessors, ringSuccessors } from './ring.js';
import { downWithoutProbesMs, heardRecentlyMs, isOverdue, mayJudge, onTimeCheckAt, probeWindowMs, refutedForMs, stretchedTimeout, suspicionMs, tickLag } from './timing.js';

export { parseFdMessage } from './fd-messages.js';
export type { FdMessage } from './fd-messages.js';

/** Ticks of lag history kept for stretching timeouts. */
const LAG_WINDOW_TICKS = 6;
/** Members asked to confirm a silent peer. */
const FD_PROBES = 3;
/** A fresh subscription's first heartbeat is due within this many intervals (the peer's next tick, plus transit). */
const FIRST_HEARTBEAT_INTERVALS = 2;
/** Distinct reporters that take a member down without our own evidence. */
const REPORTERS_FOR_DOWN = 2;

/** What the detector needs from the mesh. */
export interface DetectorHost {
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly heartbeatIntervalMs: number;
  readonly failureTimeoutMs: number;
  /** Our own node name: our place on the monitoring ring. */
  readonly self: string;
  /**
   * Watch every member and send heartbeats to every member, with no subscriptions and no
   * reports (a hidden node: members neither subscribe to it nor report to it); default false.
   */
  readonly watchAll?: boolean;
  /** Names of the connected members. */
  members(): string[];
  /** Clock time we last received anything from a connected member; undefined if it is not one. */
  lastHeard(name: string): number | undefined;
  /** The incarnation of a connected member; undefined if it is not one. */
  incarnation(name: string): string | undefined;
  /** Members the lease rules need this node to watch (a Singleton candidate: the holder; a holder: its candidates); default none. */
  leaseWatch?(): Iterable<string>;
  /** Send a heartbeat (ping) to each of these connected members. */
  sendPings(seq: number, to: readonly string[]): void;
  /** Send a failure-detector message to a connected member. */
  sendFd(to: string, msg: FdMessage): void;
  /**
   * The member is down: it fell silent and no one we asked hears it, or (with
   * `reporters`) two members that watch it declared it down.
   */
  declareDown(name: string, silentForMs: number, reporters?: readonly string[]): void;
}

interface Suspicion {
  since: number;
  pending: Set<string>;
  timer: TimerHandle;
}

/** Heartbeats and failure detection of one node: ticking from construction until stop(). */
export class Detector {
  /** Clock time of the last tick that ran on time (our own liveness, for leases). */
  lastHealthyTickAt: number;
  private seq = 0;
  private lagHistory: number[] = [];
  private nextTickAt = 0;
  private tickTimer: TimerHandle | undefined;
  private stopped = false;
  private readonly suspicions = new Map<string, Suspicion>();
  /** Another member heard this one recently: do not suspect it before this time. */
  private readonly refutedUntil = new Map<string, number>();
  /** Members subscribed to our heartbeats (we send them one each tick). */
  private readonly watchers = new Set<string>();
  /** Members whose heartbeats we subscribed to, with the clock time of the subscription. */
  private readonly watching = new Map<string, number>();
  /** The members we watch of our own accord (ring, lease) as of the last tick: reports about them are ignored. */
  private ownWatch = new Set<string>();
  /** Extra watches (a single report, or a doubt of the mesh), each until a clock time. */
  private readonly extraWatch = new Map<string, number>();
  /** Distinct members that reported a member (this connection of it) down. */
  private readonly reports = new Map<string, Set<string>>();
  /** Checks of lease-watched members due between two ticks (re-armed each tick). */
  private readonly onTimeChecks = new Map<string, TimerHandle>();

  constructor(private readonly host: DetectorHost) {
    this.lastHealthyTickAt = host.clock.now();
    this.scheduleTick();
  }

  stop(): void {
    this.stopped = true;
    this.host.clock.clearTimeout(this.tickTimer);
    this.clearOnTimeChecks();
    for (const name of [...this.suspicions.keys()]) this.forget(name);
  }

  /** Our recent worst event-loop lag (ms), used to stretch our own timeouts. */
  get recentLagMs(): number {
    return Math.max(0, ...this.lagHistory);
  }

  /** The member's connection was replaced or went: drop what we thought of it, and both subscriptions. */
  forget(name: string): void {
    const s = this.suspicions.get(name);
    if (s) this.host.clock.clearTimeout(s.timer);
    this.suspicions.delete(name);
    this.refutedUntil.delete(name);
    this.watchers.delete(name);
    this.watching.delete(name);
    this.ownWatch.delete(name);
    this.extraWatch.delete(name);
    this.reports.delete(name);
    this.host.clock.clearTimeout(this.onTimeChecks.get(name));
    this.onTimeChecks.delete(name);
  }

  /** Members we watch (judge by their heartbeats) now, sorted. */
  watched(): string[] {
    return [...this.watching.keys()].sort();
  }

  /** Members subscribed to our heartbeats now, sorted. */
  watchedBy(): string[] {
    return [...this.watchers].sort();
  }

  /**
   * How long a member we watch has been silent (ms): undefined when we do not watch it,
   * or subscribed so recently that its first heartbeat is not due yet and nothing came
   * since (we cannot tell).
   */
  observedSilenceMs(name: string): number | undefined {
    const since = this.watching.get(name);
    const heard = this.host.lastHeard(name);
    if (since === undefined || heard === undefined) return undefined;
    const now = this.host.clock.now();
    if (heard < since && now - since <= FIRST_HEARTBEAT_INTERVALS * this.host.heartbeatIntervalMs) return undefined;
    return now - heard;
  }

  /**
   * Watch a member we may not watch for one failure timeout (its own silence then
   * decides): the mesh asks when it must learn whether a member is alive.
   */
  doubt(name: string): void {
    this.watchExtra(name, this.host.clock.now());
  }

  private scheduleTick(): void {
    const interval = this.host.heartbeatIntervalMs;
    const wall = this.host.clock.wallNow();
    let delay = interval - (wall % interval);
    if (delay < interval / 4) delay += interval;
    this.nextTickAt = this.host.clock.now() + delay;
    this.tickTimer = this.host.clock.setTimeout(() => this.tick(), delay);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.host.clock.now();
    const lag = tickLag(this.nextTickAt, now);
    this.lagHistory.push(lag);
    if (this.lagHistory.length > LAG_WINDOW_TICKS) this.lagHistory.shift();
    const judge = mayJudge(lag, this.host.heartbeatIntervalMs);
    if (judge) this.lastHealthyTickAt = now;
    else this.host.log.debug('event loop stalled; deferring failure checks', { lagMs: Math.round(lag) });
    this.seq++;
    this.updateWatches(now);
    const timeout = this.suspicionTimeoutMs();
    for (const [name, since] of [...this.watching]) {
      if (this.watching.get(name) !== since) continue; // forgotten meanwhile (declared down)
      const heard = this.host.lastHeard(name);
      if (heard === undefined) continue;
      const from = Math.max(heard, since);
      if (judge && isOverdue(from, now, timeout)) this.suspect(name, from, now);
      else this.clearSuspicion(name);
    }
    // After a stall, read before writing: a peer that declared us down meanwhile closed
    // its connection with a goodbye saying so, and a write into that closed socket would
    // draw a reset that discards the goodbye unread. A zero-delay timer runs after the
    // pending input has been read, and still sends our heartbeats within a millisecond.
    const seq = this.seq;
    if (judge) this.host.sendPings(seq, this.heartbeatTargets());
    else this.host.clock.setTimeout(() => !this.stopped && this.host.sendPings(seq, this.heartbeatTargets()), 0);
    this.scheduleTick();
    this.armOnTimeChecks(judge, timeout, now);
  }

  /** Silence past which a watched member is suspected now: suspicionMs, stretched by our own recent lag. */
  private suspicionTimeoutMs(): number {
    return stretchedTimeout(suspicionMs(this.host.failureTimeoutMs, this.host.heartbeatIntervalMs), this.recentLagMs, this.host.heartbeatIntervalMs);
  }

  private clearOnTimeChecks(): void {
    for (const h of this.onTimeChecks.values()) this.host.clock.clearTimeout(h);
    this.onTimeChecks.clear();
  }

  /**
   * For each lease-watched member whose silence will pass `timeout` before the next
   * tick, a timer at that moment (see the header). None when this tick could not judge.
   */
  private armOnTimeChecks(judge: boolean, timeout: number, now: number): void {
    this.clearOnTimeChecks();
    if (!judge || this.host.watchAll) return;
    for (const name of this.host.leaseWatch?.() ?? []) {
      const since = this.watching.get(name);
      const heard = this.host.lastHeard(name);
      if (since === undefined || heard === undefined || this.suspicions.has(name)) continue;
      const due = onTimeCheckAt(Math.max(heard, since), timeout, now, this.nextTickAt);
      if (due === undefined) continue;
      this.onTimeChecks.set(
        name,
        this.host.clock.setTimeout(() => {
          this.onTimeChecks.delete(name);
          this.checkOnTime(name, due);
        }, due - now),
      );
    }
  }

  /** An on-time check fired (planned for clock time `due`): suspect the member if it is still silent and we are on time ourselves. */
  private checkOnTime(name: string, due: number): void {
    if (this.stopped || this.suspicions.has(name)) return;
    const now = this.host.clock.now();
    if (!mayJudge(tickLag(due, now), this.host.heartbeatIntervalMs)) return; // our loop lags: the tick decides
    const since = this.watching.get(name);
    const heard = this.host.lastHeard(name);
    if (since === undefined || heard === undefined) return;
    const from = Math.max(heard, since);
    const timeout = this.suspicionTimeoutMs();
    if (isOverdue(from, now, timeout)) this.suspect(name, from, now);
  }

  /** The connected members that get our heartbeat: those subscribed (every member, for watchAll). */
  private heartbeatTargets(): string[] {
    if (this.host.watchAll) return this.host.members();
    const out: string[] = [];
    for (const name of this.watchers) if (this.host.lastHeard(name) !== undefined) out.push(name);
    return out;
  }

  /** Recompute whom we watch (ring, lease, extra) and subscribe or unsubscribe for the changes. */
  private updateWatches(now: number): void {
    const members = this.host.members();
    const connected = new Set(members);
    let own: Set<string>;
    if (this.host.watchAll) own = connected;
    else {
      own = new Set(ringSuccessors(this.host.self, members));
      for (const name of this.host.leaseWatch?.() ?? []) if (connected.has(name)) own.add(name);
    }
    this.ownWatch = own;
    const want = new Set(own);
    for (const [name, until] of [...this.extraWatch]) {
      if (!connected.has(name) || own.has(name) || (now >= until && !this.suspicions.has(name))) {
        // Gone, watched of our own accord now, or it kept talking for a failure timeout.
        this.extraWatch.delete(name);
        this.reports.delete(name);
        if (connected.has(name) && !own.has(name)) this.host.log.debug('no longer watching a peer reported down: it kept talking', { peer: name });
        continue;
      }
      want.add(name);
    }
    for (const name of want) {
      if (this.watching.has(name)) continue;
      this.watching.set(name, now);
      if (!this.host.watchAll) this.host.sendFd(name, { k: 'watch', on: true });
    }
    for (const name of [...this.watching.keys()]) {
      if (want.has(name)) continue;
      this.watching.delete(name);
      this.clearSuspicion(name);
      if (!this.host.watchAll && connected.has(name)) this.host.sendFd(name, { k: 'watch', on: false });
    }
  }

  /** Whether we watch `name` of our own accord right now (ring or lease), not only since the last tick. */
  private watchesOfOwnAccord(name: string): boolean {
    if (ringSuccessors(this.host.self, this.host.members()).includes(name)) return true;
    for (const n of this.host.leaseWatch?.() ?? []) if (n === name) return true;
    return false;
  }

  /** Watch a connected member for one failure timeout from now, beyond whom we watch of our own accord. */
  private watchExtra(name: string, now: number): void {
    if (this.host.watchAll || this.host.lastHeard(name) === undefined) return;
    this.extraWatch.set(name, Math.max(this.extraWatch.get(name) ?? 0, now + this.host.failureTimeoutMs));
    if (this.watching.has(name)) return;
    this.watching.set(name, now);
    this.host.sendFd(name, { k: 'watch', on: true });
  }

  private clearSuspicion(name: string): void {
    const s = this.suspicions.get(name);
    if (!s) return;
    this.host.clock.clearTimeout(s.timer);
    this.suspicions.delete(name);
  }

  /**
   * A member is overdue. Before declaring it down, ask up to FD_PROBES other members
   * that watch it too (its ring predecessors in our view; any others when there are
   * none) whether they still hear it (an indirect check, as in SWIM): one slow link or
   * a stall on our side must not take a live peer out. With nobody to ask, or when
   * every answer says silent, or past twice the timeout, it is down.
   */
  private suspect(name: string, heard: number, now: number): void {
    const silentFor = now - heard;
    const members = this.host.members();
    const others = members.filter((m) => m !== name);
    if (others.length === 0 || silentFor > downWithoutProbesMs(this.host.failureTimeoutMs)) return this.declareOwn(name, silentFor);
    const refuted = this.refutedUntil.get(name);
    if (refuted !== undefined && now < refuted) return;
    const existing = this.suspicions.get(name);
    if (existing) {
      // Asked already: still no one has refuted within the confirmation window.
      if (now - existing.since >= this.confirmWindowMs()) this.declareOwn(name, silentFor);
      return;
    }
    const alsoWatching = this.host.watchAll ? [] : ringPredecessors(this.host.self, members, name);
    const pending = new Set(alsoWatching.length > 0 ? alsoWatching.slice(0, FD_PROBES) : this.pickRandom(others, FD_PROBES));
    const s: Suspicion = {
      since: now,
      pending,
      timer: this.host.clock.setTimeout(() => {
        if (this.suspicions.get(name) !== s) return;
        const last = this.host.lastHeard(name);
        if (last !== undefined) this.declareOwn(name, this.host.clock.now() - last);
      }, this.confirmWindowMs()),
    };
    this.suspicions.set(name, s);
    for (const o of pending) this.host.sendFd(o, { k: 'probe', peer: name });
    this.host.log.debug('peer silent; asking others', { peer: name, silentMs: Math.round(silentFor), asked: [...pending] });
  }

  private confirmWindowMs(): number {
    return probeWindowMs(this.host.heartbeatIntervalMs);
  }

  /** We declare a member down on our own evidence, and tell every other member (with its incarnation). */
  private declareOwn(name: string, silentForMs: number): void {
    const inc = this.host.incarnation(name);
    this.host.declareDown(name, silentForMs);
    if (inc === undefined || this.host.watchAll) return;
    for (const m of this.host.members()) if (m !== name) this.host.sendFd(m, { k: 'down', peer: name, inc });
  }

  /** A failure-detector message from a connected member; throws ERR_PROTOCOL if malformed. */
  onMessage(from: string, body: unknown): void {
    const m = parseFdMessage(body);
    const now = this.host.clock.now();
    switch (m.k) {
      case 'probe': {
        const heard = this.host.lastHeard(m.peer);
        const agoMs = heard === undefined ? -1 : Math.round(now - heard);
        this.host.sendFd(from, { k: 'seen', peer: m.peer, agoMs });
        return;
      }
      case 'watch':
        return this.onWatch(from, m.on);
      case 'down':
        return this.onReport(from, m.peer, m.inc, now);
      case 'seen':
        return this.onSeen(from, m.peer, m.agoMs, now);
    }
  }

  /** A member subscribes to our heartbeats or unsubscribes; one that is not connected is ignored. */
  private onWatch(from: string, on: boolean): void {
    if (!on) {
      this.watchers.delete(from);
      return;
    }
    if (this.host.lastHeard(from) === undefined) return;
    // Capped by the member count: forget() drops each member's subscription with its connection.
    if (!this.watchers.has(from) && this.watchers.size >= this.host.members().length) return;
    this.watchers.add(from);
  }

  /** A member says it declared `peer` (incarnation `inc`) down on its own evidence. */
  private onReport(from: string, peer: string, inc: string, now: number): void {
    if (this.host.watchAll || peer === from || this.host.incarnation(peer) !== inc) return;
    if (this.ownWatch.has(peer) || this.watchesOfOwnAccord(peer)) {
      // We watch it ourselves: our own evidence decides (the lease rules rest on it).
      this.host.log.debug('a member reports a peer down that this node watches itself; its own check decides', { peer, reporter: from });
      return;
    }
    let reporters = this.reports.get(peer);
    if (!reporters) this.reports.set(peer, (reporters = new Set()));
    reporters.add(from);
    if (reporters.size >= REPORTERS_FOR_DOWN) {
      const both = [...reporters].slice(0, REPORTERS_FOR_DOWN);
      this.reports.delete(peer);
      this.host.log.info(`${both.join(' and ')} both declared ${peer} down; so does this node`, { peer, reporters: both });
      const heard = this.host.lastHeard(peer);
      this.host.declareDown(peer, heard === undefined ? 0 : now - heard, both);
      return;
    }
    this.host.log.info('a member reports a peer down; watching it ourselves', { peer, reporter: from });
    this.watchExtra(peer, now);
  }

  private onSeen(from: string, peer: string, agoMs: number, now: number): void {
    const s = this.suspicions.get(peer);
    if (!s || !s.pending.delete(from)) return;
    if (agoMs >= 0 && agoMs < heardRecentlyMs(this.host.failureTimeoutMs)) {
      // Someone hears it: our link or our loop is the problem, not the peer. Hold off.
      this.host.log.info('peer silent to us but heard by others; not declaring it down yet', { peer, heardBy: from, agoMs });
      this.clearSuspicion(peer);
      this.refutedUntil.set(peer, now + refutedForMs(this.host.failureTimeoutMs));
      return;
    }
    const heard = this.host.lastHeard(peer);
    if (s.pending.size === 0 && heard !== undefined) this.declareOwn(peer, now - heard);
  }

  private pickRandom<T>(items: T[], n: number): T[] {
    const pool = [...items];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.host.random.float() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n);
  }
}
