// Identities: which signing key each node incarnation proved in its handshake. A node
// makes one Ed25519 key per incarnation and signs its registry entries with it; the
// registry checks relayed entries against the key the owner showed us itself. So an
// incarnation must never change keys here: a second connection (a reconnect, or another
// member that learned the incarnation from gossip) presenting another key for a
// (name, incarnation) we have seen is an impostor, refused, even after the real one's
// connection dropped.
// Invariant: at most MAX_REMEMBERED_IDENTITIES entries; the oldest are forgotten first
// (an incarnation that old has long been replaced or gone).

/** Incarnations whose keys are remembered. */
export const MAX_REMEMBERED_IDENTITIES = 4096;

/** How a presented key compares with what we know of that incarnation. */
export type IdentityVerdict = 'new' | 'same' | 'conflict';

/** The keys seen per (name, incarnation), bounded. */
export class IdentityBook {
  private readonly keys = new Map<string, string>();

  constructor(private readonly max = MAX_REMEMBERED_IDENTITIES) {}

  /** Compare key with the one remembered for name/inc. */
  check(name: string, inc: string, key: Uint8Array): IdentityVerdict {
    const known = this.keys.get(`${name}/${inc}`);
    if (known === undefined) return 'new';
    return known === Buffer.from(key).toString('hex') ? 'same' : 'conflict';
  }

  /** Remember key for name/inc (refreshes its age). Only for a key check() did not call a conflict. */
  remember(name: string, inc: string, key: Uint8Array): void {
    const id = `${name}/${inc}`;
    this.keys.delete(id);
    this.keys.set(id, Buffer.from(key).toString('hex'));
    if (this.keys.size > this.max) this.keys.delete(this.keys.keys().next().value!);
  }

  /** Incarnations remembered (for tests). */
  get size(): number {
    return this.keys.size;
  }
}
