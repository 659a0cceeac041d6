// Fuzz of everything that reads bytes before or after the handshake: the frame decoder,
// the codec and the message validators. Properties: nothing but a ClusterError ever
// escapes, and no input costs more than a few milliseconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzz, timed } from '../helpers/fuzz.js';
import { encodeFrame, FrameDecoder } from '../../src/wire/frame.js';
import { decode, encode } from '../../src/wire/codec.js';
import { parseHandshake, parseSession, PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { parseRegistryMessage } from '../../src/registry/messages.js';
import { ClusterError } from '../../src/errors.js';

/** Per-input budget: generous for a noisy, shared 2-core machine (typical inputs take well under 1 ms); the attacks this guards against took seconds to minutes. */
const BUDGET_MS = 250;

function onlyClusterErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ClusterError)) throw err;
  }
}

/** Valid messages of every layer, to mutate. */
const samples: unknown[] = [
  { t: 'hello', v: PROTOCOL_VERSION, name: 'alice@host', inc: 'ab12', nonce: new Uint8Array(32).fill(1), port: 4000, up: 12 },
  { t: 'members', members: [{ name: 'bob@host', inc: 'cd', host: '10.0.0.2', port: 4001 }] },
  { t: 'app', ch: 'reg', body: { k: 'delta', d: { owner: 'bob@host', inc: 'cd', base: 0, version: 2, floor: 0, entries: [{ name: 'x', stamp: [1, 0], version: 1, released: false }] }, h: [1, 0] } },
  { t: 'app', ch: 'reg', body: { k: 'epochs', e: [['Singleton', 3]] } },
  { k: 'digest', owners: [{ owner: 'bob@host', inc: 'cd', version: 2, floor: 0 }], reply: false, h: [5, 1] },
  { t: 'bye', code: 'SHUTDOWN', reason: 'node is stopping' },
];
const encoded = samples.map((s) => encode(s));

const mutated = fc
  .tuple(fc.constantFrom(...encoded), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), fc.boolean())
  .map(([base, flips, cut, truncate]) => {
    const b = Buffer.from(base);
    for (const [i, v] of flips) b[i % b.length] = v;
    return truncate ? b.subarray(0, cut % (b.length + 1)) : b;
  });

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 2048 }), mutated);

test('codec: random and mutated bytes decode or fail with ERR_BAD_FRAME, fast', () => {
  fuzz('decode', anyBytes, (bytes) => {
    const ms = timed(() => onlyClusterErrors(() => decode(bytes)));
    assert.ok(ms < BUDGET_MS, `${ms} ms`);
  }, 3000);
});

test('validators: whatever decodes, parse* accept or fail with ClusterError, fast', () => {
  fuzz('parse', anyBytes, (bytes) => {
    let v: unknown;
    try {
      v = decode(bytes);
    } catch {
      return;
    }
    const ms = timed(() => {
      onlyClusterErrors(() => parseHandshake(v));
      onlyClusterErrors(() => parseSession(v));
      onlyClusterErrors(() => parseRegistryMessage(v));
      const body = (v as { body?: unknown } | null)?.body;
      onlyClusterErrors(() => parseRegistryMessage(body));
    });
    assert.ok(ms < BUDGET_MS, `${ms} ms`);
  }, 3000);
});

test('validators: arbitrary JavaScript values (as a decoder could produce) never throw anything else', () => {
  fuzz('parse anything', fc.anything({ maxDepth: 4, withNullPrototype: true, withBigInt: true, withTypedArray: true }), (v) => {
    onlyClusterErrors(() => parseHandshake(v));
    onlyClusterErrors(() => parseSession(v));
    onlyClusterErrors(() => parseRegistryMessage(v));
  }, 2000);
});

test('frame decoder: any chunking of any bytes yields frames or ClusterError; valid streams always decode', () => {
  fuzz(
    'frames',
    fc.tuple(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 64 })),
    ([bodies, cuts, garbage]) => {
      const valid = Buffer.concat(bodies.map((b) => encodeFrame(b, 1024)));
      const split = (buf: Buffer): Buffer[] => {
        const parts: Buffer[] = [];
        let i = 0;
        for (let k = 0; i < buf.length; k++) {
          const n = cuts[k % cuts.length]!;
          parts.push(buf.subarray(i, i + n));
          i += n;
        }
        return parts;
      };
      const d = new FrameDecoder(1024);
      const out = split(valid).flatMap((p) => d.push(p));
      assert.deepEqual(out.map((b) => Buffer.from(b).toString('hex')), bodies.map((b) => Buffer.from(b).toString('hex')));
      const g = new FrameDecoder(1024);
      onlyClusterErrors(() => {
        for (const p of split(Buffer.concat([valid, garbage]))) g.push(p);
      });
      assert.ok(g.pendingBytes <= 1024 + 4);
    },
    1000,
  );
});
