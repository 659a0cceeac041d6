// Registry state: the replicated map name -> claim, as a state-based CRDT.
// Each owner (a node incarnation) is the only writer of its own entries; every change
// it makes bumps its version, and an entry carries the version of its last change.
// Replicas merge entry by entry, keeping the higher version (released beats active at
// the same version never happens: a release always bumps the version). So merging is
// commutative, associative and idempotent, in any order, with duplicates.
// The holder of a name is the first claim in one total order — highest fencing epoch
// (failover tenures; plain claims have epoch 0), then earliest HLC stamp, then node
// name, then incarnation — among the owners this replica holds, so every replica with
// the same entries names the same holder.
// Invariants: entries of an owner are only ever replaced by higher versions; an owner's
// version only grows; a tombstone (released entry) stays until its version is at or
// below the owner's floor (every connected member has seen it).
import type { Stamp } from './hlc.js';
import { compareStamps } from './hlc.js';

/** One owner's record for one name. */
export interface Entry {
  name: string;
  /** When the claim was made (HLC). */
  stamp: Stamp;
  /** The owner's version at this entry's last change. */
  version: number;
  /** True once unregistered: a tombstone. */
  released: boolean;
  /** Fencing epoch of a failover tenure; absent (0) for plain claims. */
  epoch?: number;
  /** The owner's Ed25519 signature of the entry (entry-signature.ts), so members can relay it. */
  sig?: Uint8Array;
}

/** A claim as the API shows it. */
export interface Claim {
  name: string;
  /** Owner node name. */
  owner: string;
  /** Owner incarnation. */
  incarnation: string;
  stamp: Stamp;
  version: number;
  /** Fencing epoch of a failover tenure; absent or 0 for plain claims. */
  epoch?: number;
}

/** What a replica knows of one owner: for digests and anti-entropy. */
export interface OwnerDigest {
  owner: string;
  inc: string;
  /** Every change up to this version has been applied. */
  version: number;
  /** Tombstones at or below this version have been collected. */
  floor: number;
}

/** A batch of an owner's entries: every change in (base, version] that is still the latest for its name. */
export interface Delta {
  owner: string;
  inc: string;
  /** Version the receiver must already have for this delta to close the gap. */
  base: number;
  /** The owner's version after these entries. */
  version: number;
  floor: number;
  entries: Entry[];
}

interface OwnerState {
  owner: string;
  inc: string;
  /** Contiguous version applied. */
  version: number;
  floor: number;
  entries: Map<string, Entry>;
  /** version -> name of the entry last changed at that version (an index for deltaSince). */
  byVersion: Map<number, string>;
}

function copyEntry(e: Entry): Entry {
  const copy: Entry = { name: e.name, stamp: e.stamp, version: e.version, released: e.released };
  if (e.epoch) copy.epoch = e.epoch;
  if (e.sig) copy.sig = e.sig;
  return copy;
}

/** Stable key of an owner incarnation. */
export function ownerKey(owner: string, inc: string): string {
  return `${owner}/${inc}`;
}

/** The deterministic total order on claims: highest epoch, then earliest stamp, then owner name, then incarnation. */
export function compareClaims(a: Claim, b: Claim): number {
  if ((a.epoch ?? 0) !== (b.epoch ?? 0)) return (b.epoch ?? 0) - (a.epoch ?? 0);
  const s = compareStamps(a.stamp, b.stamp);
  if (s !== 0) return s;
  if (a.owner !== b.owner) return a.owner < b.owner ? -1 : 1;
  return a.incarnation < b.incarnation ? -1 : a.incarnation > b.incarnation ? 1 : 0;
}

/** The replicated registry state of one node. */
export class RegistryState {
  private readonly owners = new Map<string, OwnerState>();
  /** name -> ownerKey -> active claim (an index over owners' active entries). */
  private readonly active = new Map<string, Map<string, Claim>>();

  /** The holder of name: the earliest active claim, if any. */
  winner(name: string): Claim | undefined {
    const claims = this.active.get(name);
    if (!claims) return undefined;
    let best: Claim | undefined;
    for (const c of claims.values()) if (!best || compareClaims(c, best) < 0) best = c;
    return best;
  }

  /** Every name that has a holder, with its holder. */
  holders(): Map<string, Claim> {
    const out = new Map<string, Claim>();
    for (const name of this.active.keys()) out.set(name, this.winner(name)!);
    return out;
  }

  /** Number of names with a holder. */
  get size(): number {
    return this.active.size;
  }

  /** The active claim an owner has on name, if any. */
  claimOf(owner: string, inc: string, name: string): Claim | undefined {
    return this.active.get(name)?.get(ownerKey(owner, inc));
  }

  /** The version of an owner's entry for name that this replica holds (active or tombstone), if any. */
  entryVersion(owner: string, inc: string, name: string): number | undefined {
    return this.owners.get(ownerKey(owner, inc))?.entries.get(name)?.version;
  }

  /** What this replica knows, owner by owner. */
  digest(): OwnerDigest[] {
    return [...this.owners.values()].map((o) => ({ owner: o.owner, inc: o.inc, version: o.version, floor: o.floor }));
  }

  /** The digest of one owner, if known. */
  ownerDigest(owner: string, inc: string): OwnerDigest | undefined {
    const o = this.owners.get(ownerKey(owner, inc));
    return o && { owner: o.owner, inc: o.inc, version: o.version, floor: o.floor };
  }

  private ownerState(owner: string, inc: string): OwnerState {
    const key = ownerKey(owner, inc);
    let o = this.owners.get(key);
    if (!o) {
      o = { owner, inc, version: 0, floor: 0, entries: new Map(), byVersion: new Map() };
      this.owners.set(key, o);
    }
    return o;
  }

  /** Record a change by the local owner: bumps its version. Returns the new entry. */
  write(owner: string, inc: string, name: string, stamp: Stamp, released: boolean, epoch = 0): Entry {
    const o = this.ownerState(owner, inc);
    o.version++;
    const entry: Entry = { name, stamp, version: o.version, released };
    if (epoch > 0) entry.epoch = epoch;
    this.put(o, entry);
    return entry;
  }

  /**
   * Merge a delta. Entries with a higher version than ours replace ours; the contiguous
   * version advances only when the delta starts at or below it. Returns the names whose
   * entries changed (empty when the delta held nothing new).
   */
  merge(delta: Delta): string[] {
    const o = this.ownerState(delta.owner, delta.inc);
    const changed: string[] = [];
    // The delta lists every entry still current in (base, version]: one of ours in that
    // range that it does not list was superseded or released and collected.
    // When the delta lists one entry per version in its range (a single change, the
    // common case), nothing in the range can be missing: skip the scan.
    const listed = new Set(delta.entries.map((e) => e.name));
    if (delta.version - delta.base > delta.entries.length) {
      for (const [name, mine] of o.entries) {
        if (mine.version > delta.base && mine.version <= delta.version && !listed.has(name)) {
          this.removeEntry(o, name);
          this.unindex(ownerKey(o.owner, o.inc), name);
          changed.push(name);
        }
      }
    }
    changed.push(...this.mergeEntries(o, delta.entries));
    if (delta.base <= o.version && delta.version > o.version) o.version = delta.version;
    if (delta.floor > o.floor) this.collect(o, Math.min(delta.floor, o.version));
    return changed;
  }

  /**
   * Merge a delta relayed by a member other than its owner, whose entries were each
   * checked against the owner's signature: only the entries count. What the delta says
   * about its range — that entries it does not list were superseded, the owner's
   * version, its floor — is the relayer's word, so it removes nothing, collects nothing,
   * and advances the owner's contiguous version only when the listed entries account
   * for every version in (base, version] (each is signed, so the range is proven).
   */
  mergeRelayed(delta: Delta): string[] {
    const o = this.ownerState(delta.owner, delta.inc);
    const changed = this.mergeEntries(o, delta.entries);
    const versions = new Set(delta.entries.map((e) => e.version));
    const proven = versions.size === delta.version - delta.base && [...versions].every((v) => v > delta.base && v <= delta.version);
    if (proven && delta.base <= o.version && delta.version > o.version) o.version = delta.version;
    return changed;
  }

  /** Put each entry newer than ours; returns the names that changed. */
  private mergeEntries(o: OwnerState, entries: readonly Entry[]): string[] {
    const changed: string[] = [];
    for (const e of entries) {
      const mine = o.entries.get(e.name);
      if (mine && mine.version >= e.version) continue;
      // Everything up to o.version is applied: a name we lack at or below it was released and collected.
      if (!mine && e.version <= o.version) continue;
      this.put(o, copyEntry(e));
      changed.push(e.name);
    }
    return changed;
  }

  /** Entries of an owner changed after version `since` (for a peer that has `since`). */
  deltaSince(owner: string, inc: string, since: number, maxEntries = Infinity): Delta[] {
    const o = this.owners.get(ownerKey(owner, inc));
    if (!o || o.version <= since) return [];
    // Only what we hold contiguously: entries above o.version arrived out of order, and a
    // delta claiming (since, o.version] must not carry them.
    let entries: Entry[];
    if (o.version - since < o.entries.size) {
      // A small gap: walk the versions in it through the index.
      entries = [];
      for (let v = since + 1; v <= o.version; v++) {
        const name = o.byVersion.get(v);
        const e = name === undefined ? undefined : o.entries.get(name);
        if (e && e.version === v) entries.push(e);
      }
    } else {
      entries = [...o.entries.values()].filter((e) => e.version > since && e.version <= o.version).sort((a, b) => a.version - b.version);
    }
    const out: Delta[] = [];
    // Chunks are cut in version order, so each chunk's base is the previous chunk's top.
    let base = since;
    for (let i = 0; i < entries.length || out.length === 0; i += maxEntries) {
      const chunk = entries.slice(i, i + maxEntries);
      const last = i + maxEntries >= entries.length;
      const top = last ? o.version : chunk[chunk.length - 1]!.version;
      // A chunk's floor cannot exceed its version (the receiver would reject it).
      out.push({ owner: o.owner, inc: o.inc, base, version: top, floor: Math.min(o.floor, top), entries: chunk });
      base = top;
      if (last) break;
    }
    return out;
  }

  /** Forget an owner entirely (it is down, or replaced by a new incarnation). Returns the names it had active. */
  dropOwner(owner: string, inc: string): string[] {
    const key = ownerKey(owner, inc);
    const o = this.owners.get(key);
    if (!o) return [];
    const names: string[] = [];
    for (const e of o.entries.values()) {
      if (!e.released) names.push(e.name);
      this.unindex(key, e.name);
    }
    this.owners.delete(key);
    return names;
  }

  /** Owners known, as [owner, inc] pairs. */
  ownerIds(): { owner: string; inc: string }[] {
    return [...this.owners.values()].map((o) => ({ owner: o.owner, inc: o.inc }));
  }

  /** Collect an owner's tombstones at or below floor (the owner, or its floor from a peer). */
  collect(oOrOwner: OwnerState | { owner: string; inc: string }, floor: number): void {
    const o = 'entries' in oOrOwner ? oOrOwner : this.owners.get(ownerKey(oOrOwner.owner, oOrOwner.inc));
    if (!o || floor <= o.floor) return;
    o.floor = floor;
    for (const [name, e] of o.entries) if (e.released && e.version <= floor) this.removeEntry(o, name);
  }

  /** Number of tombstones held (for tests and metrics). */
  tombstones(): number {
    let n = 0;
    for (const o of this.owners.values()) for (const e of o.entries.values()) if (e.released) n++;
    return n;
  }

  /** A canonical snapshot of every owner's entries (for comparing replicas in tests). */
  snapshot(): string {
    const owners = [...this.owners.values()].sort((a, b) => (ownerKey(a.owner, a.inc) < ownerKey(b.owner, b.inc) ? -1 : 1));
    return JSON.stringify(
      owners.map((o) => [o.owner, o.inc, [...o.entries.values()].filter((e) => !e.released).map((e) => [e.name, e.stamp, e.version, e.epoch ?? 0]).sort()]),
    );
  }

  private removeEntry(o: OwnerState, name: string): void {
    const e = o.entries.get(name);
    if (!e) return;
    o.entries.delete(name);
    if (o.byVersion.get(e.version) === name) o.byVersion.delete(e.version);
  }

  private put(o: OwnerState, e: Entry): void {
    const old = o.entries.get(e.name);
    if (old && o.byVersion.get(old.version) === e.name) o.byVersion.delete(old.version);
    o.entries.set(e.name, e);
    o.byVersion.set(e.version, e.name);
    const key = ownerKey(o.owner, o.inc);
    if (e.released) this.unindex(key, e.name);
    else {
      let claims = this.active.get(e.name);
      if (!claims) {
        claims = new Map();
        this.active.set(e.name, claims);
      }
      claims.set(key, { name: e.name, owner: o.owner, incarnation: o.inc, stamp: e.stamp, version: e.version, epoch: e.epoch ?? 0 });
    }
  }

  private unindex(key: string, name: string): void {
    const claims = this.active.get(name);
    if (!claims) return;
    claims.delete(key);
    if (claims.size === 0) this.active.delete(name);
  }
}
