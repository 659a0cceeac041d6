// Elligator 2 onto Curve25519 (u-coordinate): RFC 9380's map_to_curve vectors
// (appendix J.7.1, curve25519_XMD:SHA-512_ELL2_RO_: each u and its point Q0 or Q1
// before cofactor clearing, which cover both of the map's candidates), the CPace
// draft's X25519 generator vector, and seeded properties: every output lies on the
// curve (not the twist), the map is even in r, and input encodings follow RFC 7748.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUCoordinate, elligator2, encodeUCoordinate, mapToCurve25519, P25519 } from '../../src/transport/elligator2.js';
import { seededRandom } from '../../src/util/random.js';

const A = 486662n;
const big = (beHex: string): bigint => BigInt(`0x${beHex}`);

/** Euler's criterion, written independently of the module: 1 for a non-zero square, p - 1 for a non-square. */
function legendre(x: bigint): bigint {
  let result = 1n;
  let b = ((x % P25519) + P25519) % P25519;
  for (let e = (P25519 - 1n) / 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P25519;
    b = (b * b) % P25519;
  }
  return result;
}

/** 1/x mod p by Fermat, for the test's own bookkeeping. */
function inverse(x: bigint): bigint {
  let result = 1n;
  let b = ((x % P25519) + P25519) % P25519;
  for (let e = P25519 - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P25519;
    b = (b * b) % P25519;
  }
  return result;
}

/** True if u is the u-coordinate of a point on Curve25519 (v^2 = u^3 + A u^2 + u has a solution). */
function onCurve(u: bigint): boolean {
  const rhs = (((u * u * u + A * u * u + u) % P25519) + P25519) % P25519;
  return rhs === 0n || legendre(rhs) === 1n;
}

// RFC 9380 J.7.1: [u, Q.x] pairs, big-endian field elements.
const RFC9380_MAP: [string, string][] = [
  ['0ee65264ee7fd5f177f17f00d9f669169cc3071e4edd56a27f5654911b30fb45', '71ce39805cdf4a5877f05ecbc1e0bab4d5c427ef27432a1724ce22512d707ace'],
  ['65fabaa0d2ddbb06318adc118325ffb69c2cf04ffb2b3c2240415067659530e4', '0f6ec145dd4faf417e82a555e767d3f8d799fb1d183405148ae988a08bf59eb4'],
  ['3f64d0a84c276012b40d1bb660988d7f3529a17eea28d286f870dbc4d33a7207', '1e470043ba9e1409ee7075e7f489b5ad10ada9390338e336c9cd190179476574'],
  ['005d866877b6cf987e63978171392872237e6c801f2180290a7b6ffd75803186', '41fffa025bdfa4e1e3fa22c3baebb351f8a724d4b5256bc9d91dd8c002e82a71'],
  ['00c34061c3588f2b55b5e2f037f19bd86ccda574d7ef87931cde60cf490fdffd', '0193047494b5b93497d8a0c3ab515fee3b41748f0f6e38016637cbaee08edcdc'],
  ['56f69388986103a60d1a54a7d5042e2d537d929db2227beb8fd70058afe5fb1a', '37c9cb0bb46711237ae393f43bb46f31d160189cdea780439e76ae36ceb175a9'],
  ['6683b676aa69e76833b50afe48cb70675608fdd3f5e4d417f651d10d3e995bb5', '0ddf9ee23c4b5f876676d25a7639fa52bae7d9c48b0fc44c30d0c7723640e9d8'],
  ['384201985801db4c1342b595ea12b358a40e5e6224288edb3e803daa3b64306a', '5db604d99506067b8b4b8b514b172dd50d70f93490369fcb0df061c6bfd8a02d'],
];

test('map_to_curve_elligator2 matches RFC 9380 (curve25519_XMD:SHA-512_ELL2_RO_), through both candidates', () => {
  let firstCandidate = 0;
  for (const [u, x] of RFC9380_MAP) {
    const r = big(u);
    assert.equal(elligator2(r).toString(16), big(x).toString(16), `u = ${u}`);
    // Which candidate the map took: x1 = -A / (1 + 2 r^2) when x1^3 + A x1^2 + x1 is a square.
    const x1 = ((-A * inverse(1n + 2n * r * r)) % P25519 + P25519) % P25519;
    if (elligator2(r) === x1) firstCandidate++;
  }
  assert.ok(firstCandidate > 0 && firstCandidate < RFC9380_MAP.length, `both candidates exercised (first taken ${firstCandidate} times)`);
});

test('the CPace draft X25519 vector: hash -> decoded field element (bit 255 cleared) -> generator g', () => {
  const hash = Buffer.from('03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed1d3', 'hex');
  const decoded = Buffer.from('03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed153', 'hex');
  assert.equal(decodeUCoordinate(hash), decodeUCoordinate(decoded));
  assert.deepEqual(encodeUCoordinate(decodeUCoordinate(hash)), decoded);
  assert.equal(mapToCurve25519(hash).toString('hex'), 'd04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b62f05a73f');
});

test('u-coordinate encoding: little-endian, bit 255 ignored on decode, reduced mod p on encode, 32 bytes only', () => {
  const one = Buffer.alloc(32);
  one[0] = 1;
  assert.equal(decodeUCoordinate(one), 1n);
  const top = Buffer.alloc(32);
  top[31] = 0x80;
  assert.equal(decodeUCoordinate(top), 0n);
  assert.equal(decodeUCoordinate(Buffer.alloc(32, 0xff)), (1n << 255n) - 1n);
  assert.deepEqual(encodeUCoordinate(P25519 + 5n), encodeUCoordinate(5n));
  assert.equal(encodeUCoordinate(P25519 - 1n).toString('hex'), 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
  assert.throws(() => decodeUCoordinate(Buffer.alloc(31)), RangeError);
  assert.throws(() => decodeUCoordinate(Buffer.alloc(33)), RangeError);
});

test('seeded: every output is canonical and on the curve; the map is even in r; non-canonical inputs map as their reduction', () => {
  const random = seededRandom(9380);
  for (let i = 0; i < 64; i++) {
    const bytes = random.bytes(32);
    const r = decodeUCoordinate(bytes);
    const u = elligator2(r);
    assert.ok(u >= 0n && u < P25519);
    assert.ok(onCurve(u), `off the curve for input ${bytes.toString('hex')}`);
    assert.equal(elligator2(P25519 - (r % P25519)), u);
    assert.equal(elligator2(r + P25519), u);
    const flipped = Buffer.from(bytes);
    flipped[31] = flipped[31]! ^ 0x80;
    assert.deepEqual(mapToCurve25519(flipped), mapToCurve25519(bytes));
  }
  // Edge inputs never throw and stay on the curve.
  for (const r of [0n, 1n, P25519 - 1n, P25519, (1n << 255n) - 1n]) assert.ok(onCurve(elligator2(r)));
});
