// The held stream (src/transport/held-stream.ts): what an inbound connection waiting for
// its handshake turn keeps (one first frame, at most 4 KiB), when it says the first frame
// is whole (fed in one piece, byte by byte, and split anywhere), and that the reader gets
// every byte in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldStream } from '../../src/transport/held-stream.js';
import { MAX_HANDSHAKE_FRAME_BYTES } from '../../src/transport/connection.js';
import { encodeFrame } from '../../src/wire/frame.js';
import type { Stream } from '../../src/transport/transport.js';

function fakeStream(): Stream & { push(b: Buffer): void; closed: boolean } {
  const data: ((c: Buffer) => void)[] = [];
  const close: (() => void)[] = [];
  const s = {
    remoteAddress: '10.0.0.9',
    remotePort: 4000,
    closed: false,
    write() {},
    close() {
      if (s.closed) return;
      s.closed = true;
      for (const h of close.splice(0)) h();
    },
    onData(cb: (c: Buffer) => void) {
      data.push(cb);
    },
    onClose(cb: () => void) {
      if (s.closed) cb();
      else close.push(cb);
    },
    push(b: Buffer) {
      for (const h of data) h(b);
    },
  };
  return s;
}

function hold(): { inner: ReturnType<typeof fakeStream>; held: HeldStream; events: string[] } {
  const inner = fakeStream();
  const events: string[] = [];
  const held = new HeldStream(inner, MAX_HANDSHAKE_FRAME_BYTES, { firstFrame: () => events.push('frame'), overflow: () => events.push('overflow') });
  return { inner, held, events };
}

const hello = encodeFrame(Buffer.alloc(300, 7));

test('a first frame fed whole, byte by byte, or split anywhere is whole once its last byte arrived, and is handed over intact', () => {
  const splits: number[][] = [[], [1], [3], [4], [5], [hello.length - 1], [1, 2, 3, 4, 100]];
  splits.push(Array.from({ length: hello.length - 1 }, (_, i) => i + 1));
  for (const cuts of splits) {
    const { inner, held, events } = hold();
    const bounds = [0, ...cuts, hello.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      assert.deepEqual(events, [], `cuts ${cuts.length}: not whole before byte ${bounds[i]}`);
      inner.push(hello.subarray(bounds[i], bounds[i + 1]));
    }
    assert.deepEqual(events, ['frame'], `cuts ${cuts.slice(0, 5)}`);
    inner.push(Buffer.from([1, 2, 3]));
    assert.deepEqual(events, ['frame'], 'firstFrame is said once');
    const got: Buffer[] = [];
    held.onData((c) => got.push(c));
    inner.push(Buffer.from([4]));
    assert.deepEqual(Buffer.concat(got), Buffer.concat([hello, Buffer.from([1, 2, 3, 4])]));
    assert.equal(held.bytesHeld, 0);
  }
});

test('while held, more than one 4 KiB frame is not kept: a longer announced frame or more bytes close the stream', () => {
  const cases: { name: string; bytes: Buffer[]; overflow: boolean }[] = [
    { name: 'a frame of exactly the cap', bytes: [encodeFrame(Buffer.alloc(MAX_HANDSHAKE_FRAME_BYTES))], overflow: false },
    { name: 'a header announcing one byte more', bytes: [Buffer.from([0, 0, 0x10, 0x01])], overflow: true },
    { name: 'a header announcing 4 GiB', bytes: [Buffer.from([0xff, 0xff, 0xff, 0xff])], overflow: true },
    { name: 'a full frame of the cap and one byte more', bytes: [encodeFrame(Buffer.alloc(MAX_HANDSHAKE_FRAME_BYTES)), Buffer.from([0])], overflow: true },
    { name: 'many small frames', bytes: Array.from({ length: 1100 }, () => encodeFrame(Buffer.alloc(1))), overflow: true },
  ];
  for (const c of cases) {
    const { inner, held, events } = hold();
    for (const b of c.bytes) inner.push(b);
    assert.equal(events.includes('overflow'), c.overflow, c.name);
    assert.equal(inner.closed, c.overflow, c.name);
    assert.ok(held.bytesHeld <= MAX_HANDSHAKE_FRAME_BYTES + 4, `${c.name}: ${held.bytesHeld} bytes held`);
  }
});

test('bytes arriving after the peer closed are not kept', () => {
  const { inner, held } = hold();
  inner.push(Buffer.from([0, 0]));
  inner.close();
  inner.push(Buffer.from([0, 5]));
  assert.equal(held.bytesHeld, 0);
});
