// Handshake queue: the turns this node gives to handshakes, inbound and outbound
// together. At most `slots` handshakes run at once; the rest wait in one FIFO queue,
// and a handshake's deadline starts when its turn starts (the mesh creates the
// Connection then), so a handshake is never raced against a deadline while it waited
// for us. Pure over injected time: the mesh asks, holds what waits, and starts what
// this returns.
// Invariants:
// - running <= slots; queued <= maxQueued (an inbound connection that cannot be queued
//   is refused).
// - Inbound handshakes hold at most maxRunningInbound turns, so the rest (slots -
//   maxRunningInbound >= MAX_CONCURRENT_DIALS, the dialer's own bound) are always there
//   for our dials: connections flooding in cannot stop this node from dialing the peers
//   it knows, and two nodes dialing each other cannot hold each other's turns.
// - An inbound entry gets a turn only once it is ready (a whole first frame arrived):
//   a silent socket never holds a turn; and at most maxRunningPerAddress inbound
//   handshakes from one address run at once, so one hostile LAN host cannot take every
//   inbound turn (it can hold its per-address pending cap in the queue, where expire()
//   drops each entry maxWaitMs after it was queued).
// - Among the entries that may run, the oldest runs first (FIFO).
// - The mesh ends an inbound entry's turn (leave()) as soon as it has answered the
//   dialer's hello: a turn paces our work, and what is left (the dialer's confirm) is
//   waiting, so a dialer that stalls there holds no turn.
import { MAX_CONCURRENT_DIALS } from './dialer.js';

/**
 * Handshakes run at once, inbound and outbound together: 4. Fewer handshakes at once
 * finish sooner on a busy machine: with 20 nodes on 4 virtual hosts on 2 cores, 4 turns
 * gave the fewest handshake timeouts of 2, 4, 8 and 16 (README "Pacing").
 */
export const HANDSHAKE_SLOTS = 4;
/** Inbound handshakes run at once: 2; the other turns are our dials' (MAX_CONCURRENT_DIALS). */
export const MAX_RUNNING_INBOUND_HANDSHAKES = HANDSHAKE_SLOTS - MAX_CONCURRENT_DIALS;
/** Handshakes waiting for a turn at most: 128 (more inbound connections are refused). */
export const MAX_QUEUED_HANDSHAKES = 128;
/** Inbound handshakes from one address running at once: 1 (half the inbound turns). */
export const MAX_RUNNING_HANDSHAKES_PER_ADDRESS = 1;

/** Which end of the connection we are. */
export type HandshakeDirection = 'inbound' | 'outbound';

/** Limits of a HandshakeQueue. */
export interface HandshakeQueueLimits {
  slots: number;
  maxRunningInbound: number;
  maxQueued: number;
  maxRunningPerAddress: number;
}

/** The default limits. */
export const DEFAULT_HANDSHAKE_QUEUE_LIMITS: HandshakeQueueLimits = {
  slots: HANDSHAKE_SLOTS,
  maxRunningInbound: MAX_RUNNING_INBOUND_HANDSHAKES,
  maxQueued: MAX_QUEUED_HANDSHAKES,
  maxRunningPerAddress: MAX_RUNNING_HANDSHAKES_PER_ADDRESS,
};

/** What became of a handshake that asked for a turn. */
export type TurnAnswer = 'run' | 'queued' | 'refused';

interface Entry<T> {
  item: T;
  direction: HandshakeDirection;
  address: string;
  queuedAt: number;
  ready: boolean;
}

/** The handshake turns of one node; T identifies a handshake (the mesh's own object). */
export class HandshakeQueue<T> {
  private readonly queue: Entry<T>[] = [];
  private readonly running = new Map<T, Entry<T>>();
  private readonly runningFrom = new Map<string, number>();
  private runningInbound = 0;

  constructor(
    private readonly now: () => number,
    readonly limits: HandshakeQueueLimits = DEFAULT_HANDSHAKE_QUEUE_LIMITS,
  ) {}

  /** Handshakes running now. */
  get runningCount(): number {
    return this.running.size;
  }

  /** Handshakes waiting for a turn. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /** Whether item holds a turn now. */
  isRunning(item: T): boolean {
    return this.running.has(item);
  }

  /**
   * Ask for a turn for item. 'run': it holds a turn now (call leave() when its
   * handshake is over); 'queued': it waits (a later leave() or ready() returns it when
   * its turn comes); 'refused': the queue is full (an inbound connection is closed).
   * Outbound entries are always ready; an inbound one is ready once `ready` is passed
   * or ready() is called.
   */
  enter(item: T, direction: HandshakeDirection, address: string, ready = direction === 'outbound'): TurnAnswer {
    const e: Entry<T> = { item, direction, address, queuedAt: this.now(), ready: ready || direction === 'outbound' };
    if (this.queue.length === 0 && this.mayRun(e)) {
      this.start(e);
      return 'run';
    }
    if (this.queue.length >= this.limits.maxQueued) return 'refused';
    this.queue.push(e);
    // A new entry may run at once even behind others that may not (silent, or from an
    // address at its cap).
    return this.startWaiting().includes(item) ? 'run' : 'queued';
  }

  /** A queued inbound item's first frame arrived: it may now take a turn. Returns the items to start now. */
  ready(item: T): T[] {
    const e = this.queue.find((q) => q.item === item);
    if (!e || e.ready) return [];
    e.ready = true;
    return this.startWaiting();
  }

  /** item's handshake is over, or it gave up waiting: free its turn or its place. Idempotent. Returns the items to start now. */
  leave(item: T): T[] {
    const e = this.running.get(item);
    if (e) {
      this.running.delete(item);
      if (e.direction === 'inbound') {
        this.runningInbound--;
        const n = (this.runningFrom.get(e.address) ?? 1) - 1;
        if (n > 0) this.runningFrom.set(e.address, n);
        else this.runningFrom.delete(e.address);
      }
      return this.startWaiting();
    }
    const i = this.queue.findIndex((q) => q.item === item);
    if (i >= 0) this.queue.splice(i, 1);
    return i >= 0 ? this.startWaiting() : [];
  }

  /**
   * Inbound entries that have waited longer than maxWaitMs, oldest first, removed from
   * the queue (the mesh closes them). Outbound entries are not dropped: the dialer
   * bounds how many there are.
   */
  expire(maxWaitMs: number): T[] {
    const now = this.now();
    const dropped: T[] = [];
    for (let i = 0; i < this.queue.length; ) {
      const e = this.queue[i]!;
      if (e.direction === 'inbound' && now - e.queuedAt >= maxWaitMs) {
        this.queue.splice(i, 1);
        dropped.push(e.item);
      } else i++;
    }
    return dropped;
  }

  /** The clock time the oldest queued inbound entry was queued, if any. */
  oldestInboundQueuedAt(): number | undefined {
    return this.queue.find((e) => e.direction === 'inbound')?.queuedAt;
  }

  /** Forget everything (the mesh stopped). */
  clear(): void {
    this.queue.length = 0;
    this.running.clear();
    this.runningFrom.clear();
    this.runningInbound = 0;
  }

  private mayRun(e: Entry<T>): boolean {
    if (this.running.size >= this.limits.slots || !e.ready) return false;
    if (e.direction === 'outbound') return true;
    return this.runningInbound < this.limits.maxRunningInbound && (this.runningFrom.get(e.address) ?? 0) < this.limits.maxRunningPerAddress;
  }

  private start(e: Entry<T>): void {
    this.running.set(e.item, e);
    if (e.direction !== 'inbound') return;
    this.runningInbound++;
    this.runningFrom.set(e.address, (this.runningFrom.get(e.address) ?? 0) + 1);
  }

  /** Give free turns to the oldest entries that may run. */
  private startWaiting(): T[] {
    const started: T[] = [];
    for (let i = 0; i < this.queue.length && this.running.size < this.limits.slots; ) {
      const e = this.queue[i]!;
      if (this.mayRun(e)) {
        this.queue.splice(i, 1);
        this.start(e);
        started.push(e.item);
      } else i++;
    }
    return started;
  }
}
