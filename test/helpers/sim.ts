// Registry simulation: N registry replicas (src/replica.ts, as the node wires them) in one process, on one ManualClock and
// one seeded random, over a simulated network. Every message is encoded and decoded
// with the wire codec, then delayed, lost, duplicated or dropped by a partition; random
// delays reorder messages on a link unless `fifo` asks for TCP-like in-order links. Membership is driven here: two live replicas in the same partition group
// are told nodeUp of each other (after a reconnect delay); when a partition or a crash
// separates them, both sides are told nodeDown after a detection delay, and in-flight
// messages of the old connection are lost. A restarted replica gets a new incarnation
// and a fresh RegistrySync. Same seed and same operations: the same run, event by event.
// Claims go through the node's own claim rule (src/registry/claims.ts): claim() runs
// its local step alone (for registry tests over lossy links), claimConfirmed() the
// whole rule with its confirm round (for claim tests over FIFO links). Each replica is
// the node's own composition (Replica): replication, claims, the epoch book and quorum
// grants behind the same router; only name messaging is left out (nothing sends it).
import type { RegistrySync } from '../../src/registry/sync.js';
import { claimLocally } from '../../src/registry/claims.js';
import type { Claims } from '../../src/registry/claims.js';
import { Replica } from '../../src/replica.js';
import { confirmTimeoutMs } from '../../src/membership/timing.js';
import type { ClaimEpoch, ClaimOutcome, ClaimPort } from '../../src/registry/claims.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import type { Claim } from '../../src/registry/registry.js';
import type { Stamp } from '../../src/registry/hlc.js';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../src/util/clock.js';
import { SigningKey } from '../../src/util/signing.js';
import type { TimerHandle } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import type { Random } from '../../src/util/random.js';
import { silentLogger } from '../../src/util/log.js';
import { decode, encode } from '../../src/wire/codec.js';
import { describeError } from '../../src/errors.js';

/** Per-message faults of the simulated network. */
export interface NetworkFaults {
  /** Delivery delay range, ms (random delays reorder messages). */
  delayMs: [min: number, max: number];
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice. */
  dup: number;
  /** Delay range of the duplicate copy, ms: a long one models a stale re-send. */
  dupDelayMs: [min: number, max: number];
}

/** Settings of a simulation. */
export interface SimOptions {
  seed: number;
  /** Replica count (named n0@sim, n1@sim, ...) or explicit node names. */
  nodes: number | string[];
  /** Replicas not started at time 0 (indices); start them with restart(). */
  notStarted?: number[];
  faults?: Partial<NetworkFaults>;
  /** Failure detection delay range, ms; default [200, 600]. */
  detectMs?: [number, number];
  /** Reconnect delay range after a heal or a restart, ms; default [20, 200]. */
  reconnectMs?: [number, number];
  /** RegistrySync anti-entropy interval, ms; default 1000. */
  antiEntropyIntervalMs?: number;
  /** RegistrySync fanout; default its own default. */
  fanout?: number;
  /** RegistrySync maximum entries per delta; default its own default. */
  maxDeltaEntries?: number;
  /** Keep every delivered delta message (for replaying stale ones); default false. */
  recordDeltas?: boolean;
  /** Deliver in order on each directed link, like TCP; default false (random delays reorder). */
  fifo?: boolean;
  /** Deadline of a claim's confirm round, ms; default confirmTimeoutMs(600) (the detection delay's upper end). */
  confirmTimeoutMs?: number;
}

/** One registry event as a replica reported it. */
export interface SimEvent {
  t: number;
  /** The replica (node name / incarnation) that reported it. */
  node: string;
  inc: string;
  kind: 'registered' | 'lost' | 'freed';
  name: string;
  /** The claim the event names: the new holder (registered, lost) or the previous one (freed). */
  owner: string;
  ownerInc: string;
  stamp: Stamp;
}

/** A message a replica refused with an error (a real node would drop the connection). */
export interface SimProtocolError {
  t: number;
  from: string;
  to: string;
  error: string;
  msg: unknown;
}

/** A delivered delta, kept for replay. */
export interface RecordedDelta {
  t: number;
  from: number;
  to: number;
  owner: string;
  inc: string;
  bytes: Buffer;
}

/** One simulated node. */
export interface SimReplica {
  readonly index: number;
  readonly name: string;
  inc: string;
  /** Bumped at every restart: messages for an older generation are lost. */
  gen: number;
  alive: boolean;
  sync: RegistrySync | undefined;
  /** The claim rule of this incarnation. */
  claims: Claims | undefined;
  /** This incarnation's signing key (from its name and incarnation: no draw from the sim's randomness). */
  key: SigningKey | undefined;
  /** The whole replica of this incarnation (sync and claims are its parts). */
  replica: Replica | undefined;
}

interface PairState {
  /** Both sides were told nodeUp of each other (with these incarnations). */
  up: boolean;
  incA: string;
  incB: string;
  /** Bumped whenever the connection breaks or is replaced: in-flight messages are lost. */
  epoch: number;
  /** Bumped whenever a partition separates the pair (messages in flight are cut). */
  cuts: number;
  pending: TimerHandle | undefined;
}

const DEFAULT_FAULTS: NetworkFaults = { delayMs: [1, 20], loss: 0, dup: 0, dupDelayMs: [1, 20] };

/** A deterministic cluster of RegistrySync replicas. */
export class RegistrySim {
  readonly clock = new ManualClock();
  readonly random: Random;
  readonly replicas: SimReplica[];
  readonly events: SimEvent[] = [];
  readonly protocolErrors: SimProtocolError[] = [];
  readonly deltas: RecordedDelta[] = [];
  readonly stats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, cut: 0 };
  faults: NetworkFaults;
  /** Drop messages this returns true for (a targeted fault), before any other fault. */
  dropRule: ((from: string, to: string, msg: RegistryMessage) => boolean) | undefined;
  readonly antiEntropyIntervalMs: number;
  readonly detectMs: [number, number];
  readonly reconnectMs: [number, number];
  private group: number[];
  private readonly pairs = new Map<string, PairState>();
  private readonly lastDelivery = new Map<string, number>();
  private incCounter = 0;
  /** Called right after two replicas were told nodeUp of each other. */
  onLinkUp: ((a: SimReplica, b: SimReplica) => void) | undefined;
  /** Called with each registry event as it is recorded. */
  onEvent: ((e: SimEvent) => void) | undefined;

  constructor(private readonly o: SimOptions) {
    this.random = seededRandom(o.seed);
    const names = typeof o.nodes === 'number' ? Array.from({ length: o.nodes }, (_, i) => `n${i}@sim`) : o.nodes;
    this.replicas = names.map((name, index) => ({ index, name, inc: '', gen: 0, alive: false, sync: undefined, claims: undefined, key: undefined, replica: undefined }));
    this.faults = { ...DEFAULT_FAULTS, ...o.faults };
    this.antiEntropyIntervalMs = o.antiEntropyIntervalMs ?? 1000;
    this.detectMs = o.detectMs ?? [200, 600];
    this.reconnectMs = o.reconnectMs ?? [20, 200];
    this.group = names.map(() => 0);
    const notStarted = new Set(o.notStarted ?? []);
    for (const r of this.replicas) if (!notStarted.has(r.index)) this.boot(r);
    // At time 0 the started replicas are already connected (no reconnect delay).
    for (let i = 0; i < this.replicas.length; i++) for (let j = i + 1; j < this.replicas.length; j++) this.syncPair(i, j);
  }

  // ---- reads -------------------------------------------------------------------------------

  get now(): number {
    return this.clock.now();
  }

  /** Live replicas. */
  live(): SimReplica[] {
    return this.replicas.filter((r) => r.alive);
  }

  /** The live replica named name (or at index). */
  replica(which: number | string): SimReplica {
    const r = typeof which === 'number' ? this.replicas[which] : this.replicas.find((x) => x.name === which);
    if (!r) throw new Error(`no replica ${which}`);
    return r;
  }

  /** The running RegistrySync of a live replica. */
  sync(which: number | string): RegistrySync {
    const r = this.replica(which);
    if (!r.alive || !r.sync) throw new Error(`replica ${r.name} is down`);
    return r.sync;
  }

  /** Partition group of each replica index. */
  groups(): number[] {
    return [...this.group];
  }

  /** Live replicas grouped by partition group. */
  connectedGroups(): SimReplica[][] {
    const by = new Map<number, SimReplica[]>();
    for (const r of this.live()) {
      const g = this.group[r.index]!;
      by.set(g, [...(by.get(g) ?? []), r]);
    }
    return [...by.values()];
  }

  /** Events reported by one replica incarnation (or by every incarnation of a node). */
  eventsOf(node: string, inc?: string): SimEvent[] {
    return this.events.filter((e) => e.node === node && (inc === undefined || e.inc === inc));
  }

  /** True when every pair's membership matches the topology and no transition is pending. */
  membershipSettled(): boolean {
    for (let i = 0; i < this.replicas.length; i++) {
      for (let j = i + 1; j < this.replicas.length; j++) {
        if (this.pair(i, j).pending || this.stale(i, j)) return false;
      }
    }
    return true;
  }

  /** True when membership has settled and every connected group holds one identical registry. */
  groupsConverged(): boolean {
    if (!this.membershipSettled()) return false;
    for (const g of this.connectedGroups()) {
      const [first, ...rest] = g.map((r) => fingerprint(r.sync!));
      if (rest.some((f) => f !== first)) return false;
    }
    return true;
  }

  /** A readable dump of every live replica's registry, for failure messages. */
  describe(): string {
    const lines = [`t=${this.now} groups=${JSON.stringify(this.group)} stats=${JSON.stringify(this.stats)}`];
    for (const r of this.replicas) {
      if (!r.alive) {
        lines.push(`  ${r.name}: down`);
        continue;
      }
      const s = r.sync!;
      lines.push(`  ${r.name}/${r.inc}: ${s.registered().map((c) => `${c.name}=${c.owner}/${c.incarnation}@${c.stamp.join('.')}`).join(' ') || '(empty)'}`);
      lines.push(`    digest ${JSON.stringify(s.state.digest())}`);
    }
    if (this.protocolErrors.length) lines.push(`  protocol errors: ${this.protocolErrors.length}, first: ${this.protocolErrors[0]!.error}`);
    return lines.join('\n');
  }

  // ---- operations --------------------------------------------------------------------------

  /**
   * The local step of the node's claim rule, without the confirm round: if a live holder
   * other than us is known, no claim ('taken'); if we already claim it, nothing ('held');
   * else claim ('claimed').
   */
  claim(which: number | string, name: string): 'claimed' | 'held' | 'taken' | 'down' {
    const r = this.replica(which);
    if (!r.alive) return 'down';
    const local = claimLocally(this.claimPort(r), name);
    return local.kind === 'claimed' ? 'claimed' : local.kind === 'own' ? 'held' : 'taken';
  }

  /**
   * The node's whole claim rule: claim, then confirm with every connected member; done is
   * told the outcome in the simulated instant it is decided. False if the replica is down.
   */
  claimConfirmed(which: number | string, name: string, epoch: ClaimEpoch, done: (outcome: ClaimOutcome) => void): boolean {
    const r = this.replica(which);
    if (!r.alive) return false;
    r.claims!.claimThen(name, epoch, done);
    return true;
  }

  /**
   * The state of the link between two replicas: undefined when they cannot talk now
   * (down, partitioned, or not yet told of each other), else a token that changes
   * whenever the connection breaks or a partition cuts it. Equal tokens at two times:
   * connected all along, messages kept in order.
   */
  linkState(i: number, j: number): string | undefined {
    const a = this.replicas[Math.min(i, j)]!;
    const b = this.replicas[Math.max(i, j)]!;
    const p = this.pair(i, j);
    if (!a.alive || !b.alive || !p.up || p.incA !== a.inc || p.incB !== b.inc || this.group[i] !== this.group[j]) return undefined;
    return `${p.epoch}/${p.cuts}/${a.inc}/${b.inc}`;
  }

  /** Release a replica's claim on name; false if it had none or is down. */
  release(which: number | string, name: string): boolean {
    const r = this.replica(which);
    return r.alive ? r.sync!.release(name) : false;
  }

  /** Split the cluster: each listed group can talk within itself; unlisted replicas are alone. */
  partition(groups: number[][]): void {
    const next = this.replicas.map((r) => -1 - r.index);
    groups.forEach((g, gi) => {
      for (const i of g) next[i] = gi;
    });
    for (let i = 0; i < next.length; i++) {
      for (let j = i + 1; j < next.length; j++) if (this.group[i] === this.group[j] && next[i] !== next[j]) this.pair(i, j).cuts++;
    }
    this.group = next;
    this.topologyChanged();
  }

  /** Everyone can talk again. */
  heal(): void {
    this.group = this.replicas.map(() => 0);
    this.topologyChanged();
  }

  /** Stop a replica abruptly: its connections die now, peers notice after the detection delay. */
  crash(which: number | string): void {
    const r = this.replica(which);
    if (!r.alive) return;
    // Dead first: whatever the stopping claim rule releases goes nowhere.
    r.alive = false;
    r.replica!.stop();
    r.sync = undefined;
    r.claims = undefined;
    r.replica = undefined;
    for (const o of this.replicas) if (o !== r) this.pair(r.index, o.index).epoch++;
    this.topologyChanged();
  }

  /** Start a replica that is down (never started, or crashed) with a new incarnation. */
  restart(which: number | string): void {
    const r = this.replica(which);
    if (r.alive) return;
    this.boot(r);
    this.topologyChanged();
  }

  /** Move time forward, delivering messages and firing timers on the way. */
  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Change network faults (merged into the current ones). */
  setFaults(f: Partial<NetworkFaults>): void {
    this.faults = { ...this.faults, ...f };
  }

  /**
   * Stop every fault (heal unless keepPartition, no loss or duplicates, no drop rule) and
   * advance in steps until the groups converge. Returns the time it took; throws, with a
   * dump, if they have not converged within maxMs.
   */
  settle(options: { maxMs?: number; keepPartition?: boolean } = {}): number {
    const start = this.now;
    const maxMs = options.maxMs ?? 60 * this.antiEntropyIntervalMs;
    if (!options.keepPartition) this.heal();
    this.setFaults({ loss: 0, dup: 0 });
    this.dropRule = undefined;
    const step = Math.max(10, this.antiEntropyIntervalMs / 4);
    for (;;) {
      this.advance(step);
      if (this.groupsConverged()) return this.now - start;
      if (this.now - start > maxMs) throw new Error(`not converged within ${maxMs} ms\n${this.describe()}`);
    }
  }

  /** Deliver a previously recorded message again, now, from `from` to `to` (a stale re-send). */
  replay(d: RecordedDelta, from: number, to: number): void {
    const src = this.replica(from);
    const dst = this.replica(to);
    if (!src.alive || !dst.alive || !this.pair(from, to).up || this.group[from] !== this.group[to]) return;
    this.deliver(src, dst, d.bytes);
  }

  // ---- internals ---------------------------------------------------------------------------

  private boot(r: SimReplica): void {
    r.gen++;
    r.inc = (++this.incCounter).toString(16).padStart(4, '0');
    r.alive = true;
    const gen = r.gen;
    const inc = r.inc;
    const record =
      (kind: SimEvent['kind']) =>
      (name: string, c: Claim): void => {
        const e: SimEvent = { t: this.now, node: r.name, inc, kind, name, owner: c.owner, ownerInc: c.incarnation, stamp: c.stamp };
        this.events.push(e);
        this.onEvent?.(e);
      };
    r.key = SigningKey.fromSeed(createHash('sha256').update(`${r.name}/${inc}`).digest());
    const replica = new Replica({
      self: { name: r.name, inc },
      signer: r.key,
      clock: this.clock,
      random: this.random,
      logger: silentLogger,
      send: (to, msg) => this.send(r, gen, to, msg),
      messaging: { receive: () => {} },
      failureTimeoutMs: 600,
      confirmTimeoutMs: this.o.confirmTimeoutMs ?? confirmTimeoutMs(600),
      events: {
        registered: (c) => record('registered')(c.name, c),
        // The node's rule (the replica's claim rule has released the losing claim).
        lost: (name, winner) => record('lost')(name, winner),
        freed: record('freed'),
      },
      ...(this.o.fanout !== undefined ? { fanout: this.o.fanout } : {}),
      antiEntropyIntervalMs: this.antiEntropyIntervalMs,
      ...(this.o.maxDeltaEntries !== undefined ? { maxDeltaEntries: this.o.maxDeltaEntries } : {}),
    });
    r.replica = replica;
    r.sync = replica.sync;
    r.claims = replica.claims;
    replica.start();
  }

  /** The claim rule's port onto a replica (the same calls the replica plugs into its own claim rule). */
  private claimPort(r: SimReplica): ClaimPort {
    const gen = r.gen;
    const sync = r.sync!;
    return {
      self: { name: r.name, inc: r.inc },
      clock: this.clock,
      logger: silentLogger,
      holder: (n) => sync.whereis(n),
      ownClaim: (n) => sync.ownClaim(n),
      epochOf: (n) => r.replica!.epochs.epochOf(n),
      claim: (n, epoch) => sync.claim(n, epoch),
      release: (n) => sync.release(n),
      members: () => sync.memberNames(),
      send: (to, msg) => this.send(r, gen, to, msg),
    };
  }

  private pair(i: number, j: number): PairState {
    const key = i < j ? `${i}:${j}` : `${j}:${i}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = { up: false, incA: '', incB: '', epoch: 0, cuts: 0, pending: undefined };
      this.pairs.set(key, p);
    }
    return p;
  }

  /** Whether the pair's current membership disagrees with the topology. */
  private stale(i: number, j: number): boolean {
    const a = this.replicas[Math.min(i, j)]!;
    const b = this.replicas[Math.max(i, j)]!;
    const p = this.pair(i, j);
    const want = a.alive && b.alive && this.group[a.index] === this.group[b.index];
    if (p.up) return !want || p.incA !== a.inc || p.incB !== b.inc;
    return want;
  }

  private topologyChanged(): void {
    for (let i = 0; i < this.replicas.length; i++) {
      for (let j = i + 1; j < this.replicas.length; j++) {
        const p = this.pair(i, j);
        if (p.pending || !this.stale(i, j)) continue;
        const range = p.up ? this.detectMs : this.reconnectMs;
        p.pending = this.clock.setTimeout(() => {
          p.pending = undefined;
          this.syncPair(i, j);
        }, this.between(range));
      }
    }
  }

  /** Bring one pair's membership in line with the topology: nodeDown the old link, nodeUp the new. */
  private syncPair(i: number, j: number): void {
    const a = this.replicas[Math.min(i, j)]!;
    const b = this.replicas[Math.max(i, j)]!;
    const p = this.pair(i, j);
    if (!this.stale(i, j)) return;
    if (p.up) {
      // The connection is gone: both sides see nodedown (a side that crashed sees nothing).
      p.up = false;
      p.epoch++;
      if (a.alive && a.inc === p.incA) a.replica!.nodeDown(b.name, p.incB);
      if (b.alive && b.inc === p.incB) b.replica!.nodeDown(a.name, p.incA);
    }
    if (this.stale(i, j)) {
      p.up = true;
      p.epoch++;
      p.incA = a.inc;
      p.incB = b.inc;
      a.replica!.nodeUp(b.name, b.inc, b.key!.publicKey);
      b.replica!.nodeUp(a.name, a.inc, a.key!.publicKey);
      this.onLinkUp?.(a, b);
    }
  }

  private between([min, max]: [number, number]): number {
    return min + this.random.float() * (max - min);
  }

  private send(from: SimReplica, gen: number, to: string, msg: RegistryMessage): boolean {
    const dst = this.replicas.find((r) => r.name === to);
    if (!dst || from.gen !== gen || !from.alive) return false;
    const p = this.pair(from.index, dst.index);
    if (!p.up) return false;
    this.stats.sent++;
    const bytes = encode(msg);
    if (this.dropRule?.(from.name, to, msg)) {
      this.stats.lost++;
      return true;
    }
    const copies = this.random.float() < this.faults.dup ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      const lost = this.random.float() < this.faults.loss;
      let delay = this.between(c === 0 ? this.faults.delayMs : this.faults.dupDelayMs);
      if (this.o.fifo) {
        const link = `${from.index}>${dst.index}`;
        delay = Math.max(delay, (this.lastDelivery.get(link) ?? 0) - this.now);
        this.lastDelivery.set(link, this.now + delay);
      }
      if (lost) {
        this.stats.lost++;
        continue;
      }
      if (this.group[from.index] !== this.group[dst.index]) {
        this.stats.cut++;
        continue;
      }
      const epoch = p.epoch;
      const dstGen = dst.gen;
      this.clock.setTimeout(() => {
        if (p.epoch !== epoch || !dst.alive || dst.gen !== dstGen || !from.alive || from.gen !== gen || this.group[from.index] !== this.group[dst.index]) {
          this.stats.cut++;
          return;
        }
        this.deliver(from, dst, bytes);
      }, delay);
    }
    return true;
  }

  private deliver(from: SimReplica, dst: SimReplica, bytes: Buffer): void {
    this.stats.delivered++;
    const msg = decode(bytes);
    if (this.o.recordDeltas) {
      const m = msg as { k?: unknown; d?: { owner?: unknown; inc?: unknown } };
      if (m.k === 'delta' && typeof m.d?.owner === 'string' && typeof m.d.inc === 'string') {
        this.deltas.push({ t: this.now, from: from.index, to: dst.index, owner: m.d.owner, inc: m.d.inc, bytes });
      }
    }
    try {
      dst.replica!.receive(from.name, msg);
    } catch (err) {
      this.protocolErrors.push({ t: this.now, from: from.name, to: dst.name, error: describeError(err), msg });
    }
  }
}

/** What two replicas must agree on: the whole state and the holders. */
export function fingerprint(s: RegistrySync): string {
  return `${s.state.snapshot()}|${JSON.stringify(s.registered())}`;
}
