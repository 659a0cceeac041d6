// Epochs: the fencing-epoch book of one node — the highest epoch seen per name, agreed
// across the cluster so that every tenure's epoch is higher than every earlier one's.
// - The highest epoch seen per name outlives its holder's claim and is shared on join
//   (all of it, after our own deltas and before 'synced') and with every anti-entropy
//   digest (a rotating chunk), so the next tenure's epoch is always higher.
// - Bounds: every epoch from a member passes judgeCounter (registry/bounds.ts) before
//   it is adopted; a refused one is dropped and logged through the shared DropLog, never
//   grounds to disconnect.
// - Cap and prune: at most maxEpochNames names (names in use — held, or with candidates
//   — are always admitted). A name nobody holds or stands for is forgotten
//   epochPruneAfterMs after its epoch last rose or it was last in use, and a forgotten
//   epoch is not taken back from a member that still sends it.
// - Epochs travel in chunks of EPOCHS_PER_MESSAGE names, far below the frame limit.
// - Persistence: each rise and each prune is reported (events.epoch / epochsPruned), so
//   the node's EpochSaver keeps the state file current.
// Direction: the registry needs the book (a claim's epoch is judged against the highest
// seen; a failover claim takes highest seen + 1) but never imports the singleton layer:
// it declares the EpochPort it needs (registry/sync.ts), which EpochBook implements and
// the composition (src/replica.ts) plugs in. The book reads the registry only through
// the holder() function it is given.
// No I/O and no timers: pruning runs on the registry's anti-entropy tick.
import { describeError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { judgeCounter } from '../registry/bounds.js';
import type { DropLog } from '../registry/drop-log.js';
import type { EpochsMessage, RegistryMessage } from '../registry/messages.js';
import type { Claim } from '../registry/registry.js';
import type { EpochPort } from '../registry/sync.js';

/** Most names in one 'epochs' message: 500 (at 255 characters of up to 3 UTF-8 bytes each, under 400 KB, far below the 1 MiB frame). */
export const EPOCHS_PER_MESSAGE = 500;
/** Most names in the fencing epoch map, beyond names in use: 10,000. */
export const DEFAULT_MAX_EPOCH_NAMES = 10_000;
/** A name nobody holds or stands for is forgotten this long after its last use or rise: 1 h. */
export const DEFAULT_EPOCH_PRUNE_AFTER_MS = 3_600_000;

/** What the epoch book reports. */
export interface EpochEvents {
  /** The highest fencing epoch seen for name rose (persist it to survive a whole-cluster restart). */
  epoch?(name: string, epoch: number): void;
  /** Epochs of names nobody uses were forgotten (persist the smaller map). */
  epochsPruned?(): void;
}

/** Settings of the epoch book. */
export interface EpochBookOptions {
  /** This node's name (the `from` of its own epochs). */
  self: string;
  clock: Clock;
  logger: Logger;
  /** The shared log of refused counters. */
  drops: DropLog;
  /** The holder of name in this replica, if any (a held name is in use). */
  holder: (name: string) => Claim | undefined;
  events?: EpochEvents;
  /** Most names in the map (names in use are always admitted); default DEFAULT_MAX_EPOCH_NAMES. */
  maxEpochNames?: number;
  /** Forget the epoch of a name nobody holds or stands for after this long; default DEFAULT_EPOCH_PRUNE_AFTER_MS. */
  epochPruneAfterMs?: number;
  /** Whether name is in use beyond a holder (it has candidates); keeps its epoch from pruning and the cap. Default: never. */
  epochInUse?: (name: string) => boolean;
}

/** One node's book of the highest fencing epoch seen per name. */
export class EpochBook implements EpochPort {
  private readonly epochs = new Map<string, number>();
  /** When each name's epoch last rose or was last seen in use (for pruning). */
  private readonly epochUsedAt = new Map<string, number>();
  /** Names forgotten by pruning, with the epoch and the time: not taken back at or below that epoch. */
  private readonly pruned = new Map<string, { epoch: number; at: number }>();
  private nextPruneAt = 0;
  /** Where the next anti-entropy chunk of epochs starts. */
  private epochCursor = 0;
  private readonly maxEpochNames: number;
  private readonly pruneAfterMs: number;

  constructor(private readonly o: EpochBookOptions) {
    this.maxEpochNames = o.maxEpochNames ?? DEFAULT_MAX_EPOCH_NAMES;
    this.pruneAfterMs = o.epochPruneAfterMs ?? DEFAULT_EPOCH_PRUNE_AFTER_MS;
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
  observe(name: string, epoch: number, from = this.o.self, claimed = from === this.o.self): boolean {
    const verdict = judgeCounter(epoch, this.epochOf(name));
    if (verdict !== 'ok') {
      this.o.drops.refused(from, 'epoch', name, epoch, verdict);
      return false;
    }
    const had = this.epochs.get(name);
    if (had === undefined) {
      const gone = this.pruned.get(name);
      if (gone && epoch <= gone.epoch && !claimed && !this.inUse(name)) return true;
      if (this.epochs.size >= this.maxEpochNames && !claimed && !this.inUse(name)) {
        this.o.drops.refused(from, 'epoch', name, epoch, `the map is full (${this.maxEpochNames} names; new names nobody claims are dropped)`);
        return false;
      }
    }
    if (had !== undefined && epoch <= had) return true;
    this.epochs.set(name, epoch);
    this.epochUsedAt.set(name, this.o.clock.now());
    this.pruned.delete(name);
    try {
      this.o.events?.epoch?.(name, epoch);
    } catch (err) {
      this.o.logger.error('registry epoch handler failed', { name, error: describeError(err) });
    }
    return true;
  }

  /** An 'epochs' message from a member: each epoch is judged and adopted on its own. */
  receive(from: string, msg: EpochsMessage): void {
    for (const [name, epoch] of msg.e) this.observe(name, epoch, from);
  }

  /** Raise name's highest epoch to epoch before a tenure claims it (so it can be saved first). False if the bound rule refuses it. */
  reserve(name: string, epoch: number): boolean {
    return this.observe(name, epoch);
  }

  /** Seed the highest epochs known from before this boot (a state file). */
  seed(epochs: Iterable<[string, number]>): void {
    const now = this.o.clock.now();
    for (const [name, epoch] of epochs) {
      if (judgeCounter(epoch, 0, false) !== 'ok' || epoch <= (this.epochs.get(name) ?? 0)) continue;
      if (!this.epochs.has(name) && this.epochs.size >= this.maxEpochNames) continue;
      this.epochs.set(name, epoch);
      this.epochUsedAt.set(name, now);
    }
  }

  /** Every name's highest fencing epoch seen. */
  all(): [string, number][] {
    return [...this.epochs];
  }

  /** Whether name is in use: it has a holder, or candidates (epochInUse). */
  private inUse(name: string): boolean {
    return this.o.holder(name) !== undefined || (this.o.epochInUse?.(name) ?? false);
  }

  /** The whole epoch map as 'epochs' messages of at most EPOCHS_PER_MESSAGE names. */
  joinMessages(): RegistryMessage[] {
    const all = [...this.epochs];
    const out: RegistryMessage[] = [];
    for (let i = 0; i < all.length; i += EPOCHS_PER_MESSAGE) out.push({ k: 'epochs', e: all.slice(i, i + EPOCHS_PER_MESSAGE) });
    return out;
  }

  /** The next chunk of the epoch map for an anti-entropy round (rotating, so every name goes out within size/EPOCHS_PER_MESSAGE rounds). */
  nextChunk(): RegistryMessage | undefined {
    if (this.epochs.size === 0) return undefined;
    const all = [...this.epochs];
    if (this.epochCursor >= all.length) this.epochCursor = 0;
    const e = all.slice(this.epochCursor, this.epochCursor + EPOCHS_PER_MESSAGE);
    this.epochCursor += EPOCHS_PER_MESSAGE;
    return { k: 'epochs', e };
  }

  /** Forget the epochs of names nobody has used for pruneAfterMs (checked every pruneAfterMs/10, at most once a second). */
  prune(): void {
    const now = this.o.clock.now();
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + Math.max(1000, this.pruneAfterMs / 10);
    for (const [name, at] of this.pruned) if (now - at.at > this.pruneAfterMs) this.pruned.delete(name);
    let forgot = 0;
    for (const [name, epoch] of this.epochs) {
      if (this.inUse(name)) {
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
        this.o.events?.epochsPruned?.();
      } catch (err) {
        this.o.logger.error('registry epoch handler failed', { error: describeError(err) });
      }
    }
  }
}
