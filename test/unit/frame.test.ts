import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, FRAME_HEADER_BYTES } from '../../src/wire/frame.js';
import { isClusterError } from '../../src/errors.js';
import { seededRandom } from '../../src/util/random.js';

const bodies = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello world'), Buffer.alloc(70_000, 7)];
const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));

test('whole stream in one chunk gives every frame in order', () => {
  const d = new FrameDecoder();
  assert.deepEqual(d.push(stream), bodies);
  assert.equal(d.pendingBytes, 0);
});

test('one byte at a time gives the same frames', () => {
  const d = new FrameDecoder();
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
  assert.deepEqual(out, bodies);
});

test('random splits give the same frames (seeded)', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const r = seededRandom(seed);
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    let i = 0;
    while (i < stream.length) {
      const n = 1 + Math.floor(r.float() * 200);
      out.push(...d.push(stream.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(out, bodies, `seed ${seed}`);
  }
});

test('an oversized length prefix is rejected before the body arrives', () => {
  const d = new FrameDecoder(1024);
  const prefix = Buffer.alloc(FRAME_HEADER_BYTES);
  prefix.writeUInt32BE(0xffffffff);
  assert.throws(() => d.push(prefix), (e: unknown) => isClusterError(e, 'ERR_FRAME_TOO_LARGE'));
  assert.equal(d.pendingBytes, 0);
  assert.throws(() => d.push(Buffer.from([1])), (e: unknown) => isClusterError(e, 'ERR_BAD_FRAME'));
});

test('an oversized prefix split over chunks is rejected as soon as it is complete', () => {
  const d = new FrameDecoder(1024);
  const prefix = Buffer.alloc(FRAME_HEADER_BYTES);
  prefix.writeUInt32BE(1025);
  assert.deepEqual(d.push(prefix.subarray(0, 2)), []);
  assert.throws(() => d.push(prefix.subarray(2)), (e: unknown) => isClusterError(e, 'ERR_FRAME_TOO_LARGE'));
});

test('a frame exactly at the limit is accepted; encodeFrame refuses one above it', () => {
  const d = new FrameDecoder(1024);
  assert.equal(d.push(encodeFrame(Buffer.alloc(1024), 1024))[0]!.length, 1024);
  assert.throws(() => encodeFrame(Buffer.alloc(1025), 1024), (e: unknown) => isClusterError(e, 'ERR_FRAME_TOO_LARGE'));
});

test('a 1 MiB frame fed one byte at a time decodes in linear time', () => {
  const body = Buffer.alloc(1024 * 1024, 0x5a);
  const framed = encodeFrame(body);
  const d = new FrameDecoder();
  const started = process.hrtime.bigint();
  const out: Buffer[] = [];
  for (let i = 0; i < framed.length; i++) out.push(...d.push(framed.subarray(i, i + 1)));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(out.length, 1);
  assert.ok(out[0]!.equals(body));
  // Linear: about 1 µs a byte at worst on a slow machine; the quadratic decoder took tens of seconds.
  assert.ok(ms < 3000, `took ${ms} ms`);
});

test('holding a partial frame costs the announced body once, not the chunks received', () => {
  const d = new FrameDecoder();
  const framed = encodeFrame(Buffer.alloc(1000, 1));
  for (let i = 0; i < 500; i++) d.push(framed.subarray(i, i + 1));
  assert.equal(d.pendingBytes, 500);
});

test('setMaxFrameBytes: a small pre-authentication limit, raised after the handshake', () => {
  const d = new FrameDecoder(4096);
  assert.equal(d.push(encodeFrame(Buffer.alloc(4096)))[0]!.length, 4096);
  d.setMaxFrameBytes(1024 * 1024);
  assert.equal(d.push(encodeFrame(Buffer.alloc(100_000)))[0]!.length, 100_000);
  const small = new FrameDecoder(4096);
  assert.throws(() => small.push(encodeFrame(Buffer.alloc(4097))), (e: unknown) => isClusterError(e, 'ERR_FRAME_TOO_LARGE'));
});

test('empty frames are delivered, alone and between others, in any chunking', () => {
  const framed = Buffer.concat([encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.from('x')), encodeFrame(Buffer.alloc(0))]);
  for (let split = 0; split <= framed.length; split++) {
    const d = new FrameDecoder();
    const out = [...d.push(framed.subarray(0, split)), ...d.push(framed.subarray(split))];
    assert.deepEqual(out.map((b) => b.toString()), ['', 'x', ''], `split at ${split}`);
  }
});

test('setMaxFrameBytes changes the limit for the frames whose header arrives after it', () => {
  const d = new FrameDecoder(16);
  const small = encodeFrame(Buffer.alloc(16, 1));
  const big = encodeFrame(Buffer.alloc(100, 2));
  assert.deepEqual(d.push(small), [Buffer.alloc(16, 1)]);
  // The first bytes of the big frame's header are held, not yet judged.
  assert.deepEqual(d.push(big.subarray(0, FRAME_HEADER_BYTES - 1)), []);
  d.setMaxFrameBytes(1024);
  assert.deepEqual(d.push(big.subarray(FRAME_HEADER_BYTES - 1)), [Buffer.alloc(100, 2)]);
  d.setMaxFrameBytes(16);
  assert.throws(() => d.push(big), (e: unknown) => isClusterError(e, 'ERR_FRAME_TOO_LARGE'));
});
