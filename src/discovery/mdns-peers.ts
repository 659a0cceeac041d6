// mDNS peer table: the pure state behind mDNS discovery. It folds validated records
// (from mdns-records.ts) into instances, expires them by TTL, and says which peers
// appeared, changed or went away, which host names to resolve, and which instances
// to re-query before their records run out (RFC 6762 §5.2: at 80, 85, 90, 95 % of TTL).
// Time is passed in (milliseconds on any monotonic scale); the table owns no timers.
// Every record remembers the source address of the packet it came from, because mDNS
// has no authentication and a record is only as good as who sent it:
// - a goodbye (TTL 0) removes an instance, an address or a foreign instance only when
//   it comes from the source address the record was learned from; from anyone else it
//   is ignored (and listed in `ignoredGoodbyes`);
// - a record from another source than the one held may replace it or extend its life,
//   never shorten it (a TTL of 1 s from a stranger is a goodbye in disguise);
// - a stranger cannot turn a known instance of ours into a foreign one (which would drop it).
// Invariants: a peer is reported found only with SRV + TXT + at least one address, and
// again only when its name, port or addresses change, so repeated or duplicated
// packets never produce a second report; lost is reported only for a peer reported
// found; at most maxInstances instances (and as many foreign ones) are held.
import type { DiscoveredPeer } from './discovery.js';
import type { KnownAnswer, ParsedResponse } from './mdns-records.js';

/** Most instances tracked at once (complete or partial): 1024. */
export const DEFAULT_MDNS_MAX_INSTANCES = 1024;
/** Most addresses kept per host name: 16. */
export const DEFAULT_MDNS_MAX_ADDRESSES = 16;
/**
 * Most known answers knownAnswers() returns: 64. The query's byte budget
 * (MDNS_MAX_QUERY_BYTES, mdns-records.ts) is what limits a query; a PTR record takes at
 * least 40 bytes, so no more than 36 fit and 64 only bounds the sorting.
 */
export const DEFAULT_MDNS_MAX_KNOWN_ANSWERS = 64;
/** Refresh queries before a record expires, as fractions of its TTL still left: 20, 15, 10, 5 %. */
const REFRESH_LEFT = [0.2, 0.15, 0.1, 0.05] as const;

/** One thing the discovery shell must tell its sink. */
export type PeerChange = { kind: 'found'; peer: DiscoveredPeer } | { kind: 'lost'; id: string };

/** What applying records or the passing of time produced. */
export interface PeerTableResult {
  /** Reports for the sink, in order. */
  changes: PeerChange[];
  /** Host names to query an A record for (each asked once per instance and target). */
  resolve: string[];
  /** Instance names to query again because their records are close to expiry. */
  refresh: string[];
  /** New instances not tracked because the table is full. */
  dropped: number;
  /**
   * Names (instances or host names) whose goodbye or foreign claim was ignored because it
   * came from another source address than the records it would remove (at most 8 listed).
   */
  ignoredGoodbyes: string[];
}

/** Most names listed in PeerTableResult.ignoredGoodbyes per call. */
const MAX_IGNORED_LISTED = 8;

/** Options for MdnsPeerTable. */
export interface MdnsPeerTableOptions {
  /** Most instances tracked; default 1024. */
  maxInstances?: number;
  /** Most addresses kept per host name; default 16. */
  maxAddressesPerTarget?: number;
  /** Most known answers returned by knownAnswers(); default 64. */
  maxKnownAnswers?: number;
  /** Addresses for which this returns true are listed first (e.g. on one of our subnets). */
  isPreferredAddress?: (address: string) => boolean;
  /** A float in [0, 1) for refresh jitter; default always 0. */
  jitter01?: () => number;
}

interface Timed {
  expiresAt: number;
  ttlMs: number;
  /** Source address of the packet this record came from. */
  source: string;
}

interface Instance {
  id: string;
  ptr?: Timed;
  srv?: Timed & { port: number; target: string };
  txt?: Timed & { name: string };
  /** Target an A query was already asked for. */
  resolveAsked?: string;
  /** Expiry the refresh schedule is based on, and the schedule's progress. */
  refreshBase?: number;
  refreshCount: number;
  refreshAt?: number;
  reported?: { name: string; port: number; addresses: string[] };
}

function timed(nowMs: number, ttlS: number, source: string): Timed {
  return { expiresAt: nowMs + ttlS * 1000, ttlMs: ttlS * 1000, source };
}

/**
 * The record to hold after a (non-goodbye) record with ttlS arrives from source, or
 * undefined to ignore it: a record from another source than the held one may not bring
 * its expiry forward (it may extend it, or replace it with the same expiry or later).
 */
export function acceptRecord(held: Pick<Timed, 'expiresAt' | 'source'> | undefined, nowMs: number, ttlS: number, source: string): Timed | undefined {
  const next = timed(nowMs, ttlS, source);
  if (held && held.source !== source && next.expiresAt < held.expiresAt) return undefined;
  return next;
}

function newResult(): PeerTableResult {
  return { changes: [], resolve: [], refresh: [], dropped: 0, ignoredGoodbyes: [] };
}

function noteIgnored(result: PeerTableResult, name: string): void {
  if (result.ignoredGoodbyes.length < MAX_IGNORED_LISTED && !result.ignoredGoodbyes.includes(name)) result.ignoredGoodbyes.push(name);
}

/** The set of mDNS instances we know, with their expiry. */
export class MdnsPeerTable {
  private readonly instances = new Map<string, Instance>();
  private readonly foreign = new Map<string, Timed>();
  private readonly targets = new Map<string, Map<string, Timed>>();
  /** Host names that may have lost their last instance or address since the last settle. */
  private readonly staleTargets = new Set<string>();
  private readonly maxInstances: number;
  private readonly maxAddresses: number;
  private readonly maxKnown: number;
  private readonly preferred: (address: string) => boolean;
  private readonly jitter01: () => number;

  constructor(options: MdnsPeerTableOptions = {}) {
    this.maxInstances = options.maxInstances ?? DEFAULT_MDNS_MAX_INSTANCES;
    this.maxAddresses = options.maxAddressesPerTarget ?? DEFAULT_MDNS_MAX_ADDRESSES;
    this.maxKnown = options.maxKnownAnswers ?? DEFAULT_MDNS_MAX_KNOWN_ANSWERS;
    this.preferred = options.isPreferredAddress ?? (() => false);
    this.jitter01 = options.jitter01 ?? (() => 0);
  }

  /** Number of instances tracked (complete or not), foreign ones excluded. */
  get size(): number {
    return this.instances.size;
  }

  /**
   * Fold one validated response, received from the IPv4 address `source`, into the table.
   * TTL 0 records are goodbyes and act at once, if they come from the source the records
   * were learned from.
   */
  apply(parsed: ParsedResponse, nowMs: number, source: string): PeerTableResult {
    const result = newResult();
    // Only the instances this packet names (or whose host's addresses it changes) are
    // settled again: every node receives every packet, so a packet must cost O(its
    // records), not O(instances known).
    const touched = new Set<string>();
    const touchedTargets = new Set<string>();
    for (const f of parsed.foreign) {
      const held = this.foreign.get(f.instance);
      if (f.ttl === 0) {
        if (held?.source === source) this.foreign.delete(f.instance);
        else if (held) noteIgnored(result, f.instance);
        continue;
      }
      if (this.instances.has(f.instance)) {
        // An instance cannot change cluster: forget what it said before, if it says so itself.
        if (!this.goodbye(f.instance, result, source)) continue;
      }
      const next = acceptRecord(held, nowMs, f.ttl, source);
      if (next && (held || this.foreign.size < this.maxInstances)) this.foreign.set(f.instance, next);
    }
    for (const p of parsed.ptrs) {
      if (p.ttl === 0) this.goodbye(p.instance, result, source);
      else if (this.foreign.has(p.instance)) {
        const next = acceptRecord(this.foreign.get(p.instance), nowMs, p.ttl, source);
        if (next) this.foreign.set(p.instance, next);
      } else {
        const inst = this.getOrCreate(p.instance, result);
        if (inst) {
          inst.ptr = acceptRecord(inst.ptr, nowMs, p.ttl, source) ?? inst.ptr;
          touched.add(inst.id);
        }
      }
    }
    for (const s of parsed.srvs) {
      if (s.ttl === 0) this.goodbye(s.instance, result, source);
      else if (!this.foreign.has(s.instance)) {
        const inst = this.getOrCreate(s.instance, result);
        const next = inst && acceptRecord(inst.srv, nowMs, s.ttl, source);
        if (inst && next) {
          if (inst.srv && inst.srv.target !== s.target) this.staleTargets.add(inst.srv.target);
          inst.srv = { ...next, port: s.port, target: s.target };
          touched.add(inst.id);
        }
      }
    }
    for (const t of parsed.txts) {
      if (t.ttl === 0) this.goodbye(t.instance, result, source);
      else {
        this.foreign.delete(t.instance);
        const inst = this.getOrCreate(t.instance, result);
        const next = inst && acceptRecord(inst.txt, nowMs, t.ttl, source);
        if (inst && next) {
          inst.txt = { ...next, name: t.name };
          touched.add(inst.id);
        }
      }
    }
    if (parsed.addresses.length > 0) {
      const wanted = this.referencedTargets();
      for (const a of parsed.addresses) {
        if (!wanted.has(a.target)) continue;
        let addrs = this.targets.get(a.target);
        const held = addrs?.get(a.address);
        if (a.ttl === 0) {
          if (held?.source === source) {
            addrs?.delete(a.address);
            touchedTargets.add(a.target);
          } else if (held) noteIgnored(result, a.target);
          continue;
        }
        const next = acceptRecord(held, nowMs, a.ttl, source);
        if (!next) continue;
        if (!addrs) this.targets.set(a.target, (addrs = new Map()));
        if (held || addrs.size < this.maxAddresses) {
          addrs.set(a.address, next);
          touchedTargets.add(a.target);
        }
      }
      if (touchedTargets.size > 0) {
        for (const inst of this.instances.values()) if (inst.srv && touchedTargets.has(inst.srv.target)) touched.add(inst.id);
      }
    }
    this.settle(result, touched);
    return result;
  }

  /** Expire records whose TTL ran out and collect due refresh queries. Call at nextDeadline(). */
  tick(nowMs: number): PeerTableResult {
    const result = newResult();
    for (const inst of this.instances.values()) {
      if (inst.ptr && inst.ptr.expiresAt <= nowMs) delete inst.ptr;
      if (inst.srv && inst.srv.expiresAt <= nowMs) delete inst.srv;
      if (inst.txt && inst.txt.expiresAt <= nowMs) delete inst.txt;
    }
    for (const addrs of this.targets.values()) {
      for (const [ip, t] of addrs) if (t.expiresAt <= nowMs) addrs.delete(ip);
    }
    for (const [id, t] of this.foreign) if (t.expiresAt <= nowMs) this.foreign.delete(id);
    this.settle(result);
    for (const inst of this.instances.values()) {
      if (inst.refreshAt !== undefined && inst.refreshAt <= nowMs) {
        result.refresh.push(inst.id);
        inst.refreshCount++;
        this.scheduleRefresh(inst);
      }
    }
    return result;
  }

  /** The earliest time at which tick() has something to do, or undefined when idle. */
  nextDeadline(): number | undefined {
    let next = Infinity;
    const consider = (t: number | undefined): void => {
      if (t !== undefined && t < next) next = t;
    };
    for (const inst of this.instances.values()) {
      consider(inst.ptr?.expiresAt);
      consider(inst.srv?.expiresAt);
      consider(inst.txt?.expiresAt);
      consider(inst.refreshAt);
    }
    for (const addrs of this.targets.values()) for (const t of addrs.values()) consider(t.expiresAt);
    for (const t of this.foreign.values()) consider(t.expiresAt);
    return next === Infinity ? undefined : next;
  }

  /**
   * PTR records worth offering as known answers in a browse query: those of reported
   * peers and foreign instances with more than half their TTL left (RFC 6762 §7.1),
   * most remaining TTL first, at most maxKnownAnswers.
   */
  knownAnswers(nowMs: number): KnownAnswer[] {
    const out: { instance: string; left: number }[] = [];
    const offer = (instance: string, t: Timed | undefined): void => {
      if (!t) return;
      const left = t.expiresAt - nowMs;
      if (left > t.ttlMs / 2) out.push({ instance, left });
    };
    for (const inst of this.instances.values()) if (inst.reported) offer(inst.id, inst.ptr);
    for (const [id, t] of this.foreign) offer(id, t);
    out.sort((a, b) => b.left - a.left);
    return out.slice(0, this.maxKnown).map((k) => ({ instance: k.instance, ttl: Math.floor(k.left / 1000) }));
  }

  /**
   * True if knownAnswers(nowMs) would offer this instance's PTR if the list were long
   * enough: a reported peer or a foreign instance whose PTR has more than half its TTL
   * left. The test of duplicate question suppression (RFC 6762 §7.3). O(1).
   */
  knows(instance: string, nowMs: number): boolean {
    const inst = this.instances.get(instance);
    const t = inst ? (inst.reported ? inst.ptr : undefined) : this.foreign.get(instance);
    return t !== undefined && t.expiresAt - nowMs > t.ttlMs / 2;
  }

  private getOrCreate(id: string, result: PeerTableResult): Instance | undefined {
    let inst = this.instances.get(id);
    if (!inst) {
      if (this.instances.size >= this.maxInstances) {
        result.dropped++;
        return undefined;
      }
      inst = { id, refreshCount: 0 };
      this.instances.set(id, inst);
    }
    return inst;
  }

  /**
   * Forget instance id if `source` is where one of its records came from; returns true
   * if it is gone (or was never there), false if the goodbye was ignored.
   */
  private goodbye(id: string, result: PeerTableResult, source: string): boolean {
    const inst = this.instances.get(id);
    if (!inst) return true;
    if (inst.ptr?.source !== source && inst.srv?.source !== source && inst.txt?.source !== source) {
      noteIgnored(result, id);
      return false;
    }
    this.instances.delete(id);
    if (inst.srv) this.staleTargets.add(inst.srv.target);
    if (inst.reported) result.changes.push({ kind: 'lost', id });
    return true;
  }

  private referencedTargets(): Set<string> {
    const s = new Set<string>();
    for (const inst of this.instances.values()) if (inst.srv) s.add(inst.srv.target);
    return s;
  }

  private liveAddresses(target: string): string[] {
    const addrs = this.targets.get(target);
    if (!addrs) return [];
    const preferred: string[] = [];
    const rest: string[] = [];
    for (const a of addrs.keys()) (this.preferred(a) ? preferred : rest).push(a);
    return [...preferred, ...rest];
  }

  /**
   * Re-evaluate instances (those named in `only`, else every one): report changes, drop
   * empty ones, ask for missing addresses; then drop host names nobody points at.
   */
  private settle(result: PeerTableResult, only?: ReadonlySet<string>): void {
    const which = only ? [...only].flatMap((id) => this.instances.get(id) ?? []) : [...this.instances.values()];
    for (const inst of which) {
      const addresses = inst.srv ? this.liveAddresses(inst.srv.target) : [];
      if (inst.srv && inst.txt && addresses.length > 0) {
        const view = { name: inst.txt.name, port: inst.srv.port, addresses };
        const old = inst.reported;
        if (!old || old.name !== view.name || old.port !== view.port || old.addresses.join(',') !== addresses.join(',')) {
          inst.reported = view;
          result.changes.push({
            kind: 'found',
            peer: { id: inst.id, name: view.name, addresses: [...addresses], port: view.port, source: 'mdns', sourceAddress: inst.srv.source },
          });
        }
        this.updateRefreshBase(inst);
      } else {
        if (inst.reported) {
          inst.reported = undefined;
          result.changes.push({ kind: 'lost', id: inst.id });
        }
        delete inst.refreshAt;
        delete inst.refreshBase;
        if (!inst.ptr && !inst.srv && !inst.txt) {
          this.instances.delete(inst.id);
          continue;
        }
        if (inst.srv) this.staleTargets.add(inst.srv.target); // it may have lost its last address
        if (inst.srv && inst.txt && inst.resolveAsked !== inst.srv.target) {
          inst.resolveAsked = inst.srv.target;
          result.resolve.push(inst.srv.target);
        }
      }
    }
    if (only && this.staleTargets.size === 0) return;
    const wanted = this.referencedTargets();
    const check = only ? [...this.staleTargets] : [...this.targets.keys()];
    this.staleTargets.clear();
    for (const target of check) {
      const addrs = this.targets.get(target);
      if (addrs && (!wanted.has(target) || addrs.size === 0)) this.targets.delete(target);
    }
  }

  /** The record of a complete instance that expires first (the latest address counts for the addresses). */
  private earliest(inst: Instance): Timed | undefined {
    let first: Timed | undefined;
    const consider = (t: Timed | undefined): void => {
      if (t && (!first || t.expiresAt < first.expiresAt)) first = t;
    };
    consider(inst.ptr);
    consider(inst.srv);
    consider(inst.txt);
    const addrs = inst.srv ? this.targets.get(inst.srv.target) : undefined;
    if (addrs) {
      let latest: Timed | undefined;
      for (const t of addrs.values()) if (!latest || t.expiresAt > latest.expiresAt) latest = t;
      consider(latest);
    }
    return first;
  }

  private updateRefreshBase(inst: Instance): void {
    const first = this.earliest(inst);
    if (!first) return;
    if (inst.refreshBase === first.expiresAt) return;
    inst.refreshBase = first.expiresAt;
    inst.refreshCount = 0;
    this.scheduleRefresh(inst);
  }

  private scheduleRefresh(inst: Instance): void {
    const first = this.earliest(inst);
    const left = REFRESH_LEFT[inst.refreshCount];
    if (!first || left === undefined) {
      delete inst.refreshAt;
      return;
    }
    inst.refreshAt = first.expiresAt - first.ttlMs * left + first.ttlMs * 0.02 * this.jitter01();
  }
}
