// Admission: what an authenticated connection becomes, as one pure decision over the
// facts the mesh has (our identity, the peer's verified hello, the connection we may
// already hold to that name), and the caps on connections still in their handshake.
// Invariants: at most one active connection per peer name; both ends of a pair decide
// from the same hellos, so they agree on which of two connections survives.
import { nameHolder, preferConnection } from '../membership/membership.js';

/** Inbound connections allowed in their handshake at once; more are closed at once. */
export const MAX_PENDING_HANDSHAKES = 256;

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
  | 'replace-restarted';

/** The connection already held to the peer's name. */
export interface ExistingConnection {
  inc: string;
  /** False once it has closed (a replacement is then always taken). */
  open: boolean;
  /** Name of the node that dialed it. */
  dialer: string;
  /** Time since we last heard anything on it, ms. */
  silentForMs: number;
}

/** The facts decideAdmission() weighs. */
export interface AdmissionInput {
  self: { name: string; inc: string; /** The up we sent in our hello, ms. */ up: number };
  /** The peer's verified hello. */
  peer: { name: string; inc: string; up: number };
  /** Name of the node that dialed the new connection. */
  dialer: string;
  existing: ExistingConnection | undefined;
  heartbeatIntervalMs: number;
}

/** Decide what an authenticated connection becomes. */
export function decideAdmission(i: AdmissionInput): AdmissionAction {
  const { self, peer, existing } = i;
  if (peer.name === self.name) {
    if (peer.inc === self.inc) return 'self';
    const holder = nameHolder({ inc: self.inc, up: self.up }, { inc: peer.inc, up: peer.up });
    return holder.inc === self.inc ? 'refuse-name-in-use' : 'yield-name';
  }
  if (!existing) return 'accept';
  if (existing.inc === peer.inc) {
    if (!existing.open) return 'replace';
    const keep = preferConnection({ dialer: existing.dialer }, { dialer: i.dialer }, self.name, peer.name);
    return keep === 'existing' ? 'refuse-duplicate' : 'replace';
  }
  return existing.silentForMs <= 2 * i.heartbeatIntervalMs ? 'refuse-name-in-use' : 'replace-restarted';
}
