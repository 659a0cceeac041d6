// CPace: the primitives of the balanced PAKE CPace (draft-irtf-cfrg-cpace, checked
// against the test vectors of draft 21) for the cipher suite CPACE-X25519-SHA512:
// X25519 (RFC 7748) on Curve25519 with SHA-512. The scalar multiplications are
// node:crypto's native X25519; the generator map is elligator2.ts. handshake.ts
// composes these pieces.
// - The generator is derived from PRS (the cookie's bytes), CI and sid: the first 32
//   bytes of SHA-512 over the draft's zero-padded generator string, read as a
//   u-coordinate (bit 255 cleared), mapped onto the curve by Elligator 2.
// - A scalar is 32 bytes from the injected Random, used as they are: X25519 clamps
//   them (multiple of the cofactor 8, bit 254 set), exactly as the draft's
//   scalar_mult_vfy expects, so no value needs re-drawing.
// - A share is a 32-byte u-coordinate. Every 32-byte string decodes (bit 255 ignored,
//   values >= p reduced), as X25519 prescribes; a share that is a low-order point of
//   the curve or of its twist makes the product all zeros, and scalarMultVfy() then
//   answers G.I, which callers treat as "abort".
// - ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript_ir(Ya, ADa, Yb, ADb)).
// Invariants: K never leaves this file except inside deriveIsk(); secret scalars and
// the generator are opaque objects whose value no method prints or serialises. A raw
// key enters node:crypto as a JWK (the fast import path): the scalar's base64url text
// is a short-lived string that cannot be wiped, as a BigInt could not be before.
import { createHash, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mapToCurve25519 } from './elligator2.js';
import type { Random } from '../util/random.js';

/** Domain-separation identifier of the X25519 group environment (G_X25519.DSI). */
export const CPACE_DSI = Buffer.from('CPace255', 'latin1');

/** Bytes in a share: an X25519 u-coordinate. */
export const CPACE_SHARE_BYTES = 32;

/** Bytes in the ISK (SHA-512 output). */
export const CPACE_ISK_BYTES = 64;

/** SHA-512's input block size: the generator string is padded to fill its first block. */
const SHA512_BLOCK_BYTES = 128;

/** The public encoding of the neutral element, G.I: 32 zero bytes. */
export const CPACE_IDENTITY: Readonly<Uint8Array> = new Uint8Array(CPACE_SHARE_BYTES);

/**
 * JWK import of an X25519 private key needs an `x` member, which node:crypto does not
 * read (it derives the public key from `d`); this placeholder fills it.
 */
const UNUSED_JWK_X = Buffer.alloc(CPACE_SHARE_BYTES).toString('base64url');

const REDACTED = '[redacted]';

function sha512(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The draft's prepend_len: the LEB128 encoding of the length, then the bytes. */
export function prependLen(data: Uint8Array): Buffer {
  const len: number[] = [];
  let n = data.length;
  do {
    len.push(n < 128 ? n : (n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.concat([Buffer.from(len), data]);
}

/** The draft's lv_cat: each argument with its length prepended, concatenated. */
export function lvCat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map(prependLen));
}

/** The draft's generator_string(DSI, PRS, CI, sid, s_in_bytes), padding DSI and PRS to fill the first hash block. */
export function generatorString(dsi: Uint8Array, prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, sInBytes = SHA512_BLOCK_BYTES): Buffer {
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/** The draft's transcript_ir for the initiator-responder setting: lv_cat(Ya, ADa) || lv_cat(Yb, ADb). */
export function transcriptIr(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Buffer {
  return Buffer.concat([lvCat(ya, adA), lvCat(yb, adB)]);
}

/** A u-coordinate as an X25519 public key (any 32 bytes are accepted, as RFC 7748 requires). */
function publicKeyOf(u: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64url') }, format: 'jwk' });
}

/** X25519(y, u); G.I when the result is all zeros (node:crypto refuses to output it; checked again here). */
function x25519(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey, publicKey });
  } catch {
    return new Uint8Array(CPACE_IDENTITY); // OpenSSL fails the derivation when the product is all zeros; any other failure aborts too
  }
  return isIdentity(out) ? new Uint8Array(CPACE_IDENTITY) : out;
}

// Readers of the private fields below, for this file only (set in the classes' static blocks).
let generatorKey: (g: CpaceGenerator) => KeyObject;
let scalarKey: (y: CpaceScalar) => KeyObject;

/** A CPace generator: derived from the password, so it is password-equivalent and never shown. */
export class CpaceGenerator {
  readonly #u: Buffer;
  readonly #key: KeyObject;

  static {
    generatorKey = (g) => g.#key;
  }

  /** @internal use calculateGenerator() */
  constructor(u: Buffer) {
    this.#u = u;
    this.#key = publicKeyOf(u);
  }

  /** The generator's u-coordinate (for test vectors only). */
  encode(): Uint8Array {
    return Buffer.from(this.#u);
  }

  toJSON(): string {
    return REDACTED;
  }
}

/**
 * G.calculate_generator(H, PRS, CI, sid): the first 32 bytes of SHA-512 over the generator
 * string, decoded as a u-coordinate and mapped by Elligator 2 (about 1 ms of BigInt
 * arithmetic; callers with a fixed CI and sid keep the result).
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): CpaceGenerator {
  const hash = sha512(generatorString(CPACE_DSI, prs, ci, sid));
  const u = mapToCurve25519(hash.subarray(0, CPACE_SHARE_BYTES));
  hash.fill(0);
  return new CpaceGenerator(u);
}

/** A secret ephemeral scalar; drop every reference to it once the ISK is computed. */
export class CpaceScalar {
  readonly #key: KeyObject;

  static {
    scalarKey = (y) => y.#key;
  }

  /** @internal use sampleScalar() or scalarFromBytes() */
  constructor(key: KeyObject) {
    this.#key = key;
  }

  toJSON(): string {
    return REDACTED;
  }
}

/** 32 bytes as an X25519 scalar (X25519 clamps them when it multiplies). */
export function scalarFromBytes(bytes: Uint8Array): CpaceScalar {
  if (bytes.length !== 32) throw new RangeError('a scalar is 32 bytes');
  const d = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  return new CpaceScalar(createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: UNUSED_JWK_X }, format: 'jwk' }));
}

/** G.sample_scalar(): 32 bytes from random (the draft's sampler for X25519: no rejection needed). */
export function sampleScalar(random: Random): CpaceScalar {
  const bytes = random.bytes(32);
  const y = scalarFromBytes(bytes);
  bytes.fill(0);
  return y;
}

/** G.scalar_mult(y, g) = X25519(y, g): the share to send to the peer. */
export function scalarMult(y: CpaceScalar, g: CpaceGenerator): Uint8Array {
  return x25519(scalarKey(y), generatorKey(g));
}

/** True if x can be a share: 32 bytes (any such string is a u-coordinate; low-order points are caught by scalarMultVfy). */
export function isValidShare(x: Uint8Array): boolean {
  return x instanceof Uint8Array && x.length === CPACE_SHARE_BYTES;
}

/** True if x encodes the neutral element G.I. */
export function isIdentity(x: Uint8Array): boolean {
  return x.length === CPACE_SHARE_BYTES && x.every((b) => b === 0);
}

/**
 * G.scalar_mult_vfy(y, X) = X25519(y, X); G.I (all zeros) when X is not 32 bytes or the
 * product is all zeros (X a low-order point of the curve or its twist). Callers abort on G.I.
 */
export function scalarMultVfy(y: CpaceScalar, x: Uint8Array): Uint8Array {
  if (!isValidShare(x)) return new Uint8Array(CPACE_IDENTITY);
  let peer: KeyObject;
  try {
    peer = publicKeyOf(x);
  } catch {
    return new Uint8Array(CPACE_IDENTITY); // not expected: node:crypto takes any 32 bytes
  }
  return x25519(scalarKey(y), peer);
}

/** ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript): the 64-byte intermediate session key. */
export function deriveIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Buffer {
  return sha512(lvCat(Buffer.concat([CPACE_DSI, Buffer.from('_ISK', 'latin1')]), sid, k), transcript);
}
