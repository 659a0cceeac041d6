import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection } from '../../src/transport/connection.js';
import { deriveClusterKey, clusterTag } from '../../src/transport/session-crypto.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import type { Hello, SessionMessage } from '../../src/wire/messages.js';
import { ManualClock, systemClock } from '../../src/util/clock.js';
import type { Clock } from '../../src/util/clock.js';
import { randomBytes } from 'node:crypto';
import { isClusterError } from '../../src/errors.js';
import type { ClusterError } from '../../src/errors.js';
import { encode } from '../../src/wire/codec.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { mitmPair } from '../helpers/mitm.js';
import type { Mitm } from '../helpers/mitm.js';

const KEY = deriveClusterKey('foo');
const OTHER_KEY = deriveClusterKey('bar');

function hello(name: string, v = PROTOCOL_VERSION): Hello {
  return { t: 'hello', v, name, inc: randomBytes(8).toString('hex'), nonce: randomBytes(32), port: 4000, up: 5 };
}

function pair(opts: { dialerKey?: Buffer; listenerKey?: Buffer; dialerHello?: Hello; clock?: Clock; mitm?: Mitm } = {}) {
  const m = opts.mitm ?? mitmPair();
  const clock = opts.clock ?? systemClock;
  const common = { maxFrameBytes: 1 << 20, handshakeTimeoutMs: 1000, clock };
  const dialer = new Connection(m.a, { ...common, role: 'dialer', clusterKey: opts.dialerKey ?? KEY, hello: opts.dialerHello ?? hello('alice@h') });
  const listener = new Connection(m.b, { ...common, role: 'listener', clusterKey: opts.listenerKey ?? KEY, hello: hello('bob@h') });
  return { m, dialer, listener };
}

function closed(c: Connection): Promise<ClusterError | undefined> {
  return new Promise((resolve) => c.onClose(resolve));
}

function received(c: Connection): Promise<SessionMessage> {
  return new Promise((resolve) => c.onMessage(resolve));
}

test('same cookie: both sides authenticate, learn each other, and exchange sealed messages', async () => {
  const { m, dialer, listener } = pair();
  const [a, b] = await Promise.all([dialer.handshake(), listener.handshake()]);
  assert.equal(a.name, 'bob@h');
  assert.equal(b.name, 'alice@h');
  const got = received(listener);
  dialer.send({ t: 'app', ch: 'test', body: 'secret payload' });
  assert.deepEqual(await got, { t: 'app', ch: 'test', body: 'secret payload' });
  // The sealed frame does not carry the plaintext.
  assert.ok(!Buffer.concat(m.log.map((l) => l.chunk)).includes(Buffer.from('secret payload')));
  // Neither the cookie nor the stretched key crosses the wire.
  const wire = Buffer.concat(m.log.map((l) => l.chunk));
  assert.ok(!wire.includes(Buffer.from('foo')));
  assert.ok(!wire.includes(KEY));
  dialer.close();
});

test('wrong cookie: both sides fail with ERR_AUTH_FAILED and nothing is delivered', async () => {
  const { dialer, listener } = pair({ dialerKey: OTHER_KEY });
  const results = await Promise.allSettled([dialer.handshake(), listener.handshake()]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(isClusterError((r as PromiseRejectedResult).reason, 'ERR_AUTH_FAILED'), String((r as PromiseRejectedResult).reason));
  }
  assert.equal(dialer.state, 'closed');
  assert.equal(listener.state, 'closed');
});

test('a tampered sealed frame closes the connection with ERR_DECRYPT', async () => {
  const { m, dialer, listener } = pair();
  await Promise.all([dialer.handshake(), listener.handshake()]);
  m.hook = (dir, chunk) => {
    if (dir === 'a->b') chunk[chunk.length - 3]! ^= 0x01;
    return chunk;
  };
  const gone = closed(listener);
  dialer.send({ t: 'ping', seq: 1 });
  const err = await gone;
  assert.ok(isClusterError(err, 'ERR_DECRYPT'), String(err));
});

test('a frame replayed within the same session is rejected', async () => {
  const { m, dialer, listener } = pair();
  await Promise.all([dialer.handshake(), listener.handshake()]);
  const got = received(listener);
  dialer.send({ t: 'ping', seq: 1 });
  await got;
  const frame = m.log.filter((l) => l.dir === 'a->b').at(-1)!.chunk;
  const gone = closed(listener);
  m.inject('b', frame);
  assert.ok(isClusterError(await gone, 'ERR_DECRYPT'));
});

test('a frame recorded in one session and replayed into another is rejected', async () => {
  const first = pair();
  await Promise.all([first.dialer.handshake(), first.listener.handshake()]);
  const got = received(first.listener);
  first.dialer.send({ t: 'ping', seq: 1 });
  await got;
  const recorded = first.m.log.filter((l) => l.dir === 'a->b').at(-1)!.chunk;
  first.dialer.close();

  const second = pair();
  await Promise.all([second.dialer.handshake(), second.listener.handshake()]);
  const gone = closed(second.listener);
  second.m.inject('b', recorded);
  assert.ok(isClusterError(await gone, 'ERR_DECRYPT'));
});

test('protocol version mismatch is refused with both versions named', async () => {
  const m = mitmPair();
  // A future dialer that speaks version 2: it sends a hello and reads the reply.
  const clock = systemClock;
  const listener = new Connection(m.b, { role: 'listener', clusterKey: KEY, hello: hello('bob@h'), maxFrameBytes: 1 << 20, handshakeTimeoutMs: 1000, clock });
  const replies: Buffer[] = [];
  m.hook = (dir, chunk) => {
    if (dir === 'b->a') replies.push(chunk);
    return dir === 'b->a' ? undefined : chunk;
  };
  m.inject('b', encodeFrame(encode({ t: 'hello', v: 2, name: 'alice@h', future: true })));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_VERSION_MISMATCH'));
  assert.match((err as Error).message, /version 1.*version 2/);
  const all = Buffer.concat(replies).toString('latin1');
  assert.match(all, /protocol version mismatch/);
});

test('a peer that says nothing fails the handshake at the deadline', async () => {
  const clock = new ManualClock();
  const m = mitmPair();
  m.hook = () => undefined; // black hole in both directions
  const dialer = new Connection(m.a, { role: 'dialer', clusterKey: KEY, hello: hello('alice@h'), maxFrameBytes: 1 << 20, handshakeTimeoutMs: 5000, clock });
  let settled = false;
  const p = dialer.handshake().catch((e: unknown) => {
    settled = true;
    return e;
  });
  clock.advance(4999);
  await Promise.resolve();
  assert.equal(settled, false);
  clock.advance(1);
  const err = await p;
  assert.ok(isClusterError(err, 'ERR_HANDSHAKE_TIMEOUT'));
  assert.equal(dialer.state, 'closed');
});

test('an oversized frame prefix during the handshake closes the connection', async () => {
  const { m, listener } = pair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  m.inject('b', Buffer.from([0x7f, 0xff, 0xff, 0xff]));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_FRAME_TOO_LARGE'));
});

test('garbage instead of a hello closes the connection with a protocol error', async () => {
  const { m, listener } = pair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  m.inject('b', encodeFrame(Buffer.from([0xdc, 0xff])));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_BAD_FRAME'), String(err));
});

test('the cluster tag is stable, short, and differs between cookies', () => {
  assert.equal(clusterTag(KEY), clusterTag(deriveClusterKey('foo')));
  assert.notEqual(clusterTag(KEY), clusterTag(OTHER_KEY));
  assert.match(clusterTag(KEY), /^[0-9a-f]{16}$/);
});
