// Entry signatures: what an owner signs so that its registry entries can be relayed by
// any member and still be checked. The signed bytes name the owner and its incarnation
// and every field of the entry (name, stamp, version, released, epoch), after a domain
// label, each field length-prefixed, so no two different entries (or an entry and any
// other statement) share signed bytes.
// Invariant: the encoding is canonical (one byte string per entry); changing it is a
// protocol version change.
import type { Entry } from './registry.js';

const DOMAIN = Buffer.from('cluster-node registry entry v1', 'utf8');

function field(b: Buffer): Buffer[] {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return [len, b];
}

function num(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b;
}

/** The bytes an owner signs for entry e. */
export function entrySignedBytes(owner: string, inc: string, e: Entry): Uint8Array {
  return Buffer.concat([
    ...field(DOMAIN),
    ...field(Buffer.from(owner, 'utf8')),
    ...field(Buffer.from(inc, 'utf8')),
    ...field(Buffer.from(e.name, 'utf8')),
    ...field(num(e.stamp[0])),
    ...field(num(e.stamp[1])),
    ...field(num(e.version)),
    ...field(Buffer.from([e.released ? 1 : 0])),
    ...field(num(e.epoch ?? 0)),
  ]);
}

/** Whatever signs for this node: its incarnation's key. */
export interface EntrySigner {
  sign(data: Uint8Array): Uint8Array;
}

/** Whatever checks an owner's signatures: the key its incarnation proved to us. */
export interface EntryVerifier {
  verify(data: Uint8Array, sig: Uint8Array | undefined): boolean;
}
