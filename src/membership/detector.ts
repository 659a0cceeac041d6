// Detector: the heartbeats and failure detector of one node, over its connected members.
// Ticks fall on wall-clock multiples of the heartbeat interval, so every node of a LAN
// (clocks within milliseconds) sends its heartbeats at about the same instant and each
// receiver reads them in one wakeup instead of one per peer: the idle cost. Each tick
// measures our own event-loop lag, suspects members silent past suspicionMs, and sends
// a heartbeat to every member. A suspect is checked through up to FD_PROBES other
// members (as in SWIM) before it is declared down.
// No sockets and no timers of its own: the mesh gives it the members and carries its
// messages; time and randomness are injected, so whole clusters simulate.
// Invariant: suspicion state belongs to one connection of a member; the mesh calls
// forget() whenever that connection is replaced or goes.
import { ClusterError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Random } from '../util/random.js';
import type { Logger } from '../util/log.js';
import { downWithoutProbesMs, heardRecentlyMs, isOverdue, mayJudge, probeWindowMs, refutedForMs, stretchedTimeout, suspicionMs, tickLag } from './timing.js';

/** Ticks of lag history kept for stretching timeouts. */
const LAG_WINDOW_TICKS = 6;
/** Members asked to confirm a silent peer. */
const FD_PROBES = 3;

/** The detector's messages between members (on the mesh's failure-detector channel). */
export type FdMessage = { k: 'probe'; peer: string } | { k: 'seen'; peer: string; agoMs: number };

/** Validate a failure-detector message from the wire; throws ERR_PROTOCOL. */
export function parseFdMessage(v: unknown): FdMessage {
  const m = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (typeof m.peer !== 'string' || m.peer.length > 255) throw new ClusterError('ERR_PROTOCOL', 'invalid failure-detector message: peer');
  if (m.k === 'probe') return { k: 'probe', peer: m.peer };
  if (m.k === 'seen' && typeof m.agoMs === 'number' && Number.isInteger(m.agoMs) && m.agoMs >= -1) return { k: 'seen', peer: m.peer, agoMs: m.agoMs };
  throw new ClusterError('ERR_PROTOCOL', 'invalid failure-detector message');
}

/** What the detector needs from the mesh. */
export interface DetectorHost {
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly heartbeatIntervalMs: number;
  readonly failureTimeoutMs: number;
  /** Names of the connected members. */
  members(): string[];
  /** Clock time we last received anything from a connected member; undefined if it is not one. */
  lastHeard(name: string): number | undefined;
  /** Send a heartbeat (ping) to every connected member. */
  sendPings(seq: number): void;
  /** Send a failure-detector message to a connected member. */
  sendFd(to: string, msg: FdMessage): void;
  /** The member fell silent and no one we asked hears it: it is down. */
  declareDown(name: string, silentForMs: number): void;
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

  constructor(private readonly host: DetectorHost) {
    this.lastHealthyTickAt = host.clock.now();
    this.scheduleTick();
  }

  stop(): void {
    this.stopped = true;
    this.host.clock.clearTimeout(this.tickTimer);
    for (const name of [...this.suspicions.keys()]) this.forget(name);
  }

  /** Our recent worst event-loop lag (ms), used to stretch our own timeouts. */
  get recentLagMs(): number {
    return Math.max(0, ...this.lagHistory);
  }

  /** The member's connection was replaced or went: drop what we thought of it. */
  forget(name: string): void {
    const s = this.suspicions.get(name);
    if (s) this.host.clock.clearTimeout(s.timer);
    this.suspicions.delete(name);
    this.refutedUntil.delete(name);
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
    const timeout = stretchedTimeout(suspicionMs(this.host.failureTimeoutMs, this.host.heartbeatIntervalMs), this.recentLagMs, this.host.heartbeatIntervalMs);
    for (const name of this.host.members()) {
      const heard = this.host.lastHeard(name);
      if (heard === undefined) continue;
      if (judge && isOverdue(heard, now, timeout)) this.suspect(name, heard, now);
      else this.clearSuspicion(name);
    }
    // After a stall, read before writing: a peer that declared us down meanwhile closed
    // its connection with a goodbye saying so, and a write into that closed socket would
    // draw a reset that discards the goodbye unread. A zero-delay timer runs after the
    // pending input has been read, and still sends our heartbeats within a millisecond.
    const seq = this.seq;
    if (judge) this.host.sendPings(seq);
    else this.host.clock.setTimeout(() => !this.stopped && this.host.sendPings(seq), 0);
    this.scheduleTick();
  }

  private clearSuspicion(name: string): void {
    const s = this.suspicions.get(name);
    if (!s) return;
    this.host.clock.clearTimeout(s.timer);
    this.suspicions.delete(name);
  }

  /**
   * A member is overdue. Before declaring it down, ask up to FD_PROBES other members
   * whether they still hear it (an indirect check, as in SWIM): one slow link or a
   * stall on our side must not take a live peer out. With nobody to ask, or when every
   * answer says silent, or past twice the timeout, it is down.
   */
  private suspect(name: string, heard: number, now: number): void {
    const silentFor = now - heard;
    const others = this.host.members().filter((m) => m !== name);
    if (others.length === 0 || silentFor > downWithoutProbesMs(this.host.failureTimeoutMs)) return this.host.declareDown(name, silentFor);
    const refuted = this.refutedUntil.get(name);
    if (refuted !== undefined && now < refuted) return;
    const existing = this.suspicions.get(name);
    if (existing) {
      // Asked already: still no one has refuted within the confirmation window.
      if (now - existing.since >= this.confirmWindowMs()) this.host.declareDown(name, silentFor);
      return;
    }
    const pending = new Set(this.pickRandom(others, FD_PROBES));
    const s: Suspicion = {
      since: now,
      pending,
      timer: this.host.clock.setTimeout(() => {
        if (this.suspicions.get(name) !== s) return;
        const last = this.host.lastHeard(name);
        if (last !== undefined) this.host.declareDown(name, this.host.clock.now() - last);
      }, this.confirmWindowMs()),
    };
    this.suspicions.set(name, s);
    for (const o of pending) this.host.sendFd(o, { k: 'probe', peer: name });
    this.host.log.debug('peer silent; asking others', { peer: name, silentMs: Math.round(silentFor), asked: [...pending] });
  }

  private confirmWindowMs(): number {
    return probeWindowMs(this.host.heartbeatIntervalMs);
  }

  /** A failure-detector message from a connected member; throws ERR_PROTOCOL if malformed. */
  onMessage(from: string, body: unknown): void {
    const m = parseFdMessage(body);
    const now = this.host.clock.now();
    if (m.k === 'probe') {
      const heard = this.host.lastHeard(m.peer);
      const agoMs = heard === undefined ? -1 : Math.round(now - heard);
      this.host.sendFd(from, { k: 'seen', peer: m.peer, agoMs });
      return;
    }
    const s = this.suspicions.get(m.peer);
    if (!s || !s.pending.delete(from)) return;
    if (m.agoMs >= 0 && m.agoMs < heardRecentlyMs(this.host.failureTimeoutMs)) {
      // Someone hears it: our link or our loop is the problem, not the peer. Hold off.
      this.host.log.info('peer silent to us but heard by others; not declaring it down yet', { peer: m.peer, heardBy: from, agoMs: m.agoMs });
      this.clearSuspicion(m.peer);
      this.refutedUntil.set(m.peer, now + refutedForMs(this.host.failureTimeoutMs));
      return;
    }
    const heard = this.host.lastHeard(m.peer);
    if (s.pending.size === 0 && heard !== undefined) this.host.declareDown(m.peer, now - heard);
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
