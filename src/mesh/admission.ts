// Admission: what an authenticated connection becomes, as one pure decision over the
// facts the mesh has (our identity, the peer's verified hello, the name the candidate
// was advertised under, the connection we may already hold to that name), and the
// caps on connections still in their handshake.
// InboundSlots holds the per-address state those caps need.
// Invariants: at most one active connection per peer name; both ends of a pair decide
// from the same hellos, so they agree on which of two connections survives; a healthy
// established connection is never replaced (a relay cannot splice itself in); the first
// live holder of a name keeps it, and a peer's self-reported uptime can make only a
// newcomer give its name up, never an established node; an incarnation never changes
// its signing key.
import { nameHolder, preferConnection } from '../membership/membership.js';
import { KeyedBuckets } from './rate-limit.js';

/**
 * Connections in their handshake (inbound and our own dials) plus inbound ones waiting
 * for a handshake turn (handshake-queue.ts, which bounds both far lower); more inbound
 * ones are closed at once.
 */
export const MAX_PENDING_HANDSHAKES = 256;
/** Inbound connections from one address allowed in their handshake at once. */
export const MAX_PENDING_HANDSHAKES_PER_ADDRESS = 8;
/**
 * Failed inbound handshakes per address: a burst of 10, then one per 2 s. An address
 * over the limit has its connections closed at once, before any byte is read.
 */
export const FAILED_HANDSHAKES_PER_ADDRESS = { capacity: 10, perSecond: 0.5 };
/**
 * A node is a newcomer until it has had a member or has run this long, ms: only a
 * newcomer weighs a same-named peer's claimed uptime (and may give its name up), and
 * only a newcomer dials a candidate advertised under its own name.
 */
export const NEWCOMER_WINDOW_MS = 30_000;
/**
 * An existing connection heard within this many heartbeat intervals is healthy. Two,
 * not one: heartbeats arrive every interval plus latency, so "within one interval"
 * would flicker false just before each one, and a relay retrying would hit the flicker.
 */
export const HEALTHY_SILENCE_INTERVALS = 2;

/** What becomes of an authenticated connection. */
export type AdmissionAction =
  /** We dialed ourselves: close quietly (and never dial that candidate again). */
  | 'self'
  /** A new member: it comes up. */
  | 'accept'
  /** Same incarnation, and the new connection wins: it takes over silently (no nodedown). */
  | 'replace'
  /** Same incarnation, and the connection we have wins: close the new one with DUPLICATE. */
  | 'refuse-duplicate'
  /** The peer uses a name a live node holds (ours or a member's): close with ERR_NAME_IN_USE. */
  | 'refuse-name-in-use'
  /** The peer holds our name and we are the newcomer: this node must stop. */
  | 'yield-name'
  /** A new incarnation of a member whose old connection fell silent: down, then up. */
  | 'replace-restarted'
  /**
   * A new incarnation of a member whose old connection is open but not watched (the
   * failure detector gets no heartbeats from it, so its silence says nothing): close
   * the new one with BUSY and watch the old one; the newcomer's retry then finds it
   * down (restarted) or live (refused with ERR_NAME_IN_USE).
   */
  | 'refuse-unverified'
  /** We dialed a candidate advertised as X and proved Y: close with NAME_MISMATCH. */
  | 'refuse-name-mismatch'
  /** The peer's incarnation proved another signing key before (identities.ts): close with KEY_MISMATCH. */
  | 'refuse-key-mismatch';

/** The connection already held to the peer's name. */
export interface ExistingConnection {
  inc: string;
  /** False once it has closed (a replacement is then always taken). */
  open: boolean;
  /** Name of the node that dialed it. */
  dialer: string;
  /** Time since we last heard anything on it, ms; undefined when we cannot tell (we do not watch its heartbeats). */
  silentForMs: number | undefined;
  /** Time since it became the active connection, ms. */
  ageMs: number;
}

/** The facts decideAdmission() weighs. */
export interface AdmissionInput {
  self: {
    name: string;
    inc: string;
    /** The up we sent in our hello, ms. */
    up: number;
    /** Never had a member and younger than NEWCOMER_WINDOW_MS (see isNewcomer). */
    newcomer: boolean;
  };
  /** The peer's verified hello. */
  peer: { name: string; inc: string; up: number };
  /** The peer's (name, incarnation) was seen before with another signing key. Default false. */
  keyConflict?: boolean;
  /** Name of the node that dialed the new connection. */
  dialer: string;
  /** For a connection we dialed: the name its candidate was advertised under, if any. */
  advertisedName?: string | undefined;
  existing: ExistingConnection | undefined;
  heartbeatIntervalMs: number;
  /**
   * Two connections between the same nodes that both became active within this window
   * are a simultaneous dial, settled by preferConnection; after it the established one
   * stays while healthy. The mesh passes its handshake timeout.
   */
  simultaneousWindowMs: number;
}

/** True while a node has never had a member and has run less than NEWCOMER_WINDOW_MS. */
export function isNewcomer(everHadMember: boolean, upMs: number): boolean {
  return !everHadMember && upMs < NEWCOMER_WINDOW_MS;
}

/** Decide what an authenticated connection becomes. */
export function decideAdmission(i: AdmissionInput): AdmissionAction {
  const { self, peer, existing } = i;
  if (peer.name === self.name && peer.inc === self.inc) return 'self';
  if (i.keyConflict) return 'refuse-key-mismatch';
  if (i.advertisedName !== undefined && i.advertisedName !== peer.name) return 'refuse-name-mismatch';
  if (peer.name === self.name) {
    // Our name, another incarnation. An established node keeps its name whatever the
    // peer claims; a newcomer has nothing but the claims to go by.
    if (!self.newcomer) return 'refuse-name-in-use';
    const holder = nameHolder({ inc: self.inc, up: self.up }, { inc: peer.inc, up: peer.up });
    return holder.inc === self.inc ? 'refuse-name-in-use' : 'yield-name';
  }
  if (!existing) return 'accept';
  const heardRecently = existing.silentForMs !== undefined && existing.silentForMs <= HEALTHY_SILENCE_INTERVALS * i.heartbeatIntervalMs;
  const healthy = existing.open && heardRecently;
  if (existing.inc === peer.inc) {
    if (!existing.open) return 'replace';
    if (healthy && existing.ageMs > i.simultaneousWindowMs) return 'refuse-duplicate';
    const keep = preferConnection({ dialer: existing.dialer }, { dialer: i.dialer }, self.name, peer.name);
    return keep === 'existing' ? 'refuse-duplicate' : 'replace';
  }
  // Another incarnation: a live one keeps its name; one we cannot judge (not watched) is checked first.
  if (existing.silentForMs === undefined && existing.open) return 'refuse-unverified';
  return heardRecently ? 'refuse-name-in-use' : 'replace-restarted';
}

/** What becomes of a new inbound connection before any byte of it is read. */
export type InboundAction = 'accept' | 'refuse-busy' | 'refuse-busy-source' | 'refuse-failing-source';

/** The facts decideInbound() weighs. */
export interface InboundInput {
  /** Connections in their handshake now (all sources, both directions). */
  pendingTotal: number;
  /** Inbound connections in their handshake from this connection's address. */
  pendingFromAddress: number;
  /** Tokens left in this address's failed-handshake bucket. */
  failureTokens: number;
}

/** Decide whether to start a handshake on a new inbound connection. */
export function decideInbound(i: InboundInput): InboundAction {
  if (i.failureTokens < 1) return 'refuse-failing-source';
  if (i.pendingFromAddress >= MAX_PENDING_HANDSHAKES_PER_ADDRESS) return 'refuse-busy-source';
  if (i.pendingTotal >= MAX_PENDING_HANDSHAKES) return 'refuse-busy';
  return 'accept';
}

/** Addresses whose failed-handshake buckets are remembered. */
export const MAX_FAILED_HANDSHAKE_ADDRESSES = 4096;

/** Per-address state of inbound connections in their handshake: slots held and failures. */
export class InboundSlots {
  private readonly held = new Map<string, number>();
  private readonly failures = new KeyedBuckets(FAILED_HANDSHAKES_PER_ADDRESS, MAX_FAILED_HANDSHAKE_ADDRESSES);

  constructor(private readonly now: () => number) {}

  /** Decide on a new inbound connection from ip while pendingTotal handshakes run. */
  check(ip: string, pendingTotal: number): InboundAction {
    const now = this.now();
    return decideInbound({ pendingTotal, pendingFromAddress: this.held.get(ip) ?? 0, failureTokens: this.failures.get(ip, now).available(now) });
  }

  /** A connection from ip entered its handshake. */
  opened(ip: string): void {
    this.held.set(ip, (this.held.get(ip) ?? 0) + 1);
  }

  /** A connection from ip left its handshake (admitted or closed); once per opened(). */
  settled(ip: string): void {
    const n = (this.held.get(ip) ?? 1) - 1;
    if (n > 0) this.held.set(ip, n);
    else this.held.delete(ip);
  }

  /** A handshake from ip failed. */
  failed(ip: string): void {
    const now = this.now();
    this.failures.get(ip, now).take(now);
  }

  /** Slots held by ip (for tests). */
  heldBy(ip: string): number {
    return this.held.get(ip) ?? 0;
  }
}
