// CPace: the primitives of the balanced PAKE CPace (draft-irtf-cfrg-cpace-02) for the
// cipher suite CPACE-RISTR255-SHA512: ristretto255 (RFC 9496) with SHA-512. This is
// the only file that imports @noble/curves; handshake.ts composes these pieces.
// - The generator is derived from PRS (the cookie's bytes), CI and sid: SHA-512 over
//   the draft's zero-padded generator string, then RFC 9496 element derivation.
// - A scalar is 32 random bytes from the injected Random with the bits above 252
//   cleared (the draft's recommended sampler); zero is re-drawn.
// - Shares are canonical 32-byte encodings. A received share is decoded strictly:
//   non-canonical encodings, non-points and the identity element are rejected, and
//   scalarMultVfy() answers the identity (G.I) for any of them, which callers treat
//   as "abort".
// - ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript_ir(Ya, ADa, Yb, ADb)).
// Invariants: K never leaves this file except inside deriveIsk(); secret scalars and
// the generator are opaque objects whose value no method prints or serialises.
import { createHash } from 'node:crypto';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import type { Random } from '../util/random.js';

type Point = InstanceType<typeof ristretto255.Point>;

/** Domain-separation identifier of the ristretto255 group environment. */
export const CPACE_DSI = Buffer.from('CPaceRistretto255', 'latin1');

/** Bytes in an encoded ristretto255 element (a share). */
export const CPACE_SHARE_BYTES = 32;

/** Bytes in the ISK (SHA-512 output). */
export const CPACE_ISK_BYTES = 64;

/** SHA-512's input block size: the generator string is padded to fill its first block. */
const SHA512_BLOCK_BYTES = 128;

/** The public encoding of the identity element, G.I: 32 zero bytes. */
export const CPACE_IDENTITY: Readonly<Uint8Array> = new Uint8Array(CPACE_SHARE_BYTES);

/** Largest value a sampled scalar can take is 2^252 - 1, below the group order. */
const SCALAR_MASK = (1n << 252n) - 1n;

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

// Readers of the private fields below, for this file only (set in the classes' static blocks).
let generatorPoint: (g: CpaceGenerator) => Point;
let scalarValue: (y: CpaceScalar) => bigint;

/** A CPace generator: derived from the password, so it is password-equivalent and never shown. */
export class CpaceGenerator {
  readonly #point: Point;

  static {
    generatorPoint = (g) => g.#point;
  }

  /** @internal use calculateGenerator() */
  constructor(point: Point) {
    this.#point = point;
  }

  /** The generator's canonical encoding (for test vectors only). */
  encode(): Uint8Array {
    return this.#point.toBytes();
  }

  toJSON(): string {
    return REDACTED;
  }
}

/** Window of the table built for a reused generator: 4 bits (built once in ~10 ms; each share then costs ~0.5 ms instead of ~2.5 ms). */
const REUSED_GENERATOR_WINDOW = 4;

/**
 * G.calculate_generator(H, PRS, CI, sid): SHA-512 of the generator string, then ristretto255
 * element derivation. With reuse, a multiplication table is built once (about 10 ms) so every
 * later scalarMult() with this generator is several times faster.
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, reuse = false): CpaceGenerator {
  const hash = sha512(generatorString(CPACE_DSI, prs, ci, sid));
  const point = ristretto255_hasher.deriveToCurve!(hash);
  hash.fill(0);
  if (reuse) point.precompute(REUSED_GENERATOR_WINDOW, false);
  return new CpaceGenerator(point);
}

/** A secret ephemeral scalar; drop every reference to it once the ISK is computed. */
export class CpaceScalar {
  readonly #value: bigint;

  static {
    scalarValue = (y) => y.#value;
  }

  /** @internal use sampleScalar() or scalarFromBytes() */
  constructor(value: bigint) {
    this.#value = value;
  }

  toJSON(): string {
    return REDACTED;
  }
}

/** Read 32 little-endian bytes as a scalar with the bits above 252 cleared (the draft's sampler applied to given bytes). */
export function scalarFromBytes(bytes: Uint8Array): CpaceScalar {
  if (bytes.length !== 32) throw new RangeError('a scalar is 32 bytes');
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return new CpaceScalar(v & SCALAR_MASK);
}

/** G.sample_scalar(): 32 bytes from random with the top bits cleared; a zero scalar (odds 2^-252) is re-drawn. */
export function sampleScalar(random: Random): CpaceScalar {
  for (;;) {
    const bytes = random.bytes(32);
    const y = scalarFromBytes(bytes);
    bytes.fill(0);
    if (scalarValue(y) !== 0n) return y;
  }
}

/** G.scalar_mult(y, g): the encoded share y*g to send to the peer. */
export function scalarMult(y: CpaceScalar, g: CpaceGenerator): Uint8Array {
  return generatorPoint(g).multiply(scalarValue(y)).toBytes();
}

function decodeShare(x: Uint8Array): Point | undefined {
  if (!(x instanceof Uint8Array) || x.length !== CPACE_SHARE_BYTES) return undefined;
  let p: Point;
  try {
    p = ristretto255.Point.fromBytes(x);
  } catch {
    return undefined; // not a canonical encoding of a group element
  }
  return p.is0() ? undefined : p;
}

/** True if x is the canonical encoding of a group element other than the identity. */
export function isValidShare(x: Uint8Array): boolean {
  return decodeShare(x) !== undefined;
}

/** True if x encodes the identity element G.I. */
export function isIdentity(x: Uint8Array): boolean {
  return x.length === CPACE_SHARE_BYTES && x.every((b) => b === 0);
}

/**
 * G.scalar_mult_vfy(y, X): y times the decoded share X, encoded; G.I (all zeros) when X is
 * not a canonical encoding, is the identity, or the product is the identity. Callers abort on G.I.
 */
export function scalarMultVfy(y: CpaceScalar, x: Uint8Array): Uint8Array {
  const p = decodeShare(x);
  if (!p) return new Uint8Array(CPACE_IDENTITY);
  const k = p.multiply(scalarValue(y));
  return k.is0() ? new Uint8Array(CPACE_IDENTITY) : k.toBytes();
}

/** ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript): the 64-byte intermediate session key. */
export function deriveIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Buffer {
  return sha512(lvCat(Buffer.concat([CPACE_DSI, Buffer.from('_ISK', 'latin1')]), sid, k), transcript);
}
