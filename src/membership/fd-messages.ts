// FD messages: what failure detectors say to each other on the mesh's failure-detector
// channel, and their validation. The heartbeat itself is the session's `ping` (one per
// tick to each member that subscribed to ours); these are the rest:
// - probe / seen: the indirect check of a suspect (as in SWIM);
// - watch: subscribe to (on) or unsubscribe from (off) the receiver's heartbeats;
// - down: the sender declared `peer` (incarnation `inc`) down on its own evidence.
// Invariant: parseFdMessage accepts only these shapes, with every string bounded, and
// returns a fresh object holding only the known fields (nothing of the input leaks on).
import { ClusterError } from '../errors.js';

/** Longest member name accepted in a failure-detector message: 255 characters. */
const MAX_NAME_CHARS = 255;
/** Longest incarnation accepted in a `down` report: 64 characters (ours are 16 hex digits). */
const MAX_INC_CHARS = 64;

/** The detector's messages between members (on the mesh's failure-detector channel). */
export type FdMessage =
  | { k: 'probe'; peer: string }
  | { k: 'seen'; peer: string; agoMs: number }
  | { k: 'watch'; on: boolean }
  | { k: 'down'; peer: string; inc: string };

/** Validate a failure-detector message from the wire; throws ERR_PROTOCOL. */
export function parseFdMessage(v: unknown): FdMessage {
  const m = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (m.k === 'watch') {
    if (typeof m.on !== 'boolean') throw new ClusterError('ERR_PROTOCOL', 'invalid failure-detector message: watch');
    return { k: 'watch', on: m.on };
  }
  if (typeof m.peer !== 'string' || m.peer.length > MAX_NAME_CHARS) throw new ClusterError('ERR_PROTOCOL', 'invalid failure-detector message: peer');
  if (m.k === 'probe') return { k: 'probe', peer: m.peer };
  if (m.k === 'seen' && typeof m.agoMs === 'number' && Number.isInteger(m.agoMs) && m.agoMs >= -1) return { k: 'seen', peer: m.peer, agoMs: m.agoMs };
  if (m.k === 'down' && typeof m.inc === 'string' && m.inc.length > 0 && m.inc.length <= MAX_INC_CHARS) return { k: 'down', peer: m.peer, inc: m.inc };
  throw new ClusterError('ERR_PROTOCOL', 'invalid failure-detector message');
}
