// CPace primitives against the test vectors of draft-irtf-cfrg-cpace-02, appendix
// "Test vectors", section "Test vector for CPace using group ristretto255 and hash
// SHA-512" (calculate_generator, messages from A and B, secret points K, ISK for the
// initiator/responder setting, scalar_mult with valid inputs, invalid inputs for
// scalar_mult_vfy), plus the string utilities of the appendix "CPace function
// definitions" (prepend_len, lv_cat). Non-canonical ristretto255 encodings come from
// RFC 9496 appendix A.2.
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

// Inputs of the ristretto255 / SHA-512 vectors.
const PRS = Buffer.from('Password', 'latin1');
const CI = hex('0b415f696e69746961746f720b425f726573706f6e646572'); // lv_cat(b'A_initiator', b'B_responder')
const SID = hex('7e4b4791d6a8ef019b936c79fb7f2c57');
const ADA = Buffer.from('ADa', 'latin1');
const ADB = Buffer.from('ADb', 'latin1');
const YA_SCALAR = hex('da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08');
const YB_SCALAR = hex('d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d');

// Outputs.
const GEN_STRING = hex(`
  11435061636552697374726574746f3235350850617373776f726464
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000180b415f696e69746961746f
  720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
  2c57`);
const G = '222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56';
const YA = 'd6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157';
const YB = '3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258';
const K = '80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f';
const TRANSCRIPT_IR = hex(`
  20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e
  ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa
  8232b5ebe63324e2d9e7433f725803414462`);
const ISK_IR = hex(`
  b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc
  ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c
  3fa2068af7900447`);

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

test('calculate_generator: generator string and encoded generator g', () => {
  assert.equal(toHex(CPACE_DSI), toHex(Buffer.from('CPaceRistretto255')));
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

test('a generator built for reuse (with its multiplication table) gives the same shares', () => {
  const g = calculateGenerator(PRS, CI, SID, true);
  assert.equal(toHex(g.encode()), G);
  assert.equal(toHex(scalarMult(scalarFromBytes(YA_SCALAR), g)), YA);
  assert.equal(toHex(scalarMult(scalarFromBytes(YB_SCALAR), g)), YB);
});

test('scalar_mult_vfy with valid inputs', () => {
  const s = scalarFromBytes(hex('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05'));
  const x = hex('2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c');
  assert.ok(isValidShare(x));
  assert.equal(toHex(scalarMultVfy(s, x)), '7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e');
});

const INVALID_SHARES: [string, Buffer][] = [
  // draft-irtf-cfrg-cpace-02, "Invalid inputs for scalar_mult_vfy" (ristretto255).
  ['draft Y_i1: not a valid encoding', hex('2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c')],
  ['draft Y_i2: the identity G.I', Buffer.alloc(32)],
  // RFC 9496 A.2: non-canonical field encodings and negative field elements.
  ['non-canonical s (00ff..ff)', hex('00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff')],
  ['non-canonical s (ff..7f)', hex('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')],
  ['non-canonical s (f3ff..7f)', hex('f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')],
  ['non-canonical s (edff..7f)', hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')],
  ['negative s (01)', hex('0100000000000000000000000000000000000000000000000000000000000000')],
  ['negative s (01ff..7f)', hex('01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')],
  ['31 bytes', Buffer.from(YA, 'hex').subarray(0, 31)],
  ['33 bytes', Buffer.concat([Buffer.from(YA, 'hex'), Buffer.alloc(1)])],
  ['empty', Buffer.alloc(0)],
];

for (const [what, share] of INVALID_SHARES) {
  test(`an invalid share is rejected and scalar_mult_vfy answers G.I: ${what}`, () => {
    const s = scalarFromBytes(hex('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05'));
    assert.equal(isValidShare(share), false);
    const k = scalarMultVfy(s, share);
    assert.ok(isIdentity(k), toHex(k));
  });
}

test('sampled scalars are below 2^252, non-zero, drawn from the injected Random and never printed', () => {
  const random = seededRandom(7);
  const g = calculateGenerator(PRS, CI, SID);
  const shares = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const y = sampleScalar(random);
    assert.equal(JSON.stringify(y), '"[redacted]"');
    assert.doesNotMatch(inspect(y, { showHidden: true, depth: 5 }), /\d{20,}/);
    shares.add(toHex(scalarMult(y, g)));
  }
  assert.equal(shares.size, 20);
  // Same seed, same scalars: simulations replay.
  const again = seededRandom(7);
  assert.equal(toHex(scalarMult(sampleScalar(again), g)), [...shares][0]);
  // A source that first yields a zero scalar is asked again.
  let calls = 0;
  const zeroFirst = { float: () => 0, bytes: (n: number) => (calls++ === 0 ? Buffer.alloc(n) : Buffer.alloc(n, 1)) };
  assert.ok(isValidShare(scalarMult(sampleScalar(zeroFirst), g)));
  assert.equal(calls, 2);
  // The top nibble is masked: these bytes read as 2^252 - 1 and as 0x0101..01 with bit 252+ cleared.
  assert.equal(toHex(scalarMult(scalarFromBytes(Buffer.alloc(32, 0xff)), g)), toHex(scalarMult(scalarFromBytes(Buffer.concat([Buffer.alloc(31, 0xff), Buffer.from([0x0f])])), g)));
});

test('different passwords give different generators', () => {
  assert.notEqual(toHex(calculateGenerator(Buffer.from('a'), CI, SID).encode()), toHex(calculateGenerator(Buffer.from('b'), CI, SID).encode()));
  assert.equal(JSON.stringify(calculateGenerator(PRS, CI, SID)), '"[redacted]"');
});
