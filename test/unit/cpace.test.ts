// CPace primitives against the test vectors of draft-irtf-cfrg-cpace (draft 21),
// appendix "Test vectors", section "Test vector for CPace using group X25519 and hash
// SHA-512" (calculate_generator, messages from A and B, secret points K, ISK for the
// initiator/responder setting, and "G_X25519.scalar_mult_vfy: low order points"), plus
// the string utilities of the appendix "CPace function definitions" (prepend_len, lv_cat).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  CPACE_DSI,
  calculateGenerator,
  deriveIsk,
  generatorString,
  isIdentity,
  isValidShare,
  lvCat,
  prependLen,
  sampleScalar,
  scalarFromBytes,
  scalarMult,
  scalarMultVfy,
  transcriptIr,
} from '../../src/transport/cpace.js';
import { seededRandom } from '../../src/util/random.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Inputs of the X25519 / SHA-512 vectors.
const PRS = Buffer.from('Password', 'latin1');
const CI = hex('0b415f696e69746961746f720b425f726573706f6e646572'); // lv_cat(b'A_initiator', b'B_responder')
const SID = hex('7e4b4791d6a8ef019b936c79fb7f2c57');
const ADA = Buffer.from('ADa', 'latin1');
const ADB = Buffer.from('ADb', 'latin1');
const YA_SCALAR = hex('21b4f4bd9e64ed355c3eb676a28ebedaf6d8f17bdc365995b319097153044080');
const YB_SCALAR = hex('848b0779ff415f0af4ea14df9dd1d3c29ac41d836c7808896c4eba19c51ac40a');

// Outputs.
const GEN_STRING = hex(`
  0843506163653235350850617373776f72646d000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000180b415f696e69746961746f
  720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
  2c57`);
const G = 'd04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b62f05a73f';
const YA = '1d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc989ce0c9f32';
const YB = '248cccf6d5cdc3646f0ad593f9e6cef4e69d4945f8372e623512ecea32185623';
const K = '5b067effbdc0b2a0e1d907b21ebb25cfedb96a852179a847c37e43ee71322c6b';
const TRANSCRIPT_IR = hex(`
  201d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc9
  89ce0c9f320341446120248cccf6d5cdc3646f0ad593f9e6cef4e69d
  4945f8372e623512ecea3218562303414462`);
const ISK_IR = hex(`
  6e19b875f7a561d6b3ca3dbb9ef42ac55de3e717881018204b8922b4
  d5e53bb2aa82c300bea7b65d2b671da71922ddf6472301b79bc270ad
  fa8bf413285f2263`);

test('prepend_len and lv_cat match the draft', () => {
  assert.equal(toHex(prependLen(new Uint8Array(0))), '00');
  assert.equal(toHex(prependLen(Buffer.from('1234'))), '0431323334');
  const r127 = Uint8Array.from({ length: 127 }, (_, i) => i);
  const r128 = Uint8Array.from({ length: 128 }, (_, i) => i);
  assert.equal(toHex(prependLen(r127).subarray(0, 2)), '7f00');
  assert.equal(prependLen(r127).length, 128);
  assert.equal(toHex(prependLen(r128).subarray(0, 3)), '800100');
  assert.equal(prependLen(r128).length, 130);
  assert.equal(toHex(lvCat(Buffer.from('1234'), Buffer.from('5'), Buffer.alloc(0), Buffer.from('678'))), '043132333401350003363738');
});

test('calculate_generator: generator string (ZPAD 109) and generator g', () => {
  assert.equal(toHex(CPACE_DSI), toHex(Buffer.from('CPace255')));
  const s = generatorString(CPACE_DSI, PRS, CI, SID);
  assert.equal(s.length, 170);
  assert.equal(toHex(s), toHex(GEN_STRING));
  assert.equal(toHex(calculateGenerator(PRS, CI, SID).encode()), G);
});

test('messages from A and B, secret points K and ISK (initiator/responder)', () => {
  const g = calculateGenerator(PRS, CI, SID);
  const ya = scalarFromBytes(YA_SCALAR);
  const yb = scalarFromBytes(YB_SCALAR);
  const shareA = scalarMult(ya, g);
  const shareB = scalarMult(yb, g);
  assert.equal(toHex(shareA), YA);
  assert.equal(toHex(shareB), YB);
  const kA = scalarMultVfy(ya, shareB);
  const kB = scalarMultVfy(yb, shareA);
  assert.equal(toHex(kA), K);
  assert.equal(toHex(kB), K);
  const transcript = transcriptIr(shareA, ADA, shareB, ADB);
  assert.equal(toHex(transcript), toHex(TRANSCRIPT_IR));
  assert.equal(toHex(deriveIsk(SID, kA, transcript)), toHex(ISK_IR));
});

// draft-irtf-cfrg-cpace, "Test vectors for G_X25519.scalar_mult_vfy: low order points":
// s and u0..ub with the expected results q0..qb (null: the neutral element G.I, i.e. abort).
const VFY_SCALAR = hex('af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff');
const LOW_ORDER: [string, string, string | null][] = [
  ['u0', '0000000000000000000000000000000000000000000000000000000000000000', null],
  ['u1', '0100000000000000000000000000000000000000000000000000000000000000', null],
  ['u2', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', null],
  ['u3', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', null],
  ['u4', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', null],
  ['u5', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', null],
  ['u6', 'daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'd8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806'],
  ['u7', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', null],
  ['u8', 'dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38'],
  ['u9', 'd9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456'],
  ['ua', 'cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880', 'e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a'],
  ['ub', '4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7', '993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175'],
];

for (const [name, u, q] of LOW_ORDER) {
  test(`scalar_mult_vfy with the draft's ${name}: ${q === null ? 'G.I (abort)' : 'the expected point (bit 255 cleared, value reduced mod p)'}`, () => {
    const s = scalarFromBytes(VFY_SCALAR);
    assert.ok(isValidShare(hex(u)));
    const k = scalarMultVfy(s, hex(u));
    if (q === null) assert.ok(isIdentity(k), toHex(k));
    else assert.equal(toHex(k), q);
  });
}

test('a share of the wrong length is invalid and scalar_mult_vfy answers G.I', () => {
  const s = scalarFromBytes(VFY_SCALAR);
  for (const share of [Buffer.from(YA, 'hex').subarray(0, 31), Buffer.concat([Buffer.from(YA, 'hex'), Buffer.alloc(1)]), Buffer.alloc(0)]) {
    assert.equal(isValidShare(share), false);
    assert.ok(isIdentity(scalarMultVfy(s, share)));
  }
  assert.throws(() => scalarFromBytes(Buffer.alloc(31)), RangeError);
});

test('a share that is a subarray of a larger buffer is read at its own offset', () => {
  const g = calculateGenerator(PRS, CI, SID);
  const padded = Buffer.concat([Buffer.alloc(7, 0xaa), Buffer.from(YB, 'hex'), Buffer.alloc(5, 0xbb)]);
  assert.equal(toHex(scalarMultVfy(scalarFromBytes(YA_SCALAR), padded.subarray(7, 39))), K);
  const scalarInside = Buffer.concat([Buffer.alloc(3), YA_SCALAR, Buffer.alloc(9)]).subarray(3, 35);
  assert.equal(toHex(scalarMult(scalarFromBytes(scalarInside), g)), YA);
});

test('sampled scalars take one 32-byte draw from the injected Random, replay from a seed, and are never printed', () => {
  const random = seededRandom(7);
  const g = calculateGenerator(PRS, CI, SID);
  const shares = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const y = sampleScalar(random);
    assert.equal(JSON.stringify(y), '"[redacted]"');
    assert.doesNotMatch(inspect(y, { showHidden: true, depth: 5 }), /[A-Za-z0-9_-]{40,}|\d{20,}/);
    shares.add(toHex(scalarMult(y, g)));
  }
  assert.equal(shares.size, 20);
  // Same seed, same scalars: simulations replay.
  const again = seededRandom(7);
  assert.equal(toHex(scalarMult(sampleScalar(again), g)), [...shares][0]);
  // One draw of 32 bytes per scalar, and the drawn buffer is wiped.
  const draws: Buffer[] = [];
  const recording = { float: () => 0, bytes: (n: number) => (draws.push(Buffer.alloc(n, 1)), draws.at(-1)!) };
  const y = sampleScalar(recording);
  assert.deepEqual(draws.map((b) => b.length), [32]);
  assert.ok(draws[0]!.every((b) => b === 0));
  assert.equal(toHex(scalarMult(y, g)), toHex(scalarMult(scalarFromBytes(Buffer.alloc(32, 1)), g)));
  // Even all-zero bytes make a usable scalar: X25519 clamping sets bit 254.
  assert.ok(!isIdentity(scalarMult(scalarFromBytes(Buffer.alloc(32)), g)));
  // Clamping: the low three bits and bit 255 do not matter, bit 254 is always set.
  const base = Buffer.from(YA_SCALAR);
  const tweaked = Buffer.from(base);
  tweaked[0] = tweaked[0]! ^ 0x07;
  tweaked[31] = (tweaked[31]! ^ 0x80) | 0x40;
  assert.equal(toHex(scalarMult(scalarFromBytes(tweaked), g)), YA);
});

test('different passwords give different generators; a generator is never printed', () => {
  assert.notEqual(toHex(calculateGenerator(Buffer.from('a'), CI, SID).encode()), toHex(calculateGenerator(Buffer.from('b'), CI, SID).encode()));
  const g = calculateGenerator(PRS, CI, SID);
  assert.equal(JSON.stringify(g), '"[redacted]"');
  assert.doesNotMatch(inspect(g, { showHidden: true, depth: 5 }), /d04bf6d4|[A-Za-z0-9_-]{40,}/);
  // encode() hands out a copy.
  g.encode().fill(0);
  assert.equal(toHex(g.encode()), G);
});
