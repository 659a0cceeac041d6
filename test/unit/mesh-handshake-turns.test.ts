// The Mesh's handshake turns over the in-memory network on the manual clock
// (src/mesh/handshake-queue.ts as the mesh uses it): silent connections never hold a
// turn and are dropped after their longest wait without a warning; a dialer that stalls
// after its hello holds no turn once answered; a queued dial's deadline starts with its
// turn, not when it was asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh } from '../../src/mesh/mesh.js';
import { HANDSHAKE_SLOTS, MAX_RUNNING_INBOUND_HANDSHAKES } from '../../src/mesh/handshake-queue.js';
import { MAX_PENDING_HANDSHAKES_PER_ADDRESS } from '../../src/mesh/admission.js';
import { resolveConfig, testConfig } from '../../src/config.js';
import { dialHandshakeDeadlineMs, handshakeQueueWaitMs } from '../../src/membership/timing.js';
import { MAX_CONCURRENT_DIALS } from '../../src/mesh/dialer.js';
import { Connection } from '../../src/transport/connection.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { Network, Stream } from '../../src/transport/transport.js';
import { ManualClock } from '../../src/util/clock.js';
import { Secret } from '../../src/util/secret.js';
import { seededRandom } from '../../src/util/random.js';
import { SigningKey } from '../../src/util/signing.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { recordingLogger } from '../helpers/recording-logger.js';

const KEY = new Secret('turns-test');
const TIMING = testConfig();
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

async function run(clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

function node(clock: ManualClock, network: Network, name: string, host: string, seed: number) {
  const log = recordingLogger();
  const cfg = resolveConfig({ name, cookie: 'unused', host, clock, random: seededRandom(seed), logger: log, mdns: false, ...TIMING });
  const ups: string[] = [];
  const mesh = new Mesh(cfg, network, KEY, `${seed}0`, { nodeup: (m) => void ups.push(m.name), nodedown: () => {}, relinked: () => {}, message: () => {}, fatal: () => {} }, SigningKey.fromSeed(Buffer.alloc(32, seed)));
  return { mesh, log, ups };
}

/** A dialer that sends its hello and then reads nothing, so it never confirms: it holds the listener's turn until a deadline or close. */
function staller(stream: Stream, clock: ManualClock, n: number): { conn: Connection; closedAt: () => number | undefined } {
  let closedAt: number | undefined;
  stream.onClose(() => (closedAt ??= clock.now()));
  const deaf: Stream = { remoteAddress: stream.remoteAddress, remotePort: stream.remotePort, write: (d) => stream.write(d), close: () => stream.close(), onData: () => {}, onClose: (cb) => stream.onClose(cb) };
  const conn = new Connection(deaf, {
    role: 'dialer',
    cookie: KEY,
    random: seededRandom(100 + n),
    hello: { t: 'hello', v: PROTOCOL_VERSION, name: `stall${n}@sim`, inc: 'abcd', nonce: Buffer.alloc(32, n), port: 1, up: 0, key: Buffer.alloc(32, n), hidden: false },
    maxFrameBytes: 64 * 1024,
    handshakeTimeoutMs: 600_000,
    clock,
  });
  return { conn, closedAt: () => closedAt };
}

test('silent connections never hold a turn: with every address at its pending cap, a real peer joins at once, and the silent ones are dropped after their longest wait, at debug', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', 1);
  await alice.mesh.start();
  const silent: Stream[] = [];
  try {
    for (const ip of ['10.0.0.61', '10.0.0.62', '10.0.0.63']) {
      for (let i = 0; i < MAX_PENDING_HANDSHAKES_PER_ADDRESS; i++) silent.push(await net.host(ip).dial('10.0.0.1', alice.mesh.port, 1000));
    }
    let closed = 0;
    for (const s of silent) s.onClose(() => void closed++);
    assert.ok(silent.length > HANDSHAKE_SLOTS);
    await run(clock, 50);
    assert.equal(closed, 0, 'silent connections wait');
    const bob = node(clock, net.host('10.0.0.2'), 'aaron@sim', '10.0.0.2', 2);
    await bob.mesh.start();
    bob.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
    await run(clock, 200);
    assert.deepEqual(alice.mesh.members(), ['aaron@sim'], 'aaron (who dials at once: his name sorts first) got a turn although more silent connections than turns were queued');
    assert.equal(closed, 0);
    await run(clock, handshakeQueueWaitMs(TIMING.handshakeTimeoutMs));
    assert.equal(closed, silent.length, 'every silent connection was dropped after its longest wait');
    const dropped = alice.log.lines.filter((l) => l.message === 'dropped a connection that waited too long for its handshake turn');
    assert.ok(dropped.length >= 3 && dropped.every((l) => l.level === 'debug' && l.meta?.silent === true), `${dropped.length} debug lines`);
    assert.deepEqual(alice.log.lines.filter((l) => l.level === 'warn').map((l) => l.message), [], 'waiting in our queue is no failed handshake');
    await bob.mesh.stop();
  } finally {
    for (const s of silent) s.close();
    await alice.mesh.stop();
  }
});

test('a dial that waited for a turn gets its whole deadline from its turn, not from when it was asked for', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', 1);
  await alice.mesh.start();
  // Listeners that accept and never answer: each of alice's dials to them holds a dial turn until its deadline.
  const streams: { ip: string; at: number; closedAt: number | undefined }[] = [];
  const held: Stream[] = [];
  const peers = ['10.0.0.81', '10.0.0.82', '10.0.0.83', '10.0.0.84'].slice(0, MAX_CONCURRENT_DIALS + 1);
  try {
    for (const ip of peers) {
      const l = await net.host(ip).listen(ip, 0, (s) => {
        held.push(s);
        const e = { ip, at: clock.now(), closedAt: undefined as number | undefined };
        streams.push(e);
        s.onClose(() => (e.closedAt ??= clock.now()));
      });
      alice.mesh.peerFound({ id: ip, name: `zz${ip.slice(-2)}@sim`, addresses: [ip], port: l.port, source: 'mdns' });
    }
    const deadline = dialHandshakeDeadlineMs(TIMING.handshakeTimeoutMs, 0);
    await run(clock, 1000);
    assert.equal(streams.length, MAX_CONCURRENT_DIALS, 'the first dials run, the next waits for a turn');
    await run(clock, 2 * deadline + 1000);
    const firstClose = Math.min(...streams.slice(0, MAX_CONCURRENT_DIALS).map((e) => e.closedAt ?? Infinity));
    const late = streams.find((e) => e.ip === peers[MAX_CONCURRENT_DIALS]);
    assert.ok(late && late.at >= firstClose, `the waiting dial connected once an earlier one had timed out: ${JSON.stringify(streams)}`);
    const ran = late.closedAt! - late.at;
    assert.ok(ran >= deadline - 20 && ran <= deadline + 200, `the late dial ran ${ran} ms from its turn (deadline ${deadline} ms)`);
  } finally {
    for (const s of held) s.close();
    await alice.mesh.stop();
  }
});

test('with every inbound turn held by handshakes that never finish, this node still dials the peers it knows', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', 1);
  const bob = node(clock, net.host('10.0.0.2'), 'bob@sim', '10.0.0.2', 2);
  await alice.mesh.start();
  await bob.mesh.start();
  const stallers: ReturnType<typeof staller>[] = [];
  try {
    for (let i = 0; i < 2 * HANDSHAKE_SLOTS; i++) stallers.push(staller(await net.host(`10.0.0.${60 + i}`).dial('10.0.0.1', alice.mesh.port, 1000), clock, i));
    await run(clock, 20);
    alice.mesh.peerFound({ id: 'bob', name: 'bob@sim', addresses: ['10.0.0.2'], port: bob.mesh.port, source: 'mdns' });
    await run(clock, 100);
    assert.deepEqual(alice.mesh.members(), ['bob@sim']);
    assert.ok(stallers.every((s) => s.closedAt() === undefined), 'the stallers still hold their turns or places');
  } finally {
    for (const s of stallers) s.conn.close();
    await bob.mesh.stop();
    await alice.mesh.stop();
  }
});

test('a queued connection that sends more than a hello is closed at once and logged as a failed handshake', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', 1);
  await alice.mesh.start();
  const stallers: ReturnType<typeof staller>[] = [];
  try {
    for (let i = 0; i < MAX_RUNNING_INBOUND_HANDSHAKES; i++) stallers.push(staller(await net.host(`10.0.0.${60 + i}`).dial('10.0.0.1', alice.mesh.port, 1000), clock, i));
    await run(clock, 20);
    const big = await net.host('10.0.0.77').dial('10.0.0.1', alice.mesh.port, 1000);
    let closed = false;
    big.onClose(() => (closed = true));
    big.write(Buffer.from([0, 0x10, 0, 0])); // a frame of 1 MiB announced while queued
    await run(clock, 20);
    assert.ok(closed);
    const lines = alice.log.lines.filter((l) => l.message === 'handshake failed' && l.meta?.code === 'ERR_FRAME_TOO_LARGE');
    assert.equal(lines.length, 1);
    assert.ok(stallers.every((s) => s.closedAt() === undefined), 'the running handshakes are untouched');
  } finally {
    for (const s of stallers) s.conn.close();
    await alice.mesh.stop();
  }
});

test('a dialer that sends its hello and then stalls before its confirm holds no turn once answered: with more stallers than turns, from as many addresses, a real peer dialing in joins at once', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', 1);
  await alice.mesh.start();
  const stallers: ReturnType<typeof staller>[] = [];
  try {
    for (let i = 0; i < 4 * HANDSHAKE_SLOTS; i++) stallers.push(staller(await net.host(`10.0.0.${60 + i}`).dial('10.0.0.1', alice.mesh.port, 1000), clock, i));
    await run(clock, 20);
    // aaron sorts before alice, so he dials at once (no simultaneous-dial grace): he needs one of alice's inbound turns.
    const aaron = node(clock, net.host('10.0.0.2'), 'aaron@sim', '10.0.0.2', 2);
    await aaron.mesh.start();
    aaron.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
    await run(clock, 100);
    assert.deepEqual(alice.mesh.members(), ['aaron@sim'], 'aaron got a turn although every staller had been answered and is still waiting');
    assert.ok(stallers.every((s) => s.closedAt() === undefined), 'the stallers still wait for their deadline');
    await aaron.mesh.stop();
  } finally {
    for (const s of stallers) s.conn.close();
    await alice.mesh.stop();
  }
});
