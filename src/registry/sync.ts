// Registry sync: keeps this node's RegistryState converged with the cluster's.
// - Dissemination: the owner pushes its change to every member (one hop in the full
//   mesh); a member that learns news second-hand forwards it to `fanout` random others
//   (never back to the sender or the owner).
// - Anti-entropy: every interval, a digest goes to one random member, who answers
//   with what the sender lacks (and asks, once, for what it lacks itself).
// - Join: when a member comes up, each side pushes all of its own entries, then a
//   'synced' marker (which relies on the link keeping order, as TCP does); when a member goes down, its entries go, and entries of owners
//   that are not up in our view are never accepted from third parties.
// - Names are held by the first claim in the registry's order (highest fencing epoch,
//   then earliest stamp); changes of holder become events.
// - Fencing epochs: the highest epoch seen per name outlives its holder's claim and is
//   shared on join (all of it) and with every digest (a rotating chunk), so the next
//   tenure's epoch is always higher. The map is capped (maxEpochNames; names in use —
//   held, or with candidates — are always admitted) and pruned: a name nobody holds or
//   stands for is forgotten epochPruneAfterMs after its epoch last rose or it was last
//   in use, and a forgotten epoch is not taken back from a member that still sends it.
//   Epochs travel in chunks of EPOCHS_PER_MESSAGE, far below the frame limit.
// - Quorum mode: before a tenure, the claimant collects grants from a quorum. A member
//   grants (name, epoch) only above every epoch it has seen, while no live member holds
//   the name and no other live member holds an unexpired grant for it.
// - Bounds: every epoch and version from a member passes judgeCounter (bounds.ts)
//   before it is adopted; a refused one is dropped (with its whole delta) and logged at
//   most once per DROP_LOG_INTERVAL_MS, never grounds to disconnect or to grant.
// - Signatures: every entry we write is signed with our incarnation's key. A delta from
//   its owner is vouched for by the authenticated link; a delta relayed by another
//   member counts only if each entry new to us carries the owner's signature under the
//   key the owner proved to us (nodeUp), and then only its entries count
//   (RegistryState.mergeRelayed): a relayer cannot write, evict or hide an owner's entries.
// - Claim confirmation (cfm/cfr) is registry/claims.ts's: receive() hands those
//   messages over in link order, after every delta that came before them.
// No I/O here: messages go out through the RegistryPort, time through the Clock.
import { describeError } from '../errors.js';
import { cleanText } from '../util/untrusted.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Random } from '../util/random.js';
import { judgeCounter } from './bounds.js';
import type { CounterVerdict } from './bounds.js';
import { VerifyKey } from '../util/signing.js';
import { entrySignedBytes } from './entry-signature.js';
import type { EntrySigner } from './entry-signature.js';
import { HybridClock, isStamp } from './hlc.js';
import { MAX_DELTA_ENTRIES, parseRegistryMessage } from './messages.js';
import type { ClaimMessage, RegistryMessage } from './messages.js';
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
  /** A message for a name we hold; reply is set for calls. */
  message(name: string, body: unknown, from: string, reply: ((ok: boolean, body: unknown) => void) | undefined): void;
  /** The reply to one of our calls. */
  reply(id: number, ok: boolean, body: unknown): void;
  /** The highest fencing epoch seen for name rose (persist it to survive a whole-cluster restart). */
  epoch?(name: string, epoch: number): void;
  /** Epochs of names nobody uses were forgotten (persist the smaller map). */
  epochsPruned?(): void;
  /** A claim confirm request or answer from a member (registry/claims.ts handles it). */
  claims?(from: string, msg: ClaimMessage): void;
}

/** The outcome of asking for a quorum. */
export interface QuorumResult {
  /** Members that granted, this node included. */
  granted: string[];
  /** The highest epoch any answer reported (to retry above it). */
  highestEpoch: number;
}

/** How long a grant keeps others out when its claimant neither claims nor releases: 5 s. */
export const GRANT_TTL_MS = 5000;

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
  /**
   * Resolves true once the epochs seen so far are durably saved (a state directory);
   * a quorum grant is answered only then, and refused if the save failed. Default: none
   * (grants are answered at once).
   */
  persist?: () => Promise<boolean>;
  /** Most names in the fencing epoch map (names in use are always admitted); default DEFAULT_MAX_EPOCH_NAMES. */
  maxEpochNames?: number;
  /** Forget the epoch of a name nobody holds or stands for after this long; default DEFAULT_EPOCH_PRUNE_AFTER_MS. */
  epochPruneAfterMs?: number;
  /** Whether name is in use beyond a holder (it has candidates); keeps its epoch from pruning and the cap. Default: never. */
  epochInUse?: (name: string) => boolean;
  /** Whether this node votes on name (it stands as a candidate); a non-voter refuses every grant. Default: always. */
  mayVote?: (name: string) => boolean;
}


/** Refused counters are logged at most once per this interval (with a count of the rest): 10 s. */
export const DROP_LOG_INTERVAL_MS = 10_000;

/** Most names in one 'epochs' message: 500 (at 255 characters of up to 3 UTF-8 bytes each, under 400 KB, far below the 1 MiB frame). */
export const EPOCHS_PER_MESSAGE = 500;
/** Most names in the fencing epoch map, beyond names in use: 10,000. */
export const DEFAULT_MAX_EPOCH_NAMES = 10_000;
/** A name nobody holds or stands for is forgotten this long after its last use or rise: 1 h. */
export const DEFAULT_EPOCH_PRUNE_AFTER_MS = 3_600_000;

/** Delta chunks sent to a joining member per turn of the event loop. */
const JOIN_CHUNKS_PER_TURN = 4;

/** Members each registry change is pushed and forwarded to: 4. */
export const DEFAULT_REGISTRY_FANOUT = 4;
/** Interval of registry anti-entropy rounds: 1 s. */
export const DEFAULT_ANTI_ENTROPY_INTERVAL_MS = 1000;

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
  private readonly epochs = new Map<string, number>();
  private readonly grants = new Map<string, { to: string; epoch: number; at: number }>();
  private readonly quorumRequests = new Map<number, { answer: (from: string, ok: boolean, epoch: number) => void; gone: (member: string) => void }>();
  private nextRequestId = 1;
  private timer: TimerHandle | undefined;
  private readonly fanout: number;
  private readonly interval: number;
  private readonly maxEntries: number;
  private stopped = false;
  private dropLog = { at: -Infinity, suppressed: 0 };
  /** When each name's epoch last rose or was last seen in use (for pruning). */
  private readonly epochUsedAt = new Map<string, number>();
  /** Names forgotten by pruning, with the epoch and the time: not taken back at or below that epoch. */
  private readonly pruned = new Map<string, { epoch: number; at: number }>();
  private nextPruneAt = 0;
  /** Where the next anti-entropy chunk of epochs starts. */
  private epochCursor = 0;
  private readonly maxEpochNames: number;
  private readonly pruneAfterMs: number;

  constructor(private readonly o: RegistrySyncOptions) {
    this.hlc = new HybridClock(o.clock);
    this.fanout = o.fanout ?? DEFAULT_REGISTRY_FANOUT;
    this.interval = o.antiEntropyIntervalMs ?? DEFAULT_ANTI_ENTROPY_INTERVAL_MS;
    this.maxEntries = o.maxDeltaEntries ?? MAX_DELTA_ENTRIES;
    this.maxEpochNames = o.maxEpochNames ?? DEFAULT_MAX_EPOCH_NAMES;
    this.pruneAfterMs = o.epochPruneAfterMs ?? DEFAULT_EPOCH_PRUNE_AFTER_MS;
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
    this.pushOwn({ owner: self, inc, base: entry.version - 1, version: entry.version, floor: this.ownFloor(), entries: [entry] });
    this.recompute([name]);
    return true;
  }

  /** Sign one of our own entries in place (the state holds the same object, and relays the signature with it). */
  private sign(entry: Entry): Entry {
    entry.sig = this.o.signer.sign(entrySignedBytes(this.o.self.name, this.o.self.inc, entry));
    return entry;
  }

  /** The highest fencing epoch seen for name (0 if none). */
  epochOf(name: string): number {
    return this.epochs.get(name) ?? 0;
  }

  /**
   * Adopt epoch as name's highest if the bound rule believes it and the map has room;
   * false (and logged) if refused. `claimed`: the epoch comes with a claim (a delta entry,
   * or this node's own tenure or grant), so the name is in use.
   */
  private observeEpoch(name: string, epoch: number, from = this.o.self.name, claimed = from === this.o.self.name): boolean {
    const verdict = judgeCounter(epoch, this.epochOf(name));
    if (verdict !== 'ok') {
      this.refused(from, 'epoch', name, epoch, verdict);
      return false;
    }
    const had = this.epochs.get(name);
    if (had === undefined) {
      const gone = this.pruned.get(name);
      if (gone && epoch <= gone.epoch && !claimed && !this.epochInUse(name)) return true;
      if (this.epochs.size >= this.maxEpochNames && !claimed && !this.epochInUse(name)) {
        this.refused(from, 'epoch', name, epoch, `the map is full (${this.maxEpochNames} names; new names nobody claims are dropped)`);
        return false;
      }
    }
    if (had !== undefined && epoch <= had) return true;
    this.epochs.set(name, epoch);
    this.epochUsedAt.set(name, this.o.clock.now());
    this.pruned.delete(name);
    try {
      this.o.events.epoch?.(name, epoch);
    } catch (err) {
      this.o.logger.error('registry epoch handler failed', { name, error: describeError(err) });
    }
    return true;
  }

  /** Log a refused counter, at most once per DROP_LOG_INTERVAL_MS (the rest are counted). */
  private refused(from: string, what: string, subject: string, value: number, verdict: CounterVerdict | string): void {
    const shown = Number.isSafeInteger(value) || Number.isNaN(value) ? String(value) : value.toExponential(3);
    this.dropped(from, `dropped ${what} ${shown} for "${cleanText(subject, 64)}" from ${from}: ${verdict}`, { peer: from, verdict });
  }

  /** Log something dropped from a member, at most once per DROP_LOG_INTERVAL_MS (the rest are counted). */
  private dropped(from: string, text: string, meta: Record<string, unknown>): void {
    const now = this.o.clock.now();
    if (now - this.dropLog.at < DROP_LOG_INTERVAL_MS) {
      this.dropLog.suppressed++;
      return;
    }
    const more = this.dropLog.suppressed;
    this.dropLog = { at: now, suppressed: 0 };
    this.o.logger.warn(`${text}${more ? ` (and ${more} more dropped since the last report)` : ''}`, meta);
  }

  /** Raise name's highest epoch to epoch before a tenure claims it (so it can be saved first). False if the bound rule refuses it. */
  reserveEpoch(name: string, epoch: number): boolean {
    return this.observeEpoch(name, epoch);
  }

  /** Seed the highest epochs known from before this boot (a state file). */
  seedEpochs(epochs: Iterable<[string, number]>): void {
    const now = this.o.clock.now();
    for (const [name, epoch] of epochs) {
      if (judgeCounter(epoch, 0, false) !== 'ok' || epoch <= (this.epochs.get(name) ?? 0)) continue;
      if (!this.epochs.has(name) && this.epochs.size >= this.maxEpochNames) continue;
      this.epochs.set(name, epoch);
      this.epochUsedAt.set(name, now);
    }
  }

  /** Every name's highest fencing epoch seen. */
  allEpochs(): [string, number][] {
    return [...this.epochs];
  }

  /** Whether name is in use: it has a holder, or candidates (epochInUse). */
  private epochInUse(name: string): boolean {
    return this.state.winner(name) !== undefined || (this.o.epochInUse?.(name) ?? false);
  }

  /** The whole epoch map as 'epochs' messages of at most EPOCHS_PER_MESSAGE names. */
  private epochsMessages(): RegistryMessage[] {
    const all = [...this.epochs];
    const out: RegistryMessage[] = [];
    for (let i = 0; i < all.length; i += EPOCHS_PER_MESSAGE) out.push({ k: 'epochs', e: all.slice(i, i + EPOCHS_PER_MESSAGE) });
    return out;
  }

  /** The next chunk of the epoch map for an anti-entropy round (rotating, so every name goes out within size/EPOCHS_PER_MESSAGE rounds). */
  private nextEpochsChunk(): RegistryMessage | undefined {
    if (this.epochs.size === 0) return undefined;
    const all = [...this.epochs];
    if (this.epochCursor >= all.length) this.epochCursor = 0;
    const e = all.slice(this.epochCursor, this.epochCursor + EPOCHS_PER_MESSAGE);
    this.epochCursor += EPOCHS_PER_MESSAGE;
    return { k: 'epochs', e };
  }

  /** Forget the epochs of names nobody has used for pruneAfterMs (checked every pruneAfterMs/10, at most once a second). */
  private pruneEpochs(): void {
    const now = this.o.clock.now();
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + Math.max(1000, this.pruneAfterMs / 10);
    for (const [name, at] of this.pruned) if (now - at.at > this.pruneAfterMs) this.pruned.delete(name);
    let forgot = 0;
    for (const [name, epoch] of this.epochs) {
      if (this.epochInUse(name)) {
        this.epochUsedAt.set(name, now);
        continue;
      }
      if (now - (this.epochUsedAt.get(name) ?? now) <= this.pruneAfterMs) continue;
      this.epochs.delete(name);
      this.epochUsedAt.delete(name);
      this.pruned.set(name, { epoch, at: now });
      forgot++;
    }
    // The tombstones are bounded too: the oldest go first.
    for (const name of this.pruned.keys()) {
      if (this.pruned.size <= this.maxEpochNames) break;
      this.pruned.delete(name);
    }
    if (forgot > 0) {
      this.o.logger.info(`forgot the fencing epochs of ${forgot} names nobody has held or stood for in ${Math.round(this.pruneAfterMs / 1000)} s`);
      try {
        this.o.events.epochsPruned?.();
      } catch (err) {
        this.o.logger.error('registry epoch handler failed', { error: describeError(err) });
      }
    }
  }

  /**
   * Ask the connected members (only the `voters`, when given) for a grant of (name, epoch). Resolves as soon as
   * `needed` grants are in (this node's own included, decided by the same rule), as
   * soon as they can no longer come (refusals, members going down), or after timeoutMs.
   */
  requestQuorum(name: string, epoch: number, needed: number, timeoutMs: number, voters?: readonly string[]): Promise<QuorumResult> {
    const self = this.o.self.name;
    const granted: string[] = [];
    let highest = this.epochOf(name);
    if (this.mayGrant(self, name, epoch)) {
      this.grant(self, name, epoch);
      granted.push(self);
    }
    const waiting = new Set(voters ? voters.filter((v) => v !== self && this.members.has(v)) : this.members.keys());
    const id = this.nextRequestId++;
    return new Promise<QuorumResult>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.quorumRequests.delete(id);
        this.o.clock.clearTimeout(timer);
        resolve({ granted, highestEpoch: highest });
      };
      const settleIfDecided = (): void => {
        if (granted.length >= needed || granted.length + waiting.size < needed || waiting.size === 0) finish();
      };
      const timer = this.o.clock.setTimeout(finish, timeoutMs);
      this.quorumRequests.set(id, {
        answer: (from, ok, theirEpoch) => {
          if (!waiting.delete(from)) return;
          // An answer whose epoch the bound rule refuses counts as a refusal, not a grant.
          if (!this.observeEpoch(name, theirEpoch, from)) ok = false;
          else highest = Math.max(highest, theirEpoch);
          if (ok) granted.push(from);
          settleIfDecided();
        },
        gone: (member) => {
          if (waiting.delete(member)) settleIfDecided();
        },
      });
      for (const m of [...waiting]) if (!this.send(m, { k: 'qreq', id, name, epoch })) waiting.delete(m);
      settleIfDecided();
    });
  }

  /** Give back grants we asked for and will not use. */
  releaseQuorum(name: string, epoch: number, from: string[]): void {
    for (const m of from) {
      if (m === this.o.self.name) this.dropGrant(m, name, epoch);
      else this.send(m, { k: 'qrel', name, epoch });
    }
  }

  private mayGrant(requester: string, name: string, epoch: number): boolean {
    const holder = this.state.winner(name);
    if (holder && holder.owner !== requester) return false;
    const g = this.grants.get(name);
    const live = (n: string): boolean => n === this.o.self.name || this.members.has(n);
    if (g && g.to !== requester && live(g.to) && this.o.clock.now() - g.at < GRANT_TTL_MS) return false;
    if (g && g.to === requester && g.epoch === epoch) return true;
    return epoch > this.epochOf(name);
  }

  private grant(requester: string, name: string, epoch: number): void {
    this.grants.set(name, { to: requester, epoch, at: this.o.clock.now() });
    this.observeEpoch(name, epoch);
  }

  /** A tenure with this epoch (or a later one) was claimed: the grant for it has done its work. */
  private consumeGrant(name: string, epoch: number): void {
    const g = this.grants.get(name);
    if (g && g.epoch <= epoch) this.grants.delete(name);
  }

  private dropGrant(requester: string, name: string, epoch: number): void {
    const g = this.grants.get(name);
    if (g && g.to === requester && g.epoch === epoch) this.grants.delete(name);
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
    this.pushAllOwnTo(name);
  }

  /** The connection to a member was replaced without it going down: push again. */
  relinked(name: string): void {
    if (this.members.has(name)) this.pushAllOwnTo(name);
  }

  /** A member went down: its claims go. */
  nodeDown(name: string, inc: string): void {
    if (this.members.get(name) === inc) {
      this.members.delete(name);
      this.memberKeys.delete(name);
    }
    this.synced.delete(name);
    this.acked.delete(name);
    for (const [n, g] of this.grants) if (g.to === name) this.grants.delete(n);
    for (const r of [...this.quorumRequests.values()]) r.gone(name);
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
    chunks.push(...this.epochsMessages());
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

  /** Handle a registry message from a connected member. Throws ERR_PROTOCOL on a malformed one. */
  receive(from: string, raw: unknown): void {
    const msg = parseRegistryMessage(raw);
    if ('h' in msg) this.hlc.observe(msg.h);
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
      case 'msg': {
        const holder = this.state.winner(msg.name);
        const mine = holder && holder.owner === this.o.self.name && holder.incarnation === this.o.self.inc;
        const id = msg.id;
        // A reply that cannot be sent throws to the caller of reply() (messaging), which answers with the error instead.
        const reply = id === undefined ? undefined : (ok: boolean, body: unknown): void => void this.o.port.send(from, { k: 'reply', id, ok, body });
        if (!mine) {
          reply?.(false, { code: 'ERR_NOT_HOLDER', message: `${this.o.self.name} does not hold ${msg.name}` });
          return;
        }
        this.o.events.message(msg.name, msg.body, from, reply);
        return;
      }
      case 'reply':
        this.o.events.reply(msg.id, msg.ok, msg.body);
        return;
      case 'epochs':
        for (const [name, epoch] of msg.e) this.observeEpoch(name, epoch, from);
        return;
      case 'qreq': {
        if (!this.members.has(from)) return;
        const verdict = judgeCounter(msg.epoch, this.epochOf(msg.name));
        if (verdict !== 'ok') this.refused(from, 'quorum request epoch', msg.name, msg.epoch, verdict);
        const ok = verdict === 'ok' && (this.o.mayVote?.(msg.name) ?? true) && this.mayGrant(from, msg.name, msg.epoch);
        if (ok) this.grant(from, msg.name, msg.epoch);
        const persist = this.o.persist;
        if (!ok || !persist) {
          this.send(from, { k: 'qres', id: msg.id, ok, epoch: this.epochOf(msg.name) });
          return;
        }
        // A grant is given only once the epoch it raised is on disk: a member that
        // restarts must not grant the same epoch again.
        const { id, name, epoch } = msg;
        void persist().then((saved) => {
          if (!saved) this.dropGrant(from, name, epoch);
          if (!this.stopped) this.send(from, { k: 'qres', id, ok: saved, epoch: this.epochOf(name) });
        });
        return;
      }
      case 'qres':
        this.quorumRequests.get(msg.id)?.answer(from, msg.ok, msg.epoch);
        return;
      case 'qrel':
        this.dropGrant(from, msg.name, msg.epoch);
        return;
      case 'cfm':
      case 'cfr':
        // Handled after every message before it on this link (the claim's delta) was merged.
        if (this.members.has(from)) this.o.events.claims?.(from, msg);
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
      return this.dropped(from, `dropped a delta of ${d.owner}'s entries relayed by ${from}: an entry is not signed by ${d.owner}'s key (forged?)`, { peer: from, owner: d.owner, verdict: 'unsigned' });
    }
    for (const e of d.entries) if (e.epoch) this.observeEpoch(e.name, e.epoch, from, true);
    for (const e of d.entries) if (e.epoch) this.consumeGrant(e.name, e.epoch);
    const changed = direct ? this.state.merge(d) : this.state.mergeRelayed(d);
    if (changed.length === 0) return;
    this.recompute(changed);
    // News straight from its owner reached every member the same way; news we learned
    // second-hand (an owner's push that was lost on the way) is forwarded onwards.
    if (from === d.owner) return;
    const h = this.hlc.peek();
    for (const to of this.pick(this.fanout, [from, d.owner])) this.send(to, { k: 'delta', d, h });
  }

  /** True if every entry of d carries a valid signature by the key d.owner proved to us. */
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
        for (const d of this.state.deltaSince(mine.owner, mine.inc, theirVersion, this.maxEntries)) this.send(from, { k: 'delta', d, h });
      } else if (their && theirVersion > mine.version && this.accepts(mine.owner, mine.inc)) {
        theyHaveMore = true;
      }
    }
    for (const od of known.values()) if (this.accepts(od.owner, od.inc) && od.version > 0) theyHaveMore = true;
    if (theyHaveMore && !isReply) this.send(from, { k: 'digest', owners: this.state.digest(), reply: true, h });
    this.collectOwn();
  }

  // ---- periodic ----------------------------------------------------------------

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => this.tick(), this.interval / 2 + this.o.random.float() * this.interval);
  }

  private tick(): void {
    try {
      const [to] = this.pick(1, []);
      if (to) {
        this.send(to, { k: 'digest', owners: this.state.digest(), reply: false, h: this.hlc.peek() });
        const epochs = this.nextEpochsChunk();
        if (epochs) this.send(to, epochs);
      }
      this.collectOwn();
      this.pruneEpochs();
    } catch (err) {
      this.o.logger.warn('registry anti-entropy failed', { error: describeError(err) });
    }
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
