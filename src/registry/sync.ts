// Registry sync: keeps this node's RegistryState converged with the cluster's.
// - Dissemination: the owner pushes its change to every member (one hop in the full
//   mesh); a member that learns news second-hand forwards it to `fanout` random others
//   (never back to the sender or the owner).
// - Anti-entropy: every interval, a digest goes to one random member, who answers
//   with what the sender lacks (and asks, once, for what it lacks itself). A node
//   that has seen no registry activity for QUIET_ROUNDS rounds (no change of its own,
//   no news, no member up or down, no round that repaired anything) slows its rounds
//   down to QUIET_SLOWDOWN x the interval (antiEntropyDelayMs); any activity brings
//   the interval back at once. A repair is never slowed much by it: members that saw
//   the change are active and keep sending digests at the interval.
// - Join: when a member comes up, each side pushes all of its own entries, then a
//   'synced' marker (which relies on the link keeping order, as TCP does); when a member goes down, its entries go, and entries of owners
//   that are not up in our view are never accepted from third parties.
// - Names are held by the first claim in the registry's order (highest fencing epoch,
//   then earliest stamp); changes of holder become events.
// - Bounds: every epoch and version from a member passes judgeCounter (bounds.ts)
//   before it is adopted; a refused one is dropped (with its whole delta) and logged
//   through the shared DropLog, never grounds to disconnect.
// - Signatures: every entry we write is signed with our incarnation's key. A delta from
//   its owner is vouched for by the authenticated link; a delta relayed by another
//   member counts only if each entry new to us carries the owner's signature under the
//   key the owner proved to us (nodeUp), and then only its entries count
//   (RegistryState.mergeRelayed): a relayer cannot write, evict or hide an owner's entries.
// Replication only: the router (router.ts) hands it delta, digest and synced. Fencing
// epochs are the epoch book's (singleton/epochs.ts), reached through the EpochPort
// declared here so the registry never imports the singleton layer: an entry's epoch is
// judged against the book and adopted by it, and the book's messages ride on our join
// push (before 'synced') and anti-entropy rounds. Quorum grants (singleton/quorum.ts)
// learn of claims through the `claimed` event; claim confirmation is claims.ts's, and
// name messaging is messaging.ts's.
// No I/O here: messages go out through the RegistryPort, time through the Clock.
import { describeError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Random } from '../util/random.js';
import { judgeCounter } from './bounds.js';
import type { CounterVerdict } from './bounds.js';
import { DropLog } from './drop-log.js';
import { VerifyKey } from '../util/signing.js';
import { entrySignedBytes } from './entry-signature.js';
import type { EntrySigner } from './entry-signature.js';
import { HybridClock, isStamp } from './hlc.js';
import { MAX_DELTA_ENTRIES } from './messages.js';
import type { RegistryMessage, ReplicationMessage } from './messages.js';
import { compareClaims, RegistryState } from './registry.js';
import type { Claim, Delta, Entry, OwnerDigest } from './registry.js';

/** How the registry reaches other members (the node plugs the mesh in). */
export interface RegistryPort {
  /**
   * Send to a connected member; false if it is not connected. Throws ERR_BAD_MESSAGE or
   * ERR_FRAME_TOO_LARGE, with the connection left open, for a message that cannot go
   * (a handler's reply that is not plain data or does not fit a frame).
   */
  send(to: string, msg: RegistryMessage): boolean;
}

/** What the registry reports. */
export interface RegistryEvents {
  /** name now has this holder (new, or changed). */
  registered(claim: Claim): void;
  /** Our claim on name lost to an earlier claimant. */
  lost(name: string, winner: Claim): void;
  /** name has no holder any more. */
  freed(name: string, previous: Claim): void;
  /** A claim with this fencing epoch (> 0) was made here or accepted from a member (quorum grants for it have done their work). */
  claimed?(name: string, epoch: number): void;
}

/**
 * The fencing-epoch book as replication needs it (singleton/epochs.ts keeps it; the
 * composition plugs it in). Without one, no epoch is remembered beyond its entry.
 */
export interface EpochPort {
  /** The highest epoch seen for name (0 if none): an entry's epoch is judged against it. */
  epochOf(name: string): number;
  /** A claim carries this epoch (from: the member it came from; ours: this node): adopt it. False (and logged) if refused. */
  observe(name: string, epoch: number, from: string, claimed: boolean): boolean;
  /** The whole book as messages for a joining member (sent after our deltas, before 'synced'). */
  joinMessages(): RegistryMessage[];
  /** The book's chunk for one anti-entropy round (sent after the digest), if any. */
  nextChunk(): RegistryMessage | undefined;
  /** Housekeeping on each anti-entropy tick (pruning). */
  prune(): void;
}

/** Settings of the registry sync. */
export interface RegistrySyncOptions {
  self: { name: string; inc: string };
  /** This incarnation's signing key: every entry we write is signed, so members can relay it. */
  signer: EntrySigner;
  clock: Clock;
  random: Random;
  logger: Logger;
  port: RegistryPort;
  events: RegistryEvents;
  /** Members each change is pushed (and forwarded) to; default 4. */
  fanout?: number;
  /** Interval of anti-entropy digests; default 1000 ms. */
  antiEntropyIntervalMs?: number;
  /** Most entries per delta message; default MAX_DELTA_ENTRIES. */
  maxDeltaEntries?: number;
  /** The fencing-epoch book; default none (epochs live only in entries). */
  epochs?: EpochPort;
  /** The log of refused counters, shared with the epoch book and quorum grants; default a log of its own. */
  drops?: DropLog;
}

/** Delta chunks sent to a joining member per turn of the event loop. */
const JOIN_CHUNKS_PER_TURN = 4;

/** Members each registry change is pushed and forwarded to: 4. */
export const DEFAULT_REGISTRY_FANOUT = 4;
/** Interval of registry anti-entropy rounds: 1 s. */
export const DEFAULT_ANTI_ENTROPY_INTERVAL_MS = 1000;
/** Rounds without registry activity after which anti-entropy slows down: 10. */
export const QUIET_ROUNDS = 10;
/** How many times the interval a quiet node's rounds are apart, at most: 4. */
export const QUIET_SLOWDOWN = 4;

/**
 * Delay to the next anti-entropy round, ms: uniform in [mean/2, 3 mean/2], where the
 * mean is intervalMs while the node has been quiet for fewer than QUIET_ROUNDS rounds,
 * then doubles with each further quiet round up to QUIET_SLOWDOWN x intervalMs.
 * random01 in [0, 1).
 */
export function antiEntropyDelayMs(intervalMs: number, quietRounds: number, random01: number): number {
  const doublings = Math.max(0, quietRounds - QUIET_ROUNDS + 1);
  const mean = intervalMs * Math.min(QUIET_SLOWDOWN, 2 ** Math.min(doublings, 30));
  return mean / 2 + random01 * mean;
}

function claimKey(c: Claim | undefined): string {
  return c ? `${c.owner}/${c.incarnation}/${c.stamp[0]}/${c.stamp[1]}` : '';
}

/** One node's replica of the registry and the protocol that keeps it converged. */
export class RegistrySync {
  readonly state = new RegistryState();
  readonly hlc: HybridClock;
  private readonly members = new Map<string, string>();
  /** Each member's signing key, as its incarnation proved it in the handshake. */
  private readonly memberKeys = new Map<string, VerifyKey>();
  private readonly synced = new Set<string>();
  private readonly acked = new Map<string, number>();
  private readonly holders = new Map<string, Claim>();
  private readonly syncWaiters = new Set<() => void>();
  private timer: TimerHandle | undefined;
  /** When the next anti-entropy round is due (clock ms). */
  private nextRoundAt = 0;
  /** Anti-entropy rounds in a row with no registry activity (see antiEntropyDelayMs). */
  private quietRounds = 0;
  /** Registry activity since the last round. */
  private active = false;
  private readonly fanout: number;
  private readonly interval: number;
  private readonly maxEntries: number;
  private stopped = false;
  private readonly drops: DropLog;

  constructor(private readonly o: RegistrySyncOptions) {
    this.hlc = new HybridClock(o.clock);
    this.fanout = o.fanout ?? DEFAULT_REGISTRY_FANOUT;
    this.interval = o.antiEntropyIntervalMs ?? DEFAULT_ANTI_ENTROPY_INTERVAL_MS;
    this.maxEntries = o.maxDeltaEntries ?? MAX_DELTA_ENTRIES;
    this.drops = o.drops ?? new DropLog(o.clock, o.logger);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
    for (const w of this.syncWaiters) w();
    this.syncWaiters.clear();
  }

  // ---- reads -----------------------------------------------------------------

  /** The holder of name, if any. */
  whereis(name: string): Claim | undefined {
    return this.state.winner(name);
  }

  /** Every held name with its holder, sorted by name. */
  registered(): Claim[] {
    return [...this.state.holders().values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The members up now, to whom our own changes are pushed. */
  memberNames(): string[] {
    return [...this.members.keys()];
  }

  /** Whether node is a connected member in our view. */
  isMember(node: string): boolean {
    return this.members.has(node);
  }

  /** True once every member currently up has pushed its entries to us. */
  isSynced(): boolean {
    for (const m of this.members.keys()) if (!this.synced.has(m)) return false;
    return true;
  }

  /** Resolves when isSynced() holds, or after timeoutMs, whichever is first. */
  whenSynced(timeoutMs: number): Promise<void> {
    if (this.isSynced() || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.o.clock.clearTimeout(t);
        this.syncWaiters.delete(check);
        resolve();
      };
      const check = (): void => {
        if (this.isSynced() || this.stopped) done();
      };
      const t = this.o.clock.setTimeout(done, timeoutMs);
      this.syncWaiters.add(check);
    });
  }

  // ---- local changes -----------------------------------------------------------

  /** Claim name for this node now (with a fencing epoch for failover tenures). Returns our claim (the holder may still be someone else). */
  claim(name: string, epoch = 0): Claim {
    const { name: self, inc } = this.o.self;
    if (epoch > 0) {
      this.observeEpoch(name, epoch);
      this.consumeGrant(name, epoch);
    }
    const entry = this.sign(this.state.write(self, inc, name, this.hlc.now(), false, epoch));
    this.activity();
    this.pushOwn({ owner: self, inc, base: entry.version - 1, version: entry.version, floor: this.ownFloor(), entries: [entry] });
    this.recompute([name]);
    return this.state.claimOf(self, inc, name)!;
  }

  /** Release our claim on name (leaves a tombstone). Returns false if we had none. */
  release(name: string): boolean {
    const { name: self, inc } = this.o.self;
    const mine = this.state.claimOf(self, inc, name);
    if (!mine) return false;
    const entry = this.sign(this.state.write(self, inc, name, mine.stamp, true, mine.epoch ?? 0));
    this.activity();
    this.pushOwn({ owner: self, inc, base: entry.version - 1, version: entry.version, floor: this.ownFloor(), entries: [entry] });
    this.recompute([name]);
    return true;
  }

  /** Sign one of our own entries in place (the state holds the same object, and relays the signature with it). */
  private sign(entry: Entry): Entry {
    entry.sig = this.o.signer.sign(entrySignedBytes(this.o.self.name, this.o.self.inc, entry));
    return entry;
  }

  /** The highest fencing epoch seen for name (0 if none; the epoch book's). */
  epochOf(name: string): number {
    return this.o.epochs?.epochOf(name) ?? 0;
  }

  /** A claim carries epoch: the epoch book adopts it (false, and logged, if refused). */
  private observeEpoch(name: string, epoch: number, from = this.o.self.name, claimed = from === this.o.self.name): boolean {
    return this.o.epochs?.observe(name, epoch, from, claimed) ?? true;
  }

  /** A claim with this epoch was made or accepted: the `claimed` listener (quorum grants) consumes its grant. */
  private consumeGrant(name: string, epoch: number): void {
    try {
      this.o.events.claimed?.(name, epoch);
    } catch (err) {
      this.o.logger.error('registry event handler failed', { name, error: describeError(err) });
    }
  }

  /** Log a refused counter (rate-limited, shared with the epoch book and quorum grants). */
  private refused(from: string, what: string, subject: string, value: number, verdict: CounterVerdict | string): void {
    this.drops.refused(from, what, subject, value, verdict);
  }

  /** Our own active claim on name, if any. */
  ownClaim(name: string): Claim | undefined {
    return this.state.claimOf(this.o.self.name, this.o.self.inc, name);
  }

  // ---- membership --------------------------------------------------------------

  /**
   * A member came up (or reconnected): push it everything we own, then 'synced'. key:
   * the Ed25519 public key its incarnation proved in the handshake; relayed entries of
   * this member are checked against it.
   */
  nodeUp(name: string, inc: string, key: Uint8Array): void {
    const previous = this.members.get(name);
    if (previous !== undefined && previous !== inc) this.recompute(this.state.dropOwner(name, previous));
    for (const o of this.state.ownerIds()) {
      if (o.owner === name && o.inc !== inc) this.recompute(this.state.dropOwner(o.owner, o.inc));
    }
    this.members.set(name, inc);
    this.memberKeys.set(name, VerifyKey.fromRaw(key));
    this.synced.delete(name);
    this.activity();
    this.pushAllOwnTo(name);
  }

  /** The connection to a member was replaced without it going down: push again. */
  relinked(name: string): void {
    if (!this.members.has(name)) return;
    this.activity();
    this.pushAllOwnTo(name);
  }

  /** A member went down: its claims go. */
  nodeDown(name: string, inc: string): void {
    if (this.members.get(name) === inc) {
      this.members.delete(name);
      this.memberKeys.delete(name);
    }
    this.synced.delete(name);
    this.acked.delete(name);
    this.activity();
    this.recompute(this.state.dropOwner(name, inc));
    this.notifySync();
  }

  private pushAllOwnTo(member: string): void {
    const { name: self, inc } = this.o.self;
    const h = this.hlc.peek();
    // No digest here: the member's own join push and the next anti-entropy round cover
    // the rest, and a digest from a member that has applied nothing yet would only make
    // us send everything twice.
    // A large registry goes out a few chunks per turn of the event loop, so heartbeats
    // and other members are not held up while a newcomer is fed.
    const chunks: RegistryMessage[] = this.state.deltaSince(self, inc, 0, this.maxEntries).map((d) => ({ k: 'delta', d, h }));
    chunks.push(...(this.o.epochs?.joinMessages() ?? []));
    const inc0 = this.members.get(member);
    const sendFrom = (i: number): void => {
      if (this.stopped || this.members.get(member) !== inc0) return;
      const end = Math.min(chunks.length, i + JOIN_CHUNKS_PER_TURN);
      for (let j = i; j < end; j++) this.send(member, chunks[j]!);
      if (end < chunks.length) {
        this.o.clock.setTimeout(() => sendFrom(end), 0);
        return;
      }
      this.send(member, { k: 'synced', h: this.hlc.peek() });
    };
    sendFrom(0);
  }

  // ---- incoming ----------------------------------------------------------------

  /** A replication message from a connected member, parsed by the router (router.ts), in link order. */
  receive(from: string, msg: ReplicationMessage): void {
    this.hlc.observe(msg.h);
    switch (msg.k) {
      case 'delta':
        this.onDelta(from, msg.d);
        return;
      case 'digest':
        this.onDigest(from, msg.owners, msg.reply);
        return;
      case 'synced':
        if (this.members.has(from)) this.synced.add(from);
        this.notifySync();
        return;
    }
  }

  private accepts(owner: string, inc: string): boolean {
    return owner !== this.o.self.name && this.members.get(owner) === inc;
  }

  /** The first counter of d the bound rule refuses, if any (the whole delta is then dropped). */
  private refusedIn(from: string, d: Delta): { what: string; subject: string; value: number; verdict: CounterVerdict } | undefined {
    const known = this.state.ownerDigest(d.owner, d.inc)?.version ?? 0;
    // The owner speaks for its own version (no step bound, the ceiling still holds);
    // news relayed by another member may not jump far above what we hold.
    const direct = from === d.owner;
    for (const [what, value] of [['base', d.base], ['version', d.version], ['floor', d.floor]] as const) {
      const verdict = judgeCounter(value, known, !direct);
      if (verdict !== 'ok') return { what: `delta ${what}`, subject: d.owner, value, verdict };
    }
    for (const e of d.entries) {
      if (!isStamp(e.stamp)) return { what: 'entry stamp', subject: e.name, value: Number.NaN, verdict: 'invalid' };
      const v = judgeCounter(e.version, known, !direct);
      if (v !== 'ok') return { what: 'entry version', subject: e.name, value: e.version, verdict: v };
      if (e.epoch === undefined) continue;
      const ve = judgeCounter(e.epoch, this.epochOf(e.name));
      if (ve !== 'ok') return { what: 'entry epoch', subject: e.name, value: e.epoch, verdict: ve };
    }
    return undefined;
  }

  private onDelta(from: string, d: Delta): void {
    if (!this.accepts(d.owner, d.inc)) return;
    const bad = this.refusedIn(from, d);
    if (bad) return this.refused(from, bad.what, bad.subject, bad.value, bad.verdict);
    // Straight from its owner, the authenticated link vouches for the delta; relayed by
    // anyone else, each entry must carry the owner's signature, and only entries count.
    const direct = from === d.owner;
    if (!direct && !this.signedByOwner(d)) {
      return this.drops.dropped(`dropped a delta of ${d.owner}'s entries relayed by ${from}: an entry is not signed by ${d.owner}'s key (forged?)`, { peer: from, owner: d.owner, verdict: 'unsigned' });
    }
    for (const e of d.entries) if (e.epoch) this.observeEpoch(e.name, e.epoch, from, true);
    for (const e of d.entries) if (e.epoch) this.consumeGrant(e.name, e.epoch);
    const changed = direct ? this.state.merge(d) : this.state.mergeRelayed(d);
    if (changed.length === 0) return;
    this.activity();
    this.recompute(changed);
    // News straight from its owner reached every member the same way; news we learned
    // second-hand (an owner's push that was lost on the way) is forwarded onwards.
    if (from === d.owner) return;
    const h = this.hlc.peek();
    for (const to of this.pick(this.fanout, [from, d.owner])) this.send(to, { k: 'delta', d, h });
  }

  /** True if every entry of d new to us carries a valid signature by the key d.owner proved to us. */
  private signedByOwner(d: Delta): boolean {
    const key = this.memberKeys.get(d.owner);
    if (!key) return false;
    for (const e of d.entries) {
      // An entry we hold at this version or later changes nothing: no need to pay for
      // its check (so replaying genuine entries costs a member's victim next to nothing).
      if ((this.state.entryVersion(d.owner, d.inc, e.name) ?? 0) >= e.version) continue;
      if (!key.verify(entrySignedBytes(d.owner, d.inc, e), e.sig)) return false;
    }
    return true;
  }

  private onDigest(from: string, theirs: OwnerDigest[], isReply: boolean): void {
    const known = new Map<string, OwnerDigest>();
    for (const od of theirs) {
      const verdict = judgeCounter(od.version, 0, false) === 'ok' ? judgeCounter(od.floor, 0, false) : 'invalid';
      if (verdict !== 'ok') {
        this.refused(from, 'digest version', od.owner, od.version, verdict);
        continue;
      }
      known.set(`${od.owner}/${od.inc}`, od);
      if (od.owner === this.o.self.name && od.inc === this.o.self.inc) this.acked.set(from, od.version);
    }
    const h = this.hlc.peek();
    let theyHaveMore = false;
    for (const mine of this.state.digest()) {
      const key = `${mine.owner}/${mine.inc}`;
      const their = known.get(key);
      known.delete(key);
      const theirVersion = their?.version ?? 0;
      if (mine.version > theirVersion) {
        this.activity();
        for (const d of this.state.deltaSince(mine.owner, mine.inc, theirVersion, this.maxEntries)) this.send(from, { k: 'delta', d, h });
      } else if (their && theirVersion > mine.version && this.accepts(mine.owner, mine.inc)) {
        theyHaveMore = true;
      }
    }
    for (const od of known.values()) if (this.accepts(od.owner, od.inc) && od.version > 0) theyHaveMore = true;
    if (theyHaveMore) this.activity();
    if (theyHaveMore && !isReply) this.send(from, { k: 'digest', owners: this.state.digest(), reply: true, h });
    this.collectOwn();
  }

  // ---- periodic ----------------------------------------------------------------

  private schedule(): void {
    if (this.stopped) return;
    const delay = antiEntropyDelayMs(this.interval, this.quietRounds, this.o.random.float());
    this.nextRoundAt = this.o.clock.now() + delay;
    this.timer = this.o.clock.setTimeout(() => this.tick(), delay);
  }

  /** Something happened in the registry: rounds go at the interval again, the next one within an interval. */
  private activity(): void {
    this.active = true;
    this.quietRounds = 0;
    if (this.stopped || this.timer === undefined || this.nextRoundAt - this.o.clock.now() <= 1.5 * this.interval) return;
    this.o.clock.clearTimeout(this.timer);
    this.schedule();
  }

  private tick(): void {
    try {
      const [to] = this.pick(1, []);
      if (to) {
        this.send(to, { k: 'digest', owners: this.state.digest(), reply: false, h: this.hlc.peek() });
        const epochs = this.o.epochs?.nextChunk();
        if (epochs) this.send(to, epochs);
      }
      this.collectOwn();
      this.o.epochs?.prune();
    } catch (err) {
      this.o.logger.warn('registry anti-entropy failed', { error: describeError(err) });
    }
    this.quietRounds = this.active ? 0 : this.quietRounds + 1;
    this.active = false;
    this.schedule();
  }

  /** Our tombstones every connected member has seen can go. */
  private collectOwn(): void {
    const floor = this.ownFloor();
    const { name, inc } = this.o.self;
    const mine = this.state.ownerDigest(name, inc);
    if (mine && floor > mine.floor) this.state.collect({ owner: name, inc }, floor);
  }

  private ownFloor(): number {
    const mine = this.state.ownerDigest(this.o.self.name, this.o.self.inc);
    if (!mine) return 0;
    let floor = mine.version;
    for (const m of this.members.keys()) floor = Math.min(floor, this.acked.get(m) ?? 0);
    return Math.max(floor, mine.floor);
  }

  // ---- helpers -----------------------------------------------------------------

  /**
   * Our own change goes to every member directly: in a full mesh that is one hop and
   * N-1 messages, and members only accept an owner's entries while connected to it.
   */
  private pushOwn(d: Delta): void {
    const h = this.hlc.peek();
    for (const to of this.members.keys()) this.send(to, { k: 'delta', d, h });
  }

  /** Up to n random members, excluding some (a partial Fisher-Yates shuffle). */
  /** Send one of our own registry messages; one that cannot go (a bug, or a map grown past a frame) is logged and dropped, never thrown into a timer. */
  private send(to: string, msg: RegistryMessage): boolean {
    try {
      return this.o.port.send(to, msg);
    } catch (err) {
      this.o.logger.error(`cannot send a registry ${msg.k} message to ${to}: ${describeError(err)}`, { peer: to });
      return false;
    }
  }

  private pick(n: number, exclude: string[]): string[] {
    const pool = [...this.members.keys()].filter((m) => !exclude.includes(m));
    const k = Math.min(n, pool.length);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.o.random.float() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, k);
  }

  private notifySync(): void {
    for (const w of [...this.syncWaiters]) w();
  }

  /** Compare holders of these names with what we reported; emit the differences. */
  private recompute(names: Iterable<string>): void {
    const { name: self, inc } = this.o.self;
    for (const name of new Set(names)) {
      const now = this.state.winner(name);
      const before = this.holders.get(name);
      if (claimKey(now) === claimKey(before)) continue;
      if (now) this.holders.set(name, now);
      else this.holders.delete(name);
      try {
        if (!now) {
          this.o.events.freed(name, before!);
          continue;
        }
        const wasMine = before !== undefined && before.owner === self && before.incarnation === inc;
        if (wasMine && !(now.owner === self && now.incarnation === inc)) {
          const ours = this.state.claimOf(self, inc, name);
          if (ours && compareClaims(now, ours) < 0) this.o.events.lost(name, now);
        }
        this.o.events.registered(now);
      } catch (err) {
        this.o.logger.error('registry event handler failed', { name, error: describeError(err) });
      }
    }
  }
}
