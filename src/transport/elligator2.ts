// Elligator 2 onto Curve25519: the map CPace's X25519 suite uses to turn a hash into
// a generator (draft-irtf-cfrg-cpace, "Elligator 2 reference implementation";
// RFC 9380 section 6.7.1, map_to_curve_elligator2 with Z = 2), on the u-coordinate
// only, with BigInt arithmetic in the field of p = 2^255 - 19.
// - decodeUCoordinate() is RFC 7748's: 32 little-endian bytes with bit 255 cleared;
//   the map reduces the result modulo p, so non-canonical inputs are accepted.
// - The result is always the u-coordinate of a point ON the curve (never the twist),
//   encoded canonically (below p) in 32 little-endian bytes.
// - The choice between the two candidates is the draft's arithmetic select
//   x = e*v - (1 - e)*A/2 with e the Legendre symbol, not a branch. BigInt is still not
//   constant-time (operation time depends a little on operand sizes); CPace calls
//   this once per cookie and process, so a timing observer gets one sample.
// Invariants: pure; no input can make it throw (1 + 2r^2 is never 0 mod p since 2 is
// a non-square); exponents are public constants.

/** Curve25519's field prime, 2^255 - 19. */
export const P25519 = (1n << 255n) - 19n;

/** Curve25519's Montgomery coefficient A (B = 1). */
const A = 486662n;

/** A/2 mod p (A is even). */
const HALF_A = A / 2n;

/** Elligator 2's non-square Z for this field (the draft's find_z_ell2 gives 2). */
const Z = 2n;

/** Bytes in an encoded u-coordinate. */
export const U_BYTES = 32;

function mod(x: bigint): bigint {
  const r = x % P25519;
  return r < 0n ? r + P25519 : r;
}

/** base^exp mod p by square-and-multiply; exp is a public constant. */
function powMod(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P25519;
    b = (b * b) % P25519;
  }
  return result;
}

/** RFC 7748's decodeUCoordinate for 255 bits: little-endian, bit 255 ignored. The result may be >= p. */
export function decodeUCoordinate(bytes: Uint8Array): bigint {
  if (bytes.length !== U_BYTES) throw new RangeError(`a u-coordinate is ${U_BYTES} bytes`);
  let u = BigInt(bytes[31]! & 0x7f);
  for (let i = 30; i >= 0; i--) u = (u << 8n) | BigInt(bytes[i]!);
  return u;
}

/** RFC 7748's encodeUCoordinate: u reduced modulo p, 32 little-endian bytes. */
export function encodeUCoordinate(u: bigint): Buffer {
  const out = Buffer.alloc(U_BYTES);
  let v = mod(u);
  for (let i = 0; i < U_BYTES; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * map_to_curve_elligator2 for Curve25519, u-coordinate only: the field element r (any
 * integer; reduced mod p) to the u-coordinate of a curve point, in [0, p).
 */
export function elligator2(r: bigint): bigint {
  const d = mod(1n + Z * r * r); // never 0: -1/2 is a non-square mod p
  const v = mod(-A * powMod(d, P25519 - 2n)); // -A / (1 + Z r^2)
  const gv = mod(((v + A) * v + 1n) * v); // v^3 + A v^2 + v
  const e = powMod(gv, (P25519 - 1n) / 2n); // Legendre symbol: 1, p - 1 (i.e. -1), or 0
  return mod(e * v - (1n - e) * HALF_A);
}

/** The generator map of CPace's X25519 suite: 32 hash bytes -> decodeUCoordinate -> Elligator 2 -> 32-byte u-coordinate. */
export function mapToCurve25519(hash: Uint8Array): Buffer {
  return encodeUCoordinate(elligator2(decodeUCoordinate(hash)));
}
