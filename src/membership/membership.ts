// Membership rules: the pure decisions the mesh takes when connections meet —
// which of two connections between the same pair survives, and which of two live
// nodes with the same name keeps it. Both sides compute the same answer from the
// same inputs (the two hellos), so they never disagree.

/** The facts about one connection the rules need. */
export interface ConnectionFacts {
  /** Name of the node that dialed this connection. */
  dialer: string;
}

/**
 * Two authenticated connections between the same two incarnations: keep the one
 * dialed by the node whose name sorts first. Returns 'existing' or 'incoming'.
 * Same dialer on both: the incoming one replaces the existing (the dialer gave up on it).
 */
export function preferConnection(existing: ConnectionFacts, incoming: ConnectionFacts, a: string, b: string): 'existing' | 'incoming' {
  if (existing.dialer === incoming.dialer) return 'incoming';
  const winner = a < b ? a : b;
  return existing.dialer === winner ? 'existing' : 'incoming';
}

/** One node's claim to a name, as seen in its hello. */
export interface NameClaim {
  inc: string;
  /** Milliseconds it had been running when it said hello. */
  up: number;
}

/** Of two live nodes with the same name, the one that keeps it: the longer running; ties by incarnation. */
export function nameHolder(x: NameClaim, y: NameClaim): NameClaim {
  if (x.up !== y.up) return x.up > y.up ? x : y;
  return x.inc < y.inc ? x : y;
}
