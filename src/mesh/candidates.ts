// Candidates: the table of places the mesh may dial — from discovery (mDNS records,
// seeds) and from members' gossip — with their dial state (backoff counters, timer).
// Keys are `source:id` for discovery ("mdns:<instance>", "seed:host:port") and
// `gossip:<name>` for gossip. Pure data; the mesh owns the timers stored here.
// Invariants: one entry per key; a gossip candidate lists the members that gossiped
// it and goes when the last of them goes; the table never holds more than its caps
// (discovery, gossip in total, gossip per gossiping member): over a cap a new entry is
// refused, never an old one evicted (an old entry may be a real node).
import type { TimerHandle } from '../util/clock.js';

/** Discovery candidates (mDNS + seeds) the table holds at most. */
export const MAX_DISCOVERY_CANDIDATES = 1024;
/** Gossip candidates the table holds at most, in total. */
export const MAX_GOSSIP_CANDIDATES = 1024;
/** Gossip candidates one gossiping member may hold in the table. */
export const MAX_GOSSIP_CANDIDATES_PER_MEMBER = 256;

/** Where a candidate came from. */
export type CandidateSource = 'mdns' | 'seed' | 'gossip';

/** One place to dial. */
export interface Candidate {
  key: string;
  source: CandidateSource;
  /** The name the source advertised (mDNS TXT, gossip); undefined for seeds. */
  advertisedName: string | undefined;
  /** The name a handshake proved at this place (seeds learn it so). */
  learnedName: string | undefined;
  addresses: string[];
  port: number;
  /** Failed attempts in a row, for backoff. */
  attempt: number;
  /** Failed authentications in a row, for the (longer) auth backoff. */
  authFailures: number;
  timer: TimerHandle | undefined;
  /** The timer is a pacing wait (the dialer had no token or slot), not a backoff. */
  paced: boolean;
  dialing: boolean;
  /** The candidate turned out to be this node. */
  self: boolean;
  /** Members whose gossip named this candidate (gossip candidates only). */
  gossipers: Set<string>;
  /** Clock time the backoff was last reset by an address or port change (-Infinity: never). */
  lastResetAt: number;
  /** The first dial already waited for the peer's own dial (SIMULTANEOUS_DIAL_GRACE_MS). */
  yielded: boolean;
}

/** The name a candidate goes by: the advertised one, else the learned one. */
export function candidateName(c: Candidate): string | undefined {
  return c.advertisedName ?? c.learnedName;
}

/** What an upsert did. */
export type UpsertResult = 'added' | 'moved' | 'unchanged' | 'refused-full';

/** The candidate table. */
export class CandidateTable {
  private readonly byKey = new Map<string, Candidate>();
  private discoveryCount = 0;
  private gossipCount = 0;
  private readonly perGossiper = new Map<string, number>();

  constructor(
    private readonly caps = { discovery: MAX_DISCOVERY_CANDIDATES, gossip: MAX_GOSSIP_CANDIDATES, gossipPerMember: MAX_GOSSIP_CANDIDATES_PER_MEMBER },
  ) {}

  get(key: string): Candidate | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get size(): number {
    return this.byKey.size;
  }

  values(): Candidate[] {
    return [...this.byKey.values()];
  }

  /**
   * Add or refresh a discovery candidate. 'moved': its addresses or port changed (the
   * mesh decides whether that resets its backoff).
   */
  upsertDiscovered(key: string, source: 'mdns' | 'seed', name: string | undefined, addresses: string[], port: number): { result: UpsertResult; candidate?: Candidate } {
    const existing = this.byKey.get(key);
    if (existing) return { result: this.refresh(existing, name, addresses, port), candidate: existing };
    if (this.discoveryCount >= this.caps.discovery) return { result: 'refused-full' };
    const c = newCandidate(key, source, name, addresses, port);
    this.byKey.set(key, c);
    this.discoveryCount++;
    return { result: 'added', candidate: c };
  }

  /** Add or refresh the gossip candidate `gossip:<name>` on behalf of member `from`. */
  upsertGossip(from: string, name: string, host: string, port: number): { result: UpsertResult; candidate?: Candidate } {
    const key = `gossip:${name}`;
    const existing = this.byKey.get(key);
    const held = this.perGossiper.get(from) ?? 0;
    if (existing) {
      if (!existing.gossipers.has(from)) {
        if (held >= this.caps.gossipPerMember) return { result: 'refused-full' };
        existing.gossipers.add(from);
        this.perGossiper.set(from, held + 1);
      }
      return { result: this.refresh(existing, name, [host], port), candidate: existing };
    }
    if (this.gossipCount >= this.caps.gossip || held >= this.caps.gossipPerMember) return { result: 'refused-full' };
    const c = newCandidate(key, 'gossip', name, [host], port);
    c.gossipers.add(from);
    this.perGossiper.set(from, held + 1);
    this.byKey.set(key, c);
    this.gossipCount++;
    return { result: 'added', candidate: c };
  }

  private refresh(c: Candidate, name: string | undefined, addresses: string[], port: number): UpsertResult {
    const moved = c.port !== port || c.addresses.join() !== addresses.join();
    c.advertisedName = name ?? c.advertisedName;
    c.addresses = addresses;
    c.port = port;
    return moved ? 'moved' : 'unchanged';
  }

  /** Remove a candidate; returns it (its timer is the caller's to clear). */
  remove(key: string): Candidate | undefined {
    const c = this.byKey.get(key);
    if (!c) return undefined;
    this.byKey.delete(key);
    if (c.source === 'gossip') {
      this.gossipCount--;
      for (const g of c.gossipers) this.release(g);
    } else this.discoveryCount--;
    return c;
  }

  /**
   * Member `name` went down: it no longer vouches for what it gossiped. Returns the
   * gossip candidates that no member vouches for any more (still in the table: the
   * caller removes them), besides the gossip candidate of `name` itself.
   */
  gossiperGone(name: string): Candidate[] {
    const orphans: Candidate[] = [];
    for (const c of this.byKey.values()) {
      if (c.source !== 'gossip') continue;
      if (c.gossipers.delete(name)) {
        this.release(name);
        if (c.gossipers.size === 0) orphans.push(c);
      }
    }
    this.perGossiper.delete(name);
    return orphans;
  }

  private release(gossiper: string): void {
    const n = (this.perGossiper.get(gossiper) ?? 0) - 1;
    if (n > 0) this.perGossiper.set(gossiper, n);
    else this.perGossiper.delete(gossiper);
  }

  /** Candidates that go by `name`. */
  named(name: string): Candidate[] {
    return this.values().filter((c) => candidateName(c) === name);
  }

  /** Unnamed candidates at host:port. */
  unnamedAt(host: string, port: number): Candidate[] {
    return this.values().filter((c) => candidateName(c) === undefined && c.port === port && c.addresses.includes(host));
  }

  /** How many gossip candidates member `name` vouches for. */
  gossipedBy(name: string): number {
    return this.perGossiper.get(name) ?? 0;
  }

  clear(): void {
    this.byKey.clear();
    this.perGossiper.clear();
    this.discoveryCount = 0;
    this.gossipCount = 0;
  }
}

function newCandidate(key: string, source: CandidateSource, name: string | undefined, addresses: string[], port: number): Candidate {
  return {
    key,
    source,
    advertisedName: name,
    learnedName: undefined,
    addresses,
    port,
    attempt: 0,
    authFailures: 0,
    timer: undefined,
    paced: false,
    dialing: false,
    self: false,
    gossipers: new Set(),
    lastResetAt: -Infinity,
    yielded: false,
  };
}
