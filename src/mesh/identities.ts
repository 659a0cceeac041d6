// Identities: which signing key each node incarnation proved in its handshake. A node
// makes one Ed25519 key per incarnation and signs its registry entries with it; the
// registry checks relayed entries against the key the owner showed us itself. So an
// incarnation must never change keys here: a second connection (a reconnect, or another
// member that learned the incarnation from gossip) presenting another key for a
// (name, incarnation) we have seen is an impostor, refused, even after the real one's
// connection dropped.
// Invariants: at most MAX_IDENTITIES_PER_NAME incarnations per node name — the ones
// remembered most recently; an older one has been replaced by a restart of that name
// (one live incarnation per name: a live member is never replaced by a newcomer of its
// name, so only a silent or gone one can be pushed out), and presenting it again is no
// more than starting a new incarnation — and at most MAX_REMEMBERED_IDENTITIES in all,
// the oldest forgotten first. So a node that restarts forever costs this book a
// constant, not an entry per restart.

/** Incarnations whose keys are remembered, in all. */
export const MAX_REMEMBERED_IDENTITIES = 4096;
/** Incarnations whose keys are remembered per node name (the most recently seen): 4. */
export const MAX_IDENTITIES_PER_NAME = 4;

/** How a presented key compares with what we know of that incarnation. */
export type IdentityVerdict = 'new' | 'same' | 'conflict';

/**
 * Pure: which of a name's incarnations (oldest first, the newest last) to forget so that
 * at most `max` stay — the oldest ones.
 */
export function incarnationsToForget(incarnations: readonly string[], max = MAX_IDENTITIES_PER_NAME): string[] {
  return incarnations.slice(0, Math.max(0, incarnations.length - Math.max(1, max)));
}

/** The keys seen per (name, incarnation), bounded per name and in all. */
export class IdentityBook {
  /** name -> incarnation -> key (hex), each inner map in recency order, the newest last. */
  private readonly byName = new Map<string, Map<string, string>>();
  /** [name, inc] pairs in recency order over all names, the newest last (for the overall cap). */
  private readonly order = new Map<string, [string, string]>();

  constructor(
    private readonly max = MAX_REMEMBERED_IDENTITIES,
    private readonly maxPerName = MAX_IDENTITIES_PER_NAME,
  ) {}

  /** Compare key with the one remembered for name/inc. */
  check(name: string, inc: string, key: Uint8Array): IdentityVerdict {
    const known = this.byName.get(name)?.get(inc);
    if (known === undefined) return 'new';
    return known === Buffer.from(key).toString('hex') ? 'same' : 'conflict';
  }

  /** Remember key for name/inc (refreshes its age). Only for a key check() did not call a conflict. */
  remember(name: string, inc: string, key: Uint8Array): void {
    let incs = this.byName.get(name);
    if (!incs) this.byName.set(name, (incs = new Map()));
    incs.delete(inc);
    incs.set(inc, Buffer.from(key).toString('hex'));
    const id = `${name}/${inc}`;
    this.order.delete(id);
    this.order.set(id, [name, inc]);
    for (const old of incarnationsToForget([...incs.keys()], this.maxPerName)) this.forget(name, old);
    while (this.order.size > this.max) {
      const [oldName, oldInc] = this.order.values().next().value!;
      this.forget(oldName, oldInc);
    }
  }

  private forget(name: string, inc: string): void {
    this.order.delete(`${name}/${inc}`);
    const incs = this.byName.get(name);
    if (!incs) return;
    incs.delete(inc);
    if (incs.size === 0) this.byName.delete(name);
  }

  /** Incarnations remembered (for tests). */
  get size(): number {
    return this.order.size;
  }

  /** Node names with a remembered incarnation (for tests). */
  get names(): number {
    return this.byName.size;
  }
}
