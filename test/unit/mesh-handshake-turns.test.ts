// The Mesh's handshake turns over the in-memory network on the manual clock
// (src/mesh/handshake-queue.ts as the mesh uses it): silent connections never hold a
// turn and are dropped after their longest wait without a warning; a queued handshake's
// deadline starts with its turn, not when its socket connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh } from '../../src/mesh/mesh.js';
import { HANDSHAKE_SLOTS, MAX_RUNNING_HANDSHAKES_PER_ADDRESS, MAX_RUNNING_INBOUND_HANDSHAKES } from '../../src/mesh/handshake-queue.js';
import { MAX_PENDING_HANDSHAKES_PER_ADDRESS } from '../../src/mesh/admission.js';
import { resolveConfig, testConfig } from '../../src/config.js';
import { handshakeQueueWaitMs } from '../../src/membership/timing.js';
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

test('a handshake that waited in the queue gets its whole deadline from its turn, not from its connect', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', 1);
  await alice.mesh.start();
  const stallers: ReturnType<typeof staller>[] = [];
  try {
    // Fill every inbound turn with handshakes that never finish (from several addresses: each has a cap).
    for (let i = 0; i < MAX_RUNNING_INBOUND_HANDSHAKES; i++) {
      const ip = `10.0.0.${60 + Math.floor(i / MAX_RUNNING_HANDSHAKES_PER_ADDRESS)}`;
      stallers.push(staller(await net.host(ip).dial('10.0.0.1', alice.mesh.port, 1000), clock, i));
    }
    await run(clock, 20);
    const late = staller(await net.host('10.0.0.70').dial('10.0.0.1', alice.mesh.port, 1000), clock, 99);
    const connectedAt = clock.now();
    await run(clock, 300);
    // The first ones give up; the late one's turn comes now.
    for (const s of stallers.slice(0, 1)) s.conn.close();
    await run(clock, 10);
    const turnAt = clock.now();
    const timeouts = (): number => alice.log.lines.filter((l) => l.message === 'handshake failed' && l.meta?.code === 'ERR_HANDSHAKE_TIMEOUT' && String(l.meta?.addr).startsWith('10.0.0.70:')).length;
    await run(clock, connectedAt + TIMING.handshakeTimeoutMs + 100 - clock.now());
    assert.equal(late.closedAt(), undefined, 'still in its handshake a whole timeout after it connected');
    assert.equal(timeouts(), 0);
    await run(clock, turnAt + TIMING.handshakeTimeoutMs + 50 - clock.now());
    const closedAt = late.closedAt();
    assert.ok(closedAt !== undefined && closedAt >= turnAt + TIMING.handshakeTimeoutMs - 10, `closed at ${closedAt}, turn at ${turnAt}`);
    assert.equal(timeouts(), 1, 'and then it timed out, as a handshake that failed');
  } finally {
    for (const s of stallers) s.conn.close();
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
