// The CPace handshake: the pure state machine (Handshake) table by table, and the
// Connection that runs it over a stream (framing, pre-auth frame cap, deadline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Connection, MAX_HANDSHAKE_FRAME_BYTES } from '../../src/transport/connection.js';
import { associatedData, Handshake, HANDSHAKE_CI, HANDSHAKE_SID } from '../../src/transport/handshake.js';
import type { HandshakeResult, HandshakeStep } from '../../src/transport/handshake.js';
import { calculateGenerator, CpaceScalar, deriveIsk, isValidShare, scalarFromBytes, scalarMult, scalarMultVfy, transcriptIr } from '../../src/transport/cpace.js';
import { deriveSessionKeys } from '../../src/transport/session-crypto.js';
import type { Role } from '../../src/transport/session-crypto.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import type { Confirm, HandshakeMessage, Hello, HelloMessage, SessionMessage } from '../../src/wire/messages.js';
import { ManualClock, systemClock } from '../../src/util/clock.js';
import type { Clock } from '../../src/util/clock.js';
import { systemRandom } from '../../src/util/random.js';
import type { Random } from '../../src/util/random.js';
import { Secret } from '../../src/util/secret.js';
import { isClusterError } from '../../src/errors.js';
import type { ClusterError } from '../../src/errors.js';
import { encode } from '../../src/wire/codec.js';
import { encodeFrame } from '../../src/wire/frame.js';
import { mitmPair } from '../helpers/mitm.js';
import { zeroTraffic } from '../../src/util/traffic.js';
import type { Mitm } from '../helpers/mitm.js';

const COOKIE = new Secret('foo');
const OTHER = new Secret('bar');

function hello(name: string, v = PROTOCOL_VERSION): Hello {
  return { t: 'hello', v, name, inc: randomBytes(8).toString('hex'), nonce: randomBytes(32), port: 4000, up: 5, key: randomBytes(32), hidden: false };
}

// ---- the state machine -------------------------------------------------------

function side(role: Role, cookie = COOKIE, random: Random = systemRandom): Handshake {
  return new Handshake({ role, cookie, hello: hello(role === 'dialer' ? 'alice@h' : 'bob@h'), random });
}

/** Everything each side sent, in order, and each side's result. */
interface Run {
  dialer: Handshake;
  listener: Handshake;
  sent: { from: Role; msg: HandshakeMessage }[];
  dialerResult?: HandshakeResult;
  listenerResult?: HandshakeResult;
  dialerFail?: ClusterError;
  listenerFail?: ClusterError;
}

/** Run two state machines against each other, optionally rewriting messages in flight. */
function run(dialer: Handshake, listener: Handshake, tamper?: (from: Role, msg: HandshakeMessage) => HandshakeMessage): Run {
  const r: Run = { dialer, listener, sent: [] };
  const queue: { to: Role; msg: HandshakeMessage }[] = [];
  const take = (from: Role, step: HandshakeStep): void => {
    if (step.send) {
      r.sent.push({ from, msg: step.send });
      queue.push({ to: from === 'dialer' ? 'listener' : 'dialer', msg: tamper ? tamper(from, step.send) : step.send });
    }
    if (step.done) from === 'dialer' ? (r.dialerResult = step.done) : (r.listenerResult = step.done);
    if (step.fail) from === 'dialer' ? (r.dialerFail = step.fail) : (r.listenerFail = step.fail);
  };
  take('dialer', dialer.start());
  take('listener', listener.start());
  for (let i = 0; i < 10 && queue.length; i++) {
    const { to, msg } = queue.shift()!;
    const h = to === 'dialer' ? dialer : listener;
    if (h.phase === 'done' || h.phase === 'failed') continue; // a closed connection reads nothing more
    take(to, h.receive(msg));
  }
  return r;
}

test('state machine, same cookie: hello, hello, confirm, confirm; both sides open with mirrored keys', () => {
  const bob = hello('bob@h');
  const r = run(side('dialer'), new Handshake({ role: 'listener', cookie: COOKIE, hello: bob, random: systemRandom }));
  assert.deepEqual(
    r.sent.map((s) => `${s.from}:${s.msg.t}`),
    ['dialer:hello', 'listener:hello', 'dialer:confirm', 'listener:confirm'],
  );
  assert.ok(r.dialerResult && r.listenerResult);
  assert.equal(r.dialerResult.peer.name, 'bob@h');
  assert.equal(r.listenerResult.peer.name, 'alice@h');
  assert.deepEqual(r.dialerResult.peer, bob);
  assert.ok(r.dialerResult.sendKey.equals(r.listenerResult.receiveKey));
  assert.ok(r.dialerResult.receiveKey.equals(r.listenerResult.sendKey));
  assert.ok(!r.dialerResult.sendKey.equals(r.dialerResult.receiveKey));
  assert.equal(r.dialerResult.sendKey.length, 32);
  // The peer's hello is handed over without the CPace share.
  assert.equal('share' in r.dialerResult.peer, false);
  assert.equal(r.dialer.phase, 'done');
  assert.equal(r.listener.phase, 'done');
});

test('state machine, wrong cookie: the listener refuses the dialer\'s confirm; both fail with ERR_AUTH_FAILED', () => {
  const r = run(side('dialer', OTHER), side('listener'));
  assert.deepEqual(
    r.sent.map((s) => `${s.from}:${s.msg.t}`),
    ['dialer:hello', 'listener:hello', 'dialer:confirm', 'listener:refuse'],
  );
  assert.ok(isClusterError(r.listenerFail, 'ERR_AUTH_FAILED'));
  assert.ok(isClusterError(r.dialerFail, 'ERR_AUTH_FAILED'));
  assert.equal(r.dialerResult, undefined);
  assert.equal(r.listenerResult, undefined);
});

test('the listener sends nothing key-dependent before the dialer\'s confirm verified, and allows one guess per connection', () => {
  const dialer = side('dialer', OTHER);
  const listener = side('listener');
  assert.deepEqual(listener.start(), {}); // the listener speaks only after a valid hello
  const dHello = dialer.start().send as HelloMessage;
  const out = listener.receive(dHello);
  // Its only message before the confirm: its public hello fields and a share, a random
  // point of the prime-order subgroup from which nothing about the cookie can be tested (CPace).
  assert.ok(out.send && out.send.t === 'hello' && !out.done && !out.fail);
  assert.deepEqual(Object.keys(out.send).sort(), ['hidden', 'inc', 'key', 'name', 'nonce', 'port', 'share', 't', 'up', 'v']);
  assert.ok(isValidShare((out.send as HelloMessage).share));
  // Same random source, other cookie: every field but the share is identical.
  const seq = (): Random => {
    let i = 0;
    return { float: () => 0, bytes: (n) => Buffer.alloc(n, ++i) };
  };
  const h = hello('bob@h');
  const l1 = new Handshake({ role: 'listener', cookie: COOKIE, hello: h, random: seq() });
  const l2 = new Handshake({ role: 'listener', cookie: OTHER, hello: h, random: seq() });
  l1.start();
  l2.start();
  const o1 = l1.receive(dHello).send as HelloMessage;
  const o2 = l2.receive(dHello).send as HelloMessage;
  assert.deepEqual({ ...o1, share: null }, { ...o2, share: null });
  assert.ok(!Buffer.from(o1.share).equals(Buffer.from(o2.share)));
  // The wrong guess: a constant refusal, no confirm of its own.
  const confirm = dialer.receive(out.send).send as Confirm;
  assert.equal(confirm.t, 'confirm');
  const refused = listener.receive(confirm);
  assert.deepEqual(refused.send, { t: 'refuse', code: 'ERR_AUTH_FAILED', reason: 'authentication failed' });
  // No second guess on this connection: the listener is finished and answers nothing.
  const again = listener.receive(confirm);
  assert.equal(again.send, undefined);
  assert.ok(isClusterError(again.fail, 'ERR_PROTOCOL'));
  assert.equal(listener.phase, 'failed');
});

const flip = (b: Uint8Array, i = 0): Uint8Array => {
  const c = new Uint8Array(b);
  c[i]! ^= 0x01;
  return c;
};

test('a share replaced in flight by another valid element fails the handshake on both sides (ERR_AUTH_FAILED)', () => {
  const otherShare = scalarMult(scalarFromBytes(randomBytes(32)), calculateGenerator(Buffer.from('x'), HANDSHAKE_CI, HANDSHAKE_SID));
  for (const who of ['dialer', 'listener'] as const) {
    const r = run(side('dialer'), side('listener'), (from, m) => (from === who && m.t === 'hello' ? { ...m, share: otherShare } : m));
    assert.ok(isClusterError(r.listenerFail, 'ERR_AUTH_FAILED'), `${who}: ${String(r.listenerFail)}`);
    assert.ok(isClusterError(r.dialerFail, 'ERR_AUTH_FAILED'), `${who}: ${String(r.dialerFail)}`);
  }
});

test('a low-order share (the CPace draft\'s abort cases for X25519) is refused with ERR_PROTOCOL before any key is used', () => {
  // draft-irtf-cfrg-cpace, "G_X25519.scalar_mult_vfy: low order points" u0..u5 and u7:
  // low-order points of the curve and the twist, some with bit 255 set or not reduced mod p.
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  for (const share of lowOrder.map((u) => Buffer.from(u, 'hex'))) {
    for (const who of ['dialer', 'listener'] as const) {
      const r = run(side('dialer'), side('listener'), (from, m) => (from === who && m.t === 'hello' ? { ...m, share } : m));
      const detector = who === 'dialer' ? r.listenerFail : r.dialerFail;
      assert.ok(isClusterError(detector, 'ERR_PROTOCOL'), String(detector));
      assert.match(detector!.message, /the CPace shared point is the identity/);
      assert.equal(r.sent.filter((s) => s.msg.t === 'confirm').length, 0);
      // The listener refuses a low-order Ya without sending its own share.
      if (who === 'dialer') assert.equal(r.sent.filter((s) => s.from === 'listener' && s.msg.t === 'hello').length, 0);
    }
  }
});

test('a share that is not 32 bytes is refused with ERR_PROTOCOL (a caller that skipped the wire parser)', () => {
  for (const share of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
    const r = run(side('dialer'), side('listener'), (from, m) => (from === 'dialer' && m.t === 'hello' ? { ...m, share } : m));
    assert.ok(isClusterError(r.listenerFail, 'ERR_PROTOCOL'), String(r.listenerFail));
    assert.match(r.listenerFail!.message, /invalid CPace share/);
  }
});

test('tampered hello fields (name, nonce, port, up, incarnation) change the transcript and fail authentication', () => {
  const edits: [string, (m: HelloMessage) => HelloMessage][] = [
    ['name', (m) => ({ ...m, name: 'mallory@h' })],
    ['nonce', (m) => ({ ...m, nonce: flip(m.nonce, 5) })],
    ['port', (m) => ({ ...m, port: m.port + 1 })],
    ['up', (m) => ({ ...m, up: m.up + 1 })],
    ['inc', (m) => ({ ...m, inc: 'ffff' })],
  ];
  for (const [what, edit] of edits) {
    for (const who of ['dialer', 'listener'] as const) {
      const r = run(side('dialer'), side('listener'), (from, m) => (from === who && m.t === 'hello' ? edit(m) : m));
      assert.ok(isClusterError(r.listenerFail, 'ERR_AUTH_FAILED'), `${what} from ${who}`);
      assert.ok(isClusterError(r.dialerFail, 'ERR_AUTH_FAILED'), `${what} from ${who}`);
    }
  }
});

test('a tampered confirm fails on whichever side receives it', () => {
  const r1 = run(side('dialer'), side('listener'), (from, m) => (from === 'dialer' && m.t === 'confirm' ? { ...m, mac: flip(m.mac) } : m));
  assert.ok(isClusterError(r1.listenerFail, 'ERR_AUTH_FAILED'));
  assert.ok(isClusterError(r1.dialerFail, 'ERR_AUTH_FAILED'));
  assert.equal(r1.listenerResult, undefined);
  const r2 = run(side('dialer'), side('listener'), (from, m) => (from === 'listener' && m.t === 'confirm' ? { ...m, mac: flip(m.mac, 31) } : m));
  assert.ok(isClusterError(r2.dialerFail, 'ERR_AUTH_FAILED'));
  assert.equal(r2.dialerResult, undefined);
});

test('a confirm replayed from another session (same cookie, same peers) fails', () => {
  const recorded = run(side('dialer'), side('listener'));
  const dConfirm = recorded.sent.find((s) => s.from === 'dialer' && s.msg.t === 'confirm')!.msg;
  const lConfirm = recorded.sent.find((s) => s.from === 'listener' && s.msg.t === 'confirm')!.msg;
  // The attacker replays the recorded dialer hello and confirm to a fresh listener.
  const dHello = recorded.sent[0]!.msg;
  const listener = side('listener');
  listener.start();
  assert.equal(listener.receive(dHello).send?.t, 'hello');
  const step = listener.receive(dConfirm);
  assert.ok(isClusterError(step.fail, 'ERR_AUTH_FAILED'));
  // The listener's recorded confirm does not fit a fresh dialer's session either.
  const r = run(side('dialer'), side('listener'), (from, m) => (from === 'listener' && m.t === 'confirm' ? lConfirm : m));
  assert.ok(isClusterError(r.dialerFail, 'ERR_AUTH_FAILED'));
  // Nor does a confirm reflected back at its sender (the roles are bound).
  const d = side('dialer');
  const l = side('listener');
  const dh = d.start().send!;
  l.start();
  const lh = l.receive(dh).send!;
  const dc = d.receive(lh).send!;
  const reflected = d.receive(dc);
  assert.ok(isClusterError(reflected.fail, 'ERR_AUTH_FAILED'));
});

test('version mismatch is refused naming both versions, on either side', () => {
  const listener = side('listener');
  listener.start();
  const step = listener.receive({ t: 'hello', v: PROTOCOL_VERSION + 1, name: '', inc: '', nonce: new Uint8Array(0), port: 0, up: 0, key: new Uint8Array(0), hidden: false, share: new Uint8Array(0) });
  assert.ok(isClusterError(step.fail, 'ERR_VERSION_MISMATCH'));
  assert.equal(step.send?.t, 'refuse');
  const dialer = side('dialer');
  dialer.start();
  const step2 = dialer.receive({ t: 'hello', v: 1, name: '', inc: '', nonce: new Uint8Array(0), port: 0, up: 0, key: new Uint8Array(0), hidden: false, share: new Uint8Array(0) });
  assert.ok(isClusterError(step2.fail, 'ERR_VERSION_MISMATCH'));
  assert.match(step2.fail!.message, new RegExp(`version ${PROTOCOL_VERSION}.*version 1`));
});

test('messages out of order are refused as protocol errors', () => {
  const l = side('listener');
  l.start();
  const s = l.receive({ t: 'confirm', mac: new Uint8Array(32) });
  assert.ok(isClusterError(s.fail, 'ERR_PROTOCOL'));
  assert.equal(s.send?.t, 'refuse');
  const d = side('dialer');
  const lh = side('listener');
  const dh = d.start().send!;
  lh.start();
  const reply = lh.receive(dh).send!;
  d.receive(reply);
  const dup = d.receive(reply);
  assert.ok(isClusterError(dup.fail, 'ERR_PROTOCOL'));
  const notStarted = side('dialer').receive(reply);
  assert.ok(isClusterError(notStarted.fail, 'ERR_PROTOCOL'));
});

// ---- forward secrecy ---------------------------------------------------------

/** A Random that hands out the given bytes for the first call of 32 bytes and records it. */
function recordingRandom(): Random & { scalars: Buffer[] } {
  const scalars: Buffer[] = [];
  return {
    scalars,
    float: () => Math.random(),
    bytes(n) {
      const b = randomBytes(n);
      if (n === 32) scalars.push(Buffer.from(b));
      return b;
    },
  };
}

/** What an eavesdropper who knows the cookie computes from a recorded transcript, given (or not) an ephemeral scalar. */
function attackerKeys(cookie: Secret, sent: Run['sent'], dialerScalar?: Buffer): Buffer[] {
  const dHello = sent.find((s) => s.from === 'dialer' && s.msg.t === 'hello')!.msg as HelloMessage;
  const lHello = sent.find((s) => s.from === 'listener' && s.msg.t === 'hello')!.msg as HelloMessage;
  const transcript = transcriptIr(dHello.share, associatedData('dialer', dHello), lHello.share, associatedData('listener', lHello));
  const g = calculateGenerator(cookie.bytes(), HANDSHAKE_CI, HANDSHAKE_SID);
  // Every candidate for K (or for key material) computable from public data and the cookie.
  const candidates: Uint8Array[] = [dHello.share, lHello.share, g.encode(), new Uint8Array(32), cookie.bytes(), transcript, dHello.nonce, lHello.nonce];
  for (const bytes of [cookie.bytes(), dHello.nonce, lHello.nonce, Buffer.concat([dHello.nonce, lHello.nonce])]) {
    // "Scalars" an attacker might try: anything derived from what it knows.
    const y = scalarFromBytes(Buffer.concat([bytes, Buffer.alloc(32)]).subarray(0, 32));
    candidates.push(scalarMultVfy(y, dHello.share), scalarMultVfy(y, lHello.share));
  }
  if (dialerScalar) candidates.push(scalarMultVfy(scalarFromBytes(dialerScalar), lHello.share));
  const keys: Buffer[] = [];
  for (const k of candidates) {
    const isk = deriveIsk(HANDSHAKE_SID, k, transcript);
    const s = deriveSessionKeys(isk);
    keys.push(s.dialerToListener, s.listenerToDialer);
    const direct = deriveSessionKeys(k);
    keys.push(direct.dialerToListener, direct.listenerToDialer);
  }
  return keys;
}

test('forward secrecy: the cookie plus a recorded transcript does not yield the traffic keys', () => {
  const random = recordingRandom();
  const r = run(new Handshake({ role: 'dialer', cookie: COOKIE, hello: hello('alice@h'), random }), side('listener'));
  const real = [r.dialerResult!.sendKey, r.dialerResult!.receiveKey];
  // Control: with the dialer's ephemeral scalar the same computation DOES find the keys,
  // so the recomputation below is the right one and only the scalar is missing.
  assert.equal(random.scalars.length, 1);
  const withScalar = attackerKeys(COOKIE, r.sent, random.scalars[0]);
  assert.ok(real.every((k) => withScalar.some((c) => c.equals(k))), 'the control must recover the keys');
  // Without it, nothing computable from the cookie and the transcript matches.
  const without = attackerKeys(COOKIE, r.sent);
  for (const k of real) assert.ok(!without.some((c) => c.equals(k)));
  // Replaying the recorded dialer side to a fresh listener with the right cookie gives other keys.
  const replay = side('listener');
  replay.start();
  const lHello = replay.receive(r.sent[0]!.msg).send as HelloMessage;
  assert.ok(!Buffer.from(lHello.share).equals(Buffer.from((r.sent[1]!.msg as HelloMessage).share)));
});

test('forward secrecy: two sessions with the same cookie and peers have unrelated keys', () => {
  const h1 = run(side('dialer'), side('listener'));
  const h2 = run(side('dialer'), side('listener'));
  const k1 = [h1.dialerResult!.sendKey, h1.dialerResult!.receiveKey];
  const k2 = [h2.dialerResult!.sendKey, h2.dialerResult!.receiveKey];
  for (const a of k1) for (const b of k2) assert.ok(!a.equals(b));
});

test('forward secrecy: after the handshake neither side holds its ephemeral scalar, the ISK or the confirmation keys', () => {
  for (const outcome of ['done', 'failed'] as const) {
    const r = run(side('dialer', outcome === 'done' ? COOKIE : OTHER), side('listener'));
    for (const h of [r.dialer, r.listener]) {
      assert.equal(h.phase, outcome);
      for (const [k, v] of Object.entries(h)) {
        assert.ok(!(v instanceof CpaceScalar), `${k} still holds a scalar`);
        assert.ok(!(v instanceof Buffer && v.length === 64), `${k} looks like an ISK`);
      }
      const view = inspect(h, { showHidden: true, depth: 10 });
      assert.doesNotMatch(view, /confirm(Dialer|Listener)|transcript: <Buffer/);
    }
  }
});

// ---- the connection ------------------------------------------------------------

function pair(opts: { dialerCookie?: Secret; listenerCookie?: Secret; dialerHello?: Hello; clock?: Clock; mitm?: Mitm; maxFrameBytes?: number } = {}) {
  const m = opts.mitm ?? mitmPair();
  const clock = opts.clock ?? systemClock;
  const common = { maxFrameBytes: opts.maxFrameBytes ?? 1 << 20, handshakeTimeoutMs: 1000, clock, random: systemRandom };
  const dialer = new Connection(m.a, { ...common, role: 'dialer', cookie: opts.dialerCookie ?? COOKIE, hello: opts.dialerHello ?? hello('alice@h') });
  const listener = new Connection(m.b, { ...common, role: 'listener', cookie: opts.listenerCookie ?? COOKIE, hello: hello('bob@h') });
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
  assert.equal(dialer.claimedName, 'bob@h');
  assert.equal(listener.claimedName, 'alice@h');
  const got = received(listener);
  dialer.send({ t: 'app', ch: 'test', body: 'secret payload' });
  assert.deepEqual(await got, { t: 'app', ch: 'test', body: 'secret payload' });
  const wire = Buffer.concat(m.log.map((l) => l.chunk));
  // The sealed frame does not carry the plaintext, and the cookie never crosses the wire.
  assert.ok(!wire.includes(Buffer.from('secret payload')));
  assert.ok(!wire.includes(Buffer.from('foo')));
  dialer.close();
});

test('traffic counters: each side counts the bytes and frames on its stream, handshake included, and they match the other side', async () => {
  const m = mitmPair();
  const common = { maxFrameBytes: 1 << 20, handshakeTimeoutMs: 1000, clock: systemClock, random: systemRandom };
  const ta = zeroTraffic();
  const tb = zeroTraffic();
  const dialer = new Connection(m.a, { ...common, role: 'dialer', cookie: COOKIE, hello: hello('alice@h'), traffic: ta });
  const listener = new Connection(m.b, { ...common, role: 'listener', cookie: COOKIE, hello: hello('bob@h'), traffic: tb });
  await Promise.all([dialer.handshake(), listener.handshake()]);
  const got = received(listener);
  dialer.send({ t: 'app', ch: 'test', body: 'x'.repeat(1000) });
  await got;
  const aToB = m.log.filter((l) => l.dir === 'a->b').reduce((n, l) => n + l.chunk.length, 0);
  const bToA = m.log.filter((l) => l.dir === 'b->a').reduce((n, l) => n + l.chunk.length, 0);
  assert.deepEqual([ta.meshBytesOut, tb.meshBytesIn, tb.meshBytesOut, ta.meshBytesIn], [aToB, aToB, bToA, bToA]);
  assert.ok(ta.meshBytesOut > 1000);
  assert.equal(ta.meshFramesOut, tb.meshFramesIn);
  assert.equal(tb.meshFramesOut, ta.meshFramesIn);
  // At least hello and one more handshake frame each way, plus the app message.
  assert.ok(ta.meshFramesOut >= 3 && tb.meshFramesOut >= 2, JSON.stringify([ta, tb]));
  assert.equal(ta.mdnsPacketsOut + ta.mdnsPacketsIn + tb.mdnsBytesIn, 0);
  dialer.close();
});

test('wrong cookie: both sides fail with ERR_AUTH_FAILED, nothing is delivered, and the claimed name is known for the log', async () => {
  const { dialer, listener } = pair({ dialerCookie: OTHER });
  const results = await Promise.allSettled([dialer.handshake(), listener.handshake()]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(isClusterError((r as PromiseRejectedResult).reason, 'ERR_AUTH_FAILED'), String((r as PromiseRejectedResult).reason));
  }
  assert.equal(dialer.state, 'closed');
  assert.equal(listener.state, 'closed');
  assert.equal(listener.claimedName, 'alice@h');
  assert.equal(dialer.claimedName, 'bob@h');
  assert.equal(dialer.peer, undefined);
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
  // A future dialer that speaks the next version: it sends a hello and reads the reply.
  const listener = new Connection(m.b, { role: 'listener', cookie: COOKIE, random: systemRandom, hello: hello('bob@h'), maxFrameBytes: 1 << 20, handshakeTimeoutMs: 1000, clock: systemClock });
  const replies: Buffer[] = [];
  m.hook = (dir, chunk) => {
    if (dir === 'b->a') replies.push(chunk);
    return dir === 'b->a' ? undefined : chunk;
  };
  const future = PROTOCOL_VERSION + 1;
  m.inject('b', encodeFrame(encode({ t: 'hello', v: future, name: 'alice@h', future: true })));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_VERSION_MISMATCH'));
  assert.match((err as Error).message, new RegExp(`version ${PROTOCOL_VERSION}.*version ${future}`));
  const all = Buffer.concat(replies).toString('latin1');
  assert.match(all, /protocol version mismatch/);
  assert.match(all, new RegExp(`speaks version ${PROTOCOL_VERSION}, you speak version ${future}`));
});

test('a version 1 node (the HMAC handshake) dialing us is refused with both versions named', async () => {
  const m = mitmPair();
  const listener = new Connection(m.b, { role: 'listener', cookie: COOKIE, random: systemRandom, hello: hello('bob@h'), maxFrameBytes: 1 << 20, handshakeTimeoutMs: 1000, clock: systemClock });
  m.hook = (dir, chunk) => (dir === 'b->a' ? undefined : chunk);
  m.inject('b', encodeFrame(encode({ t: 'hello', v: 1, name: 'alice@h', inc: 'ab', nonce: randomBytes(32), port: 1, up: 1 })));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_VERSION_MISMATCH'));
  assert.match((err as Error).message, new RegExp(`version ${PROTOCOL_VERSION}, the peer speaks version 1`));
});

test('a peer that says nothing fails the handshake at the deadline', async () => {
  const clock = new ManualClock();
  const m = mitmPair();
  m.hook = () => undefined; // black hole in both directions
  const dialer = new Connection(m.a, { role: 'dialer', cookie: COOKIE, random: systemRandom, hello: hello('alice@h'), maxFrameBytes: 1 << 20, handshakeTimeoutMs: 5000, clock });
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

test('the handshake deadline is absolute: a trickling peer does not extend it', async () => {
  const clock = new ManualClock();
  const m = mitmPair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  const listener = new Connection(m.b, { role: 'listener', cookie: COOKIE, random: systemRandom, hello: hello('bob@h'), maxFrameBytes: 1 << 20, handshakeTimeoutMs: 1000, clock });
  const p = listener.handshake().catch((e: unknown) => e);
  // One byte of a frame header every 400 ms: never a complete frame, never idle for long.
  for (let i = 0; i < 3; i++) {
    m.inject('b', Buffer.from([0]));
    await new Promise((r) => setImmediate(r));
    clock.advance(400);
  }
  assert.ok(isClusterError(await p, 'ERR_HANDSHAKE_TIMEOUT'));
});

test('an oversized frame prefix during the handshake closes the connection', async () => {
  const { m, listener } = pair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  m.inject('b', Buffer.from([0x7f, 0xff, 0xff, 0xff]));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_FRAME_TOO_LARGE'));
});

test('before authentication frames are capped at MAX_HANDSHAKE_FRAME_BYTES, although maxFrameBytes is 1 MiB', async () => {
  const { m, listener } = pair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(MAX_HANDSHAKE_FRAME_BYTES + 1);
  m.inject('b', prefix);
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_FRAME_TOO_LARGE'), String(err));
  assert.match((err as Error).message, new RegExp(`limit is ${MAX_HANDSHAKE_FRAME_BYTES}`));
});

test('after authentication the configured maxFrameBytes applies, even to a frame that arrives in the same chunk as the last confirm', async () => {
  const m = mitmPair();
  // Coalesce everything the listener writes after its hello into one chunk, as TCP may.
  let held: Buffer[] = [];
  let listenerWrites = 0;
  m.hook = (dir, c) => {
    if (dir === 'a->b') return c;
    listenerWrites++;
    if (listenerWrites === 1) return c; // its hello
    held.push(c);
    return undefined;
  };
  const { dialer, listener } = pair({ mitm: m });
  await listener.handshake();
  const big = 'x'.repeat(64 * 1024);
  listener.send({ t: 'app', ch: 'big', body: big });
  const got = received(dialer);
  m.inject('a', Buffer.concat(held));
  held = [];
  await dialer.handshake();
  const msg = await got;
  assert.equal(msg.t === 'app' && (msg.body as string).length, big.length);
  dialer.close();
});

test('garbage instead of a hello closes the connection with a protocol error', async () => {
  const { m, listener } = pair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  m.inject('b', encodeFrame(Buffer.from([0xdc, 0xff])));
  const err = await listener.handshake().catch((e: unknown) => e);
  assert.ok(isClusterError(err, 'ERR_BAD_FRAME'), String(err));
});

test('a hostile refusal reason is shown escaped and cut, never raw', async () => {
  const { m, dialer } = pair();
  m.hook = (dir, c) => (dir === 'a->b' ? undefined : c);
  m.inject('a', encodeFrame(encode({ t: 'refuse', code: 'ERR_AUTH_FAILED', reason: `\u001b[31mred\u0007${'y'.repeat(500)}` })));
  const err = (await dialer.handshake().catch((e: unknown) => e)) as Error;
  assert.ok(isClusterError(err, 'ERR_AUTH_FAILED'));
  assert.ok(!err.message.includes('\u001b'));
  assert.ok(err.message.length < 200, err.message);
  assert.match(err.message, /\\u001b\[31mred\\u0007y+… \(509 characters\)$/);
});
