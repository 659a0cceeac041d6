// Codec: plain data round-trips; extension types, deep nesting and huge value counts
// are refused before msgpackr builds anything (the red team's 357-byte DAG payload,
// which used to decode into 2^26 leaves and freeze the node, is a test case).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decode, encode } from '../../src/wire/codec.js';
import { isClusterError } from '../../src/errors.js';

const isBadFrame = (e: unknown): boolean => isClusterError(e, 'ERR_BAD_FRAME');
const isBadMessage = (e: unknown): boolean => isClusterError(e, 'ERR_BAD_MESSAGE');

test('plain values round-trip; undefined properties are left out and undefined elements become null', () => {
  const v = { a: 1, b: 'x', c: [true, false, null, -5, 1.5, 2 ** 40], d: new Uint8Array([1, 2, 3]), e: { f: {} }, u: undefined, arr: [undefined, 2] };
  const back = decode(encode(v)) as Record<string, unknown>;
  assert.deepEqual(back.c, v.c);
  assert.deepEqual(back.arr, [null, 2]);
  assert.ok(!('u' in back));
  assert.deepEqual([...(back.d as Uint8Array)], [1, 2, 3]);
});

test('a structured-clone DAG (a few hundred bytes for 2^26 leaves) is rejected at once', () => {
  let x: unknown[] = [1];
  for (let i = 0; i < 26; i++) x = [x, x];
  const payload = new Packr({ structuredClone: true }).pack({ t: 'hello', v: 1, x });
  assert.ok(payload.length < 400, `payload is ${payload.length} bytes`);
  const started = process.hrtime.bigint();
  assert.throws(() => decode(payload), isBadFrame);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 50, `rejecting took ${ms} ms`);
});

test('every extension type is rejected, whatever its type byte', () => {
  const exts = [
    [0xd4, 0x00, 0x00], // fixext 1: msgpackr's undefined
    [0xd6, 0xff, 0, 0, 0, 0], // timestamp (Date)
    [0xd5, 0x70, 0, 0], // structured-clone pointer
    [0xc7, 0x01, 0x72, 0x00], // ext 8 (record)
    [0xc8, 0x00, 0x01, 0x73, 0x00], // ext 16
    [0xc9, 0x00, 0x00, 0x00, 0x01, 0x65, 0x00], // ext 32
  ];
  for (const e of exts) {
    assert.throws(() => decode(Buffer.from(e)), isBadFrame, Buffer.from(e).toString('hex'));
    assert.throws(() => decode(Buffer.from([0x91, ...e])), isBadFrame, 'inside an array');
    assert.throws(() => decode(Buffer.from([0x81, 0xa1, 0x61, ...e])), isBadFrame, 'as a map value');
  }
});

test('nesting beyond 32 levels is rejected; 32 is accepted', () => {
  const nest = (n: number): Buffer => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0x01])]);
  assert.doesNotThrow(() => decode(nest(32)));
  assert.throws(() => decode(nest(33)), isBadFrame);
  assert.throws(() => decode(nest(100_000)), isBadFrame);
});

test('more than 262,144 values in one message are rejected', () => {
  const n = (1 << 18) + 1;
  const arr = Buffer.alloc(5 + n);
  arr[0] = 0xdd;
  arr.writeUInt32BE(n, 1); // array 32 of n fixints (0)
  assert.throws(() => decode(arr), isBadFrame);
  const ok = Buffer.alloc(5 + (n - 2));
  ok[0] = 0xdd;
  ok.writeUInt32BE(n - 2, 1);
  assert.equal((decode(ok) as unknown[]).length, n - 2);
});

test('truncated input, trailing bytes, announced sizes beyond the input and the reserved byte are rejected', () => {
  for (const hex of ['', 'dc', 'dcffff', 'ddffffffff', 'dbffffffff41', '9201', '0101', 'c1', '81c0c0', '81a1']) {
    assert.throws(() => decode(Buffer.from(hex, 'hex')), isBadFrame, hex);
  }
});

test('map keys must be strings or integers', () => {
  assert.doesNotThrow(() => decode(Buffer.from('8101a161', 'hex')));
  assert.throws(() => decode(Buffer.from('8191c0c0', 'hex')), isBadFrame, 'array key');
  assert.throws(() => decode(Buffer.from('81c0c0', 'hex')), isBadFrame, 'nil key');
  assert.throws(() => decode(Buffer.from('8180c0', 'hex')), isBadFrame, 'map key');
});

test('a __proto__ key cannot set the prototype of a decoded map', () => {
  const v = decode(encode(JSON.parse('{"__proto__": {"t": "hello"}}'))) as Record<string, unknown>;
  assert.equal(v.t, undefined);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
});

test('encode refuses what a peer would refuse, with ERR_BAD_MESSAGE', () => {
  assert.throws(() => encode({ at: new Date() }), isBadMessage);
  assert.throws(() => encode(new Map([[{}, 1]])), isBadMessage);
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  assert.throws(() => encode(deep), isBadMessage);
});
