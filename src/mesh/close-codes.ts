// Close codes: the goodbye codes the mesh sends in a `bye` before closing a connection,
// as one string-literal union instead of strings compared here and there. The wire
// carries the code as a string (wire/messages.ts); goodbyeCode() maps what a peer sent
// onto the union, so a code we do not know is just "no known code", never a crash.
// Invariant: a code's meaning never changes once released; peers of older versions
// read an unknown code as a plain close.

/** Every goodbye code the mesh sends or acts on. */
export type GoodbyeCode =
  /** Another connection between the same two nodes wins; the peer stays up. */
  | 'DUPLICATE'
  /**
   * The peer fell silent and was declared down. A peer that was only frozen reads it
   * when it wakes, and so learns that the closing side is alive and judged *it*.
   */
  | 'DECLARED_DOWN'
  /** The node is stopping. */
  | 'SHUTDOWN'
  /** The peer's name is held by a live node; the receiver is the newcomer and must stop. */
  | 'ERR_NAME_IN_USE'
  /** The peer broke the protocol (bad message, failed handler). */
  | 'ERR_PROTOCOL'
  /** The candidate was advertised under another name than the one its peer proved. */
  | 'NAME_MISMATCH'
  /** The peer presented another signing key than the one its incarnation proved before: an impostor. */
  | 'KEY_MISMATCH'
  /** Too many observers (hidden nodes) are connected, or a member's previous incarnation is being checked; try again later. */
  | 'BUSY'
  /** Two hidden nodes met: observers only talk to members. */
  | 'HIDDEN';

/** The goodbye codes, for validation and tests. */
export const GOODBYE_CODES: readonly GoodbyeCode[] = ['DUPLICATE', 'DECLARED_DOWN', 'SHUTDOWN', 'ERR_NAME_IN_USE', 'ERR_PROTOCOL', 'NAME_MISMATCH', 'KEY_MISMATCH', 'BUSY', 'HIDDEN'];

/** A goodbye: its code and a human-readable reason. */
export interface Goodbye {
  code: GoodbyeCode;
  reason: string;
}

/** The known goodbye code a peer sent, or undefined (none, or one we do not know). */
export function goodbyeCode(raw: string | undefined): GoodbyeCode | undefined {
  return raw !== undefined && (GOODBYE_CODES as readonly string[]).includes(raw) ? (raw as GoodbyeCode) : undefined;
}

/** The goodbye a stopping node sends to each peer. */
export const SHUTDOWN_GOODBYE: Goodbye = { code: 'SHUTDOWN', reason: 'node is stopping' };
