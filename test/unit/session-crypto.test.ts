import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { Opener, Sealer, SEAL_OVERHEAD_BYTES, setNonce } from '../../src/transport/session-crypto.js';
import { isClusterError } from '../../src/errors.js';

test('setNonce: four zero bytes, then the counter as 64-bit big-endian', () => {
  const rows: Array<[counter: number, hex: string]> = [
    [0, '000000000000000000000000'],
    [1, '000000000000000000000001'],
    [0xffff_ffff, '0000000000000000ffffffff'],
    [0x1_0000_0000, '000000000000000100000000'],
    [Number.MAX_SAFE_INTEGER, '00000000001fffffffffffff'],
  ];
  const nonce = Buffer.alloc(12, 0xee);
  nonce.fill(0, 0, 4);
  for (const [counter, hex] of rows) {
    assert.equal(setNonce(nonce, counter).toString('hex'), hex, `counter ${counter}`);
    const big = Buffer.alloc(12);
    big.writeBigUInt64BE(BigInt(counter), 4);
    assert.equal(nonce.toString('hex'), big.toString('hex'), `counter ${counter}: the layout of the BigInt encoding`);
  }
});

test('Sealer: frame k is AES-256-GCM under nonce k with the tag last (checked with node:crypto alone)', () => {
  const key = randomBytes(32);
  const sealer = new Sealer(key);
  for (let k = 0; k < 3; k++) {
    const plaintext = Buffer.from(`frame ${k}`);
    const sealed = sealer.seal(plaintext);
    assert.equal(sealed.length, plaintext.length + SEAL_OVERHEAD_BYTES);
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(k), 4);
    const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    assert.deepEqual(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]), plaintext);
  }
});

test('Opener: opens frames in order; a replayed, reordered or tampered frame throws ERR_DECRYPT and yields no plaintext', () => {
  const key = randomBytes(32);
  const sealer = new Sealer(key);
  const frames = [0, 1, 2, 3].map((i) => sealer.seal(Buffer.from(`m${i}`)));
  const opener = new Opener(key);
  assert.equal(opener.open(frames[0]!).toString(), 'm0');
  const decryptError = (f: () => unknown): void => assert.throws(f, (e: unknown) => isClusterError(e) && e.code === 'ERR_DECRYPT');
  decryptError(() => opener.open(frames[0]!)); // replay
  decryptError(() => opener.open(frames[2]!)); // skips frame 1
  const tampered = Buffer.from(frames[1]!);
  tampered[0]! ^= 1;
  decryptError(() => opener.open(tampered));
  decryptError(() => opener.open(frames[1]!.subarray(0, 10))); // shorter than its tag
  // A failed frame does not advance the counter: the genuine frame 1 still opens.
  assert.equal(opener.open(frames[1]!).toString(), 'm1');
  assert.equal(opener.open(frames[2]!).toString(), 'm2');
  decryptError(() => new Opener(randomBytes(32)).open(frames[0]!)); // another key
});
