// The Mesh as a whole over the in-memory network on the manual clock: what forged
// candidates, relays, impostors and wrong cookies can and cannot make it do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh } from '../../src/mesh/mesh.js';
import type { MeshEvents, MeshMember } from '../../src/mesh/mesh.js';
import { DIALS_GLOBAL, DIALS_PER_ADDRESS } from '../../src/mesh/dialer.js';
import { MAX_GOSSIP_CANDIDATES_PER_MEMBER } from '../../src/mesh/candidates.js';
import { OBSERVER_ASKS } from '../../src/mesh/observers.js';
import { FAILED_HANDSHAKES_PER_ADDRESS, MAX_PENDING_HANDSHAKES_PER_ADDRESS, NEWCOMER_WINDOW_MS } from '../../src/mesh/admission.js';
import { FAILURE_DEBUG_LOGS_PER_WINDOW, FAILURE_LOGS_PER_WINDOW } from '../../src/mesh/failure-log.js';
import { lanConfig, resolveConfig, testConfig } from '../../src/config.js';
import type { NodeOptions } from '../../src/config.js';
import { ClusterError } from '../../src/errors.js';
import { Connection } from '../../src/transport/connection.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { Network, Stream } from '../../src/transport/transport.js';
import { ManualClock } from '../../src/util/clock.js';
import { Secret } from '../../src/util/secret.js';
import { seededRandom } from '../../src/util/random.js';
import { SigningKey } from '../../src/util/signing.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import type { MemberInfo } from '../../src/wire/messages.js';
import { recordingLogger } from '../helpers/recording-logger.js';

const KEY = new Secret('mesh-test');
const OTHER_KEY = new Secret('another-cookie');
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

async function run(clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

interface Node {
  mesh: Mesh;
  host: string;
  log: ReturnType<typeof recordingLogger>;
  events: { kind: 'nodeup' | 'nodedown' | 'relinked' | 'fatal'; who: string; why?: string }[];
}

function node(clock: ManualClock, network: Network, name: string, host: string, key = KEY, seed = 1, timing: Partial<NodeOptions> = testConfig()): Node {
  const log = recordingLogger();
  const cfg = resolveConfig({ name, cookie: 'unused: the Secret is passed', host, clock, random: seededRandom(seed), logger: log, mdns: false, ...timing });
  const events: Node['events'] = [];
  const sink: MeshEvents = {
    nodeup: (m: MeshMember) => void events.push({ kind: 'nodeup', who: m.name }),
    nodedown: (m: MeshMember, why: string) => void events.push({ kind: 'nodedown', who: m.name, why }),
    relinked: (m: MeshMember) => void events.push({ kind: 'relinked', who: m.name }),
    message: () => {},
    fatal: (err: ClusterError) => void events.push({ kind: 'fatal', who: name, why: err.message }),
  };
  return { mesh: new Mesh(cfg, network, key, `${seed.toString(16)}0${host.replace(/\D/g, '')}`, sink, SigningKey.fromSeed(Buffer.alloc(32, seed))), host, log, events };
}

async function pairUp(clock: ManualClock, net: MemoryNetwork): Promise<[Node, Node]> {
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', KEY, 1);
  const bob = node(clock, net.host('10.0.0.2'), 'bob@sim', '10.0.0.2', KEY, 2);
  await alice.mesh.start();
  await bob.mesh.start();
  alice.mesh.peerFound({ id: 'bob', name: 'bob@sim', addresses: ['10.0.0.2'], port: bob.mesh.port, source: 'mdns' });
  bob.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
  await run(clock, 500);
  assert.deepEqual(alice.mesh.members(), ['bob@sim']);
  assert.deepEqual(bob.mesh.members(), ['alice@sim']);
  // From here on, any event is news (formation may relink once: both dialed at once).
  alice.events.length = 0;
  bob.events.length = 0;
  return [alice, bob];
}

/** A hand-driven dialer with the cluster cookie on stream: what an impostor or a member gone rogue would run. */
function handDialer(stream: Stream, clock: ManualClock, hello: { name: string; inc: string; nonceByte: number; up: number; key?: Uint8Array; hidden?: boolean }, maxFrameBytes = 64 * 1024): Connection {
  return new Connection(stream, {
    role: 'dialer',
    cookie: KEY,
    random: seededRandom(99),
    hello: { t: 'hello', v: PROTOCOL_VERSION, name: hello.name, inc: hello.inc, nonce: Buffer.alloc(32, hello.nonceByte), port: 1, up: hello.up, key: hello.key ?? Buffer.alloc(32, hello.nonceByte), hidden: hello.hidden ?? false },
    maxFrameBytes,
    handshakeTimeoutMs: 1000,
    clock,
  });
}

/** A network whose dials are counted per host and all refused. */
function countingNetwork(inner: Network): Network & { dials: Map<string, number> } {
  const dials = new Map<string, number>();
  return {
    dials,
    listen: (h, p, on) => inner.listen(h, p, on),
    dial: async (host, port) => {
      dials.set(host, (dials.get(host) ?? 0) + 1);
      throw new ClusterError('ERR_CONNECTION_CLOSED', `cannot connect to ${host}:${port}: connection refused`);
    },
  };
}

test('a flood of forged candidates at one address, with port flips, stays within the documented dial rate', async (t) => {
  const clock = new ManualClock();
  const net = countingNetwork(new MemoryNetwork().host('10.0.0.1'));
  const victim = node(clock, net, 'alice@sim', '10.0.0.1');
  await victim.mesh.start();
  const SECONDS = 5;
  try {
    for (let round = 0; round < SECONDS * 10; round++) {
      // 1,000 distinct forged records, re-announced every 100 ms with the port flipping.
      for (let i = 0; i < 1000; i++) victim.mesh.peerFound({ id: `forged-${i}`, name: `f${i}@x`, addresses: ['192.0.2.7'], port: 7000 + (round % 2), source: 'mdns' });
      await run(clock, 100);
    }
    const attempts = net.dials.get('192.0.2.7') ?? 0;
    const bound = DIALS_PER_ADDRESS.capacity + DIALS_PER_ADDRESS.perSecond * SECONDS;
    assert.ok(attempts > 0, 'the forged candidates were dialed at all (else this proves nothing)');
    assert.ok(attempts <= bound, `${attempts} connection attempts to one address in ${SECONDS} s (bound ${bound})`);
    const dialLines = victim.log.lines.filter((l) => l.message === 'dial failed');
    t.diagnostic(`1000 forged records, port flipping every 100 ms, ${SECONDS} s: ${attempts} connection attempts to the address (bound ${bound}), ${dialLines.length} dial-failure lines, ${victim.log.lines.filter((l) => l.level !== 'debug').length} lines above debug`);
    assert.ok(dialLines.length <= FAILURE_LOGS_PER_WINDOW + FAILURE_DEBUG_LOGS_PER_WINDOW, `${dialLines.length} dial-failure lines`);
  } finally {
    await victim.mesh.stop();
  }
});

test('a record flipping its port does not reset the backoff more than once a minute', async (t) => {
  const clock = new ManualClock();
  const net = countingNetwork(new MemoryNetwork().host('10.0.0.1'));
  // LAN timing: backoff from 200 ms doubling up to 4 s.
  const victim = node(clock, net, 'alice@sim', '10.0.0.1', KEY, 1, lanConfig());
  await victim.mesh.start();
  try {
    for (let i = 0; i < 300; i++) {
      victim.mesh.peerFound({ id: 'flipper', name: 'bob@x', addresses: ['192.0.2.8'], port: 7000 + (i % 2), source: 'mdns' });
      await run(clock, 100, 50);
    }
    // 30 s of backoff from 200 ms to 4 s (with jitter): about 12-15 attempts; resetting on every flip, the per-address bucket alone would allow 68.
    const attempts = net.dials.get('192.0.2.8') ?? 0;
    t.diagnostic(`one record flipping its port every 100 ms for 30 s: ${attempts} connection attempts`);
    assert.ok(attempts >= 5 && attempts <= 18, `${attempts} attempts in 30 s`);
  } finally {
    await victim.mesh.stop();
  }
});

/** A manual clock that counts the timers set on it (wakeups). */
class CountingClock extends ManualClock {
  timersSet = 0;
  override setTimeout(fn: () => void, ms: number): ReturnType<ManualClock['setTimeout']> {
    this.timersSet++;
    return super.setTimeout(fn, ms);
  }
}

test('forged candidates spread over many addresses stay within the global dial rate, and cost wakeups near that rate', async (t) => {
  const clock = new CountingClock();
  const net = countingNetwork(new MemoryNetwork().host('10.0.0.1'));
  const victim = node(clock, net, 'alice@sim', '10.0.0.1');
  await victim.mesh.start();
  const SECONDS = 5;
  try {
    for (let i = 0; i < 1000; i++) victim.mesh.peerFound({ id: `forged-${i}`, addresses: [`198.51.${i >> 8}.${i & 255}`], port: 7000, source: 'mdns' });
    await run(clock, SECONDS * 1000);
    const total = [...net.dials.values()].reduce((a, b) => a + b, 0);
    const bound = DIALS_GLOBAL.capacity + DIALS_GLOBAL.perSecond * SECONDS;
    t.diagnostic(`1000 forged records at 1000 addresses, ${SECONDS} s: ${total} connection attempts (bound ${bound}), ${clock.timersSet} timers set`);
    // Without spreading the paced waits this was about 100,000 (every waiting candidate woke for every token).
    assert.ok(clock.timersSet <= 5000, `${clock.timersSet} timers set in ${SECONDS} s`);
    assert.ok(total > DIALS_GLOBAL.capacity, `dialed ${total}`);
    assert.ok(total <= bound, `${total} connection attempts in ${SECONDS} s (bound ${bound})`);
  } finally {
    await victim.mesh.stop();
  }
});

test('a hello under a live node\'s name claiming 2^53-1 ms of uptime is refused and never makes the live node exit', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const [alice, bob] = await pairUp(clock, net);
  try {
    for (const target of [alice, bob]) {
      const stream = await net.host('10.0.0.66').dial(target.host, target.mesh.port, 1000);
      const forged = handDialer(stream, clock, { name: 'alice@sim', inc: 'ffff', nonceByte: 7, up: Number.MAX_SAFE_INTEGER });
      await run(clock, 100);
      assert.equal(forged.state, 'closed', `${target.host} closed the impostor`);
      assert.equal(forged.byeCode, 'ERR_NAME_IN_USE');
    }
    await run(clock, 1000);
    for (const n of [alice, bob]) assert.deepEqual(n.events, [], `${n.host}: no fatal, no nodedown, no relink`);
    assert.deepEqual(alice.mesh.members(), ['bob@sim']);
    assert.deepEqual(bob.mesh.members(), ['alice@sim']);
  } finally {
    await alice.mesh.stop();
    await bob.mesh.stop();
  }
});

test('an incarnation never changes its signing key: a second comer with another key is refused as an impostor, even after the first left', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', KEY, 1);
  await alice.mesh.start();
  try {
    const bobId = { name: 'bob@sim', inc: 'b0b0', nonceByte: 7, up: 10 };
    const dial = async (key: Uint8Array): Promise<Connection> => {
      const c = handDialer(await net.host('10.0.0.2').dial('10.0.0.1', alice.mesh.port, 1000), clock, { ...bobId, key });
      await run(clock, 100);
      return c;
    };
    const real = await dial(Buffer.alloc(32, 1));
    assert.equal(real.state, 'open');
    assert.deepEqual(alice.mesh.members(), ['bob@sim']);
    real.close();
    await run(clock, 200);
    assert.deepEqual(alice.mesh.members(), []);
    // Someone who learned bob's incarnation from gossip, with its own key.
    const impostor = await dial(Buffer.alloc(32, 2));
    assert.equal(impostor.state, 'closed');
    assert.equal(impostor.byeCode, 'KEY_MISMATCH');
    assert.deepEqual(alice.mesh.members(), []);
    assert.ok(alice.log.lines.some((l) => l.message.startsWith('refused a node presenting another signing key')), 'logged');
    // The real bob (same key) reconnects.
    const back = await dial(Buffer.alloc(32, 1));
    assert.equal(back.state, 'open');
    assert.deepEqual(alice.mesh.members(), ['bob@sim']);
    back.close();
  } finally {
    await alice.mesh.stop();
  }
});

test('an observer asking for views faster than the limit gets a burst, then 2 answers a second', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const log = recordingLogger();
  const cfg = resolveConfig({ name: 'alice@sim', cookie: 'unused', host: '10.0.0.1', clock, random: seededRandom(1), logger: log, mdns: false, ...testConfig() });
  let asked = 0;
  const mesh = new Mesh(cfg, net.host('10.0.0.1'), KEY, 'a1', { nodeup() {}, nodedown() {}, relinked() {}, message() {}, fatal() {}, observerRequest: () => ({ k: 'a', n: ++asked }) }, SigningKey.fromSeed(Buffer.alloc(32, 1)));
  await mesh.start();
  try {
    const o = handDialer(await net.host('10.0.0.7').dial('10.0.0.1', mesh.port, 1000), clock, { name: 'status-1@sim', inc: '0b5e', nonceByte: 5, up: 0, hidden: true });
    let answers = 0;
    o.onMessage((m) => void (m.t === 'app' && answers++));
    await run(clock, 50);
    for (let i = 0; i < 20; i++) o.send({ t: 'app', ch: 'status', body: { k: 'q', id: i } });
    await run(clock, 50);
    assert.equal(answers, OBSERVER_ASKS.capacity, 'the burst');
    for (let i = 0; i < 11; i++) {
      o.send({ t: 'app', ch: 'status', body: { k: 'q', id: 100 + i } });
      await run(clock, 100);
    }
    // Asked every 100 ms for 1.1 s more: two more answers (a token every 500 ms).
    assert.equal(answers, OBSERVER_ASKS.capacity + 2);
    assert.equal(asked, answers, 'nothing over the limit reached the node');
    assert.equal(log.lines.filter((l) => l.message.startsWith('ignoring an observer asking faster')).length, 1, 'noted once');
  } finally {
    await mesh.stop();
  }
});

test('an observer (hidden peer) is never a member, gets pongs and the member list, and is closed when it falls silent', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const [alice, bob] = await pairUp(clock, net);
  try {
    const o = handDialer(await net.host('10.0.0.7').dial('10.0.0.1', alice.mesh.port, 1000), clock, { name: 'status-1@sim', inc: '0b5e', nonceByte: 5, up: 0, hidden: true });
    const got: string[] = [];
    o.onMessage((m) => void got.push(m.t === 'members' ? `members ${m.members.map((x) => x.name).join(',')}` : m.t));
    await run(clock, 50);
    assert.equal(o.state, 'open');
    assert.deepEqual(alice.mesh.members(), ['bob@sim'], 'not a member');
    assert.deepEqual(alice.mesh.observerNames(), ['status-1@sim']);
    assert.deepEqual(alice.events, [], 'no nodeup');
    o.send({ t: 'ping', seq: 1 });
    await run(clock, 50);
    assert.deepEqual(got, ['members bob@sim', 'pong']);
    // Silent past the failure timeout (testConfig: 600 ms): closed, and still no nodedown.
    await run(clock, 800);
    assert.equal(o.state, 'closed');
    assert.equal(o.byeCode, 'DECLARED_DOWN');
    assert.deepEqual(alice.mesh.observerNames(), []);
    assert.deepEqual(alice.events, []);
  } finally {
    await alice.mesh.stop();
    await bob.mesh.stop();
  }
});

test('a lone node past its newcomer window keeps its name against a twin claiming a longer uptime; two newcomers settle by uptime', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const old = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', KEY, 1);
  await old.mesh.start();
  await run(clock, NEWCOMER_WINDOW_MS, 1000);
  const stream = await net.host('10.0.0.66').dial('10.0.0.1', old.mesh.port, 1000);
  const forged = handDialer(stream, clock, { name: 'alice@sim', inc: 'ffff', nonceByte: 7, up: Number.MAX_SAFE_INTEGER });
  await run(clock, 100);
  assert.equal(forged.byeCode, 'ERR_NAME_IN_USE');
  assert.deepEqual(old.events, []);
  await old.mesh.stop();

  // Two honest twins that meet in their first seconds (the mDNS name-conflict case):
  // the one that started later gives its name up; the first keeps running.
  const first = node(clock, net.host('10.0.0.3'), 'carol@sim', '10.0.0.3', KEY, 3);
  await first.mesh.start();
  await run(clock, 2000);
  const twin = node(clock, net.host('10.0.0.4'), 'carol@sim', '10.0.0.4', KEY, 4);
  await twin.mesh.start();
  first.mesh.peerFound({ id: 'twin', name: 'carol@sim', addresses: ['10.0.0.4'], port: twin.mesh.port, source: 'mdns' });
  twin.mesh.peerFound({ id: 'first', name: 'carol@sim', addresses: ['10.0.0.3'], port: first.mesh.port, source: 'mdns' });
  await run(clock, 1000);
  assert.deepEqual(first.events, []);
  assert.equal(twin.events[0]?.kind, 'fatal');
  assert.match(twin.events[0]?.why ?? '', /carol@sim is already in use/);
  await first.mesh.stop();
  await twin.mesh.stop();
});

test('an established node does not dial a candidate advertised with its own name', async () => {
  const clock = new ManualClock();
  const net = countingNetwork(new MemoryNetwork().host('10.0.0.1'));
  const alice = node(clock, net, 'alice@sim', '10.0.0.1');
  await alice.mesh.start();
  await run(clock, NEWCOMER_WINDOW_MS, 1000);
  alice.mesh.peerFound({ id: 'spoof', name: 'alice@sim', addresses: ['192.0.2.9'], port: 7000, source: 'mdns' });
  await run(clock, 10_000, 100);
  assert.equal(net.dials.get('192.0.2.9') ?? 0, 0);
  assert.equal(alice.log.lines.filter((l) => l.message === 'not dialing a candidate advertised with our own name').length, 1);
  await alice.mesh.stop();
});

/** A plain TCP-like splice on `at`: every connection to it is piped to target. */
async function splice(net: MemoryNetwork, at: string, target: { host: string; port: number }): Promise<{ port: number; accepted: number }> {
  const state = { port: 0, accepted: 0 };
  const l = await net.host(at).listen(at, 0, (inbound: Stream) => {
    state.accepted++;
    void net
      .host(at)
      .dial(target.host, target.port, 1000)
      .then((outbound) => {
        inbound.onData((c) => outbound.write(c));
        outbound.onData((c) => inbound.write(c));
        inbound.onClose(() => outbound.close());
        outbound.onClose(() => inbound.close());
      });
  });
  state.port = l.port;
  return state;
}

test('a relay announced as a new candidate never replaces a healthy connection between two members', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const [alice, bob] = await pairUp(clock, net);
  try {
    await run(clock, 2000); // older than the simultaneous-dial window (the handshake timeout)
    const relay = await splice(net, '10.0.0.9', { host: bob.host, port: bob.mesh.port });
    // Unnamed (like a seed) and under a made-up name (like a forged mDNS record).
    alice.mesh.peerFound({ id: 'relay-unnamed', addresses: ['10.0.0.9'], port: relay.port, source: 'mdns' });
    alice.mesh.peerFound({ id: 'relay-named', name: 'mallory@sim', addresses: ['10.0.0.9'], port: relay.port, source: 'mdns' });
    await run(clock, 10_000);
    assert.ok(relay.accepted >= 2, `the relay carried ${relay.accepted} connections (else this proves nothing)`);
    for (const n of [alice, bob]) assert.deepEqual(n.events, [], `${n.host}: no relink, no nodedown`);
    assert.deepEqual(alice.mesh.memberList().map((m) => m.host), ['10.0.0.2']);
    assert.ok(alice.log.lines.some((l) => l.message === 'refused a candidate whose authenticated name differs from the advertised one'));
  } finally {
    await alice.mesh.stop();
    await bob.mesh.stop();
  }
});

test('a wrong cookie is said clearly on both sides, once per peer per minute; a lone node says why it is alone', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', KEY, 1);
  const eve = node(clock, net.host('10.0.0.5'), 'eve@sim', '10.0.0.5', OTHER_KEY, 5);
  await alice.mesh.start();
  await eve.mesh.start();
  try {
    alice.mesh.peerFound({ id: 'eve', name: 'eve@sim', addresses: ['10.0.0.5'], port: eve.mesh.port, source: 'mdns' });
    eve.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
    await run(clock, 150_000, 100);
    const aliceWarns = alice.log.lines.filter((l) => l.level === 'warn' && l.message.startsWith('authentication failed'));
    const eveWarns = eve.log.lines.filter((l) => l.level === 'warn' && l.message.startsWith('authentication failed'));
    assert.equal(aliceWarns[0]?.message, 'authentication failed with eve@sim (10.0.0.5): different cookie?');
    assert.equal(eveWarns[0]?.message, 'authentication failed with alice@sim (10.0.0.1): different cookie?');
    // 150 s: the first at once, then once a minute.
    assert.ok(aliceWarns.length >= 2 && aliceWarns.length <= 3, `alice warned ${aliceWarns.length} times`);
    const alone = alice.log.lines.filter((l) => l.level === 'info' && l.message.startsWith('alone:'));
    assert.equal(alone[0]?.message, 'alone: 1 node on the network failed authentication (different cookie?): eve@sim');
    assert.ok(alone.length >= 2 && alone.length <= 3, `alone said ${alone.length} times`);
    assert.deepEqual(alice.mesh.members(), []);
  } finally {
    await alice.mesh.stop();
    await eve.mesh.stop();
  }
});

test('handshake slots are per source address and come back when the connections go', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', KEY, 1, { ...testConfig(), handshakeTimeoutMs: 60_000 });
  await alice.mesh.start();
  try {
    const idle: Stream[] = [];
    for (let i = 0; i < 20; i++) idle.push(await net.host('10.0.0.66').dial('10.0.0.1', alice.mesh.port, 1000));
    let closed = 0;
    for (const s of idle) s.onClose(() => void closed++);
    await run(clock, 100);
    assert.equal(closed, 20 - MAX_PENDING_HANDSHAKES_PER_ADDRESS, 'all but the per-address cap closed at once');
    assert.equal(alice.log.lines.filter((l) => l.message === 'too many connections in their handshake from this address; refusing' && l.level === 'warn').length, FAILURE_LOGS_PER_WINDOW);
    for (const s of idle) s.close();
    await run(clock, 100);
    // The same address may now bring a real node in.
    const bob = node(clock, net.host('10.0.0.66'), 'bob@sim', '10.0.0.66', KEY, 2);
    await bob.mesh.start();
    bob.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
    await run(clock, 500);
    assert.deepEqual(alice.mesh.members(), ['bob@sim']);
    await bob.mesh.stop();
  } finally {
    await alice.mesh.stop();
  }
});

test('an address whose handshakes keep failing has its connections closed at once', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1');
  await alice.mesh.start();
  try {
    const garbage = Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]);
    for (let i = 0; i < 30; i++) {
      const s = await net.host('10.0.0.77').dial('10.0.0.1', alice.mesh.port, 1000);
      s.write(garbage);
      await run(clock, 10);
    }
    const failed = alice.log.lines.filter((l) => l.message === 'handshake failed').length;
    const refused = alice.log.lines.filter((l) => l.message === 'too many failed handshakes from this address; refusing' && l.level === 'warn').length;
    assert.ok(failed >= 1 && failed <= FAILED_HANDSHAKES_PER_ADDRESS.capacity + 1, `${failed} handshakes failed`);
    assert.ok(refused >= 1 && refused <= FAILURE_LOGS_PER_WINDOW, `${refused} refusal lines`);
  } finally {
    await alice.mesh.stop();
  }
});

test('gossip candidates are capped per gossiping member and go when that member goes', async (t) => {
  const clock = new ManualClock();
  const mem = new MemoryNetwork();
  const net = countingNetwork(mem.host('10.0.0.1'));
  const alice = node(clock, net, 'alice@sim', '10.0.0.1');
  await alice.mesh.start();
  try {
    const stream = await mem.host('10.0.0.66').dial('10.0.0.1', alice.mesh.port, 1000);
    const mallory = handDialer(stream, clock, { name: 'mallory@sim', inc: 'eeee', nonceByte: 9, up: 0 }, 1024 * 1024);
    await run(clock, 50);
    assert.equal(mallory.state, 'open');
    const members = Array.from({ length: 1000 }, (_, i) => ({ name: `g${i}@x`, inc: 'ab', host: `203.0.${i >> 8}.${i & 255}`, port: 7000 }));
    mallory.send({ t: 'members', members });
    for (let seq = 0; seq < 300; seq++) {
      mallory.send({ t: 'ping', seq }); // stay up
      await run(clock, 100, 50);
    }
    assert.deepEqual(alice.mesh.members(), ['mallory@sim']);
    const dialed = net.dials.size;
    t.diagnostic(`one member gossiping 1000 candidates: ${dialed} distinct addresses dialed`);
    assert.ok(dialed > 100 && dialed <= MAX_GOSSIP_CANDIDATES_PER_MEMBER, `${dialed} distinct addresses dialed`);
    mallory.close();
    await run(clock, 1000, 50);
    const before = [...net.dials.values()].reduce((a, b) => a + b, 0);
    await run(clock, 30_000, 100);
    const after = [...net.dials.values()].reduce((a, b) => a + b, 0);
    assert.equal(after, before, 'nothing mallory gossiped is dialed once mallory is gone');
  } finally {
    await alice.mesh.stop();
  }
});

test('two nodes that find each other at once make one handshake, dialed by the name that sorts first', async () => {
  const clock = new ManualClock(0);
  const net = new MemoryNetwork();
  const dials = new Map<string, number>();
  const counting = (inner: Network): Network => ({
    listen: (h, p, on) => inner.listen(h, p, on),
    dial: (host, port, ms) => {
      dials.set(host, (dials.get(host) ?? 0) + 1);
      return inner.dial(host, port, ms);
    },
  });
  const alice = node(clock, counting(net.host('10.0.0.1')), 'alice@sim', '10.0.0.1', KEY, 1);
  const bob = node(clock, counting(net.host('10.0.0.2')), 'bob@sim', '10.0.0.2', KEY, 2);
  await alice.mesh.start();
  await bob.mesh.start();
  bob.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
  alice.mesh.peerFound({ id: 'bob', name: 'bob@sim', addresses: ['10.0.0.2'], port: bob.mesh.port, source: 'mdns' });
  await run(clock, 1000);
  assert.deepEqual(alice.mesh.members(), ['bob@sim']);
  assert.deepEqual(bob.mesh.members(), ['alice@sim']);
  assert.deepEqual(Object.fromEntries(dials), { '10.0.0.2': 1 }, 'only alice (sorting first) dialed');
  assert.ok(!alice.events.some((e) => e.kind === 'relinked') && !bob.events.some((e) => e.kind === 'relinked'), 'no second connection replaced the first');
  await alice.mesh.stop();
  await bob.mesh.stop();
});

test('a node that yields its first dial still dials when the peer does not', async () => {
  const clock = new ManualClock(0);
  const net = new MemoryNetwork();
  const alice = node(clock, net.host('10.0.0.1'), 'alice@sim', '10.0.0.1', KEY, 1);
  const bob = node(clock, net.host('10.0.0.2'), 'bob@sim', '10.0.0.2', KEY, 2);
  await alice.mesh.start();
  await bob.mesh.start();
  // Only bob knows of alice (say a seed): he waits the grace, then dials himself.
  bob.mesh.peerFound({ id: 'alice', name: 'alice@sim', addresses: ['10.0.0.1'], port: alice.mesh.port, source: 'mdns' });
  await run(clock, 1000);
  assert.deepEqual(bob.mesh.members(), ['alice@sim']);
  assert.deepEqual(alice.mesh.members(), ['bob@sim']);
  await alice.mesh.stop();
  await bob.mesh.stop();
});

/** n members on hosts 10.0.0.1..n, all discovered by each other, formed into a full mesh. */
async function cluster(clock: ManualClock, net: MemoryNetwork, n: number): Promise<Node[]> {
  const nodes = Array.from({ length: n }, (_, i) => node(clock, net.host(`10.0.0.${i + 1}`), `n${i}@sim`, `10.0.0.${i + 1}`, KEY, i + 1));
  for (const x of nodes) await x.mesh.start();
  for (const x of nodes) {
    for (const [j, y] of nodes.entries()) if (x !== y) x.mesh.peerFound({ id: `n${j}`, name: `n${j}@sim`, addresses: [y.host], port: y.mesh.port, source: 'mdns' });
  }
  await run(clock, 1500);
  for (const x of nodes) assert.equal(x.mesh.members().length, n - 1, `${x.host} sees everyone`);
  for (const x of nodes) x.events.length = 0;
  return nodes;
}

test('a new incarnation under the name of a member we do not watch is held off until we watch it, then refused as a live node\'s name', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const nodes = await cluster(clock, net, 5);
  try {
    // n0 watches its ring successors n1, n2, n3: n4 sends it no heartbeats.
    const target = nodes[0]!;
    const dial = async (): Promise<Connection> => {
      const stream = await net.host('10.0.0.66').dial(target.host, target.mesh.port, 1000);
      const forged = handDialer(stream, clock, { name: 'n4@sim', inc: 'ffff', nonceByte: 9, up: 5 });
      await run(clock, 50);
      return forged;
    };
    const first = await dial();
    assert.equal(first.state, 'closed');
    assert.equal(first.byeCode, 'BUSY', 'cannot tell yet whether n4 is alive: come back');
    await run(clock, 300);
    const second = await dial();
    assert.equal(second.state, 'closed');
    assert.equal(second.byeCode, 'ERR_NAME_IN_USE', 'n4 is heard now: its name is in use');
    await run(clock, 1000);
    for (const n of nodes) assert.deepEqual(n.events, [], `${n.host}: no fatal, no nodedown, no relink`);
    assert.equal(target.mesh.members().length, 4);
  } finally {
    for (const n of nodes) await n.mesh.stop();
  }
});

test('a member frozen in a 6-node mesh is declared down by its watchers on their own evidence and by the others on their reports', async () => {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const nodes = await cluster(clock, net, 6);
  try {
    // Freeze n2: it stops sending anything (its detector stops; its connections stay open).
    const frozen = nodes[2]!;
    (frozen.mesh as unknown as { detector: { stop(): void } }).detector.stop();
    await run(clock, 1000);
    for (const n of nodes) {
      if (n === frozen) continue;
      // (Its mesh still answers dials, so it may come up again and go down again.)
      const down = n.events.filter((e) => e.kind === 'nodedown');
      assert.ok(down.length > 0 && down.every((e) => e.who === 'n2@sim'), `${n.host} took n2 down, and only n2`);
      // n2's ring predecessors n1, n0, n5 judge it; n3 and n4 follow two of them.
      if (['10.0.0.2', '10.0.0.1', '10.0.0.6'].includes(n.host)) assert.match(down[0]!.why!, /^no heartbeat for \d+ ms$/, n.host);
      else assert.match(down[0]!.why!, /^reported down by n\d@sim and n\d@sim$/, n.host);
    }
  } finally {
    for (const n of nodes) await n.mesh.stop();
  }
});

/** Scripted members dialing alice from hosts 10.0.0.I, recording the member lists alice sends each. */
function newsHarness(clock: ManualClock, mem: MemoryNetwork, alice: Node): {
  heard: Map<string, string[]>;
  peers: Map<string, Connection>;
  join: (name: string, i: number) => Promise<void>;
  idle: (ms: number) => Promise<void>;
} {
  const heard = new Map<string, string[]>();
  const peers = new Map<string, Connection>();
  const join = async (name: string, i: number): Promise<void> => {
    const conn = handDialer(await mem.host(`10.0.0.${i}`).dial('10.0.0.1', alice.mesh.port, 1000), clock, { name, inc: `0${i}`, nonceByte: i, up: 0 });
    heard.set(name, []);
    conn.onMessage((m) => void (m.t === 'members' && heard.get(name)!.push(m.members.map((x) => x.name).join(','))));
    peers.set(name, conn);
    await run(clock, 50);
    assert.equal(conn.state, 'open', name);
  };
  const idle = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 100) {
      for (const c of peers.values()) c.send({ t: 'ping', seq: t }); // stay up
      await run(clock, 100, 50);
    }
  };
  return { heard, peers, join, idle };
}

test('news of members that came up waits a handshake timeout, then goes once to each member connected before them, all newcomers in one message', async () => {
  const clock = new ManualClock();
  const mem = new MemoryNetwork();
  const alice = node(clock, mem.host('10.0.0.1'), 'alice@sim', '10.0.0.1');
  await alice.mesh.start();
  const { heard, peers, join, idle } = newsHarness(clock, mem, alice);
  try {
    await join('bob@sim', 2);
    await idle(1500); // bob's own news (to nobody) has gone
    await join('carol@sim', 3);
    await join('dave@sim', 4);
    // The list a member gets when it comes up names every member, itself included.
    assert.deepEqual(heard.get('bob@sim'), ['bob@sim'], 'bob: only the list he got when he came up, no news yet');
    assert.deepEqual(heard.get('carol@sim'), ['bob@sim,carol@sim'], 'carol: the list');
    assert.deepEqual(heard.get('dave@sim'), ['bob@sim,carol@sim,dave@sim'], 'dave: the list');
    await idle(1000); // the handshake timeout of testConfig
    assert.deepEqual(heard.get('bob@sim'), ['bob@sim', 'carol@sim,dave@sim'], 'bob: both newcomers in one message');
    assert.deepEqual(heard.get('carol@sim'), ['bob@sim,carol@sim', 'dave@sim'], 'carol: only dave came after her');
    assert.deepEqual(heard.get('dave@sim'), ['bob@sim,carol@sim,dave@sim'], 'dave: nobody came after him');
    await idle(2000);
    assert.equal([...heard.values()].flat().length, 5, 'nothing more');
    assert.deepEqual(alice.mesh.members(), ['bob@sim', 'carol@sim', 'dave@sim']);
  } finally {
    for (const c of peers.values()) c.close();
    await alice.mesh.stop();
  }
});

test('news skips a member that said it is connected to the newcomer, or that the newcomer said it is connected to', async () => {
  const clock = new ManualClock();
  const mem = new MemoryNetwork();
  const alice = node(clock, mem.host('10.0.0.1'), 'alice@sim', '10.0.0.1');
  await alice.mesh.start();
  const { heard, peers, join, idle } = newsHarness(clock, mem, alice);
  const info = (name: string, i: number): MemberInfo => ({ name, inc: `0${i}`, host: `10.0.0.${i}`, port: 1 });
  try {
    await join('bob@sim', 2);
    await join('carol@sim', 3);
    await idle(1500);
    await join('dave@sim', 4);
    await join('erin@sim', 5);
    peers.get('carol@sim')!.send({ t: 'members', members: [info('dave@sim', 4)] }); // carol: linked to dave
    peers.get('erin@sim')!.send({ t: 'members', members: [info('bob@sim', 2)] }); // erin: linked to bob
    await idle(1500);
    const news = (name: string): string[] => heard.get(name)!.slice(1);
    assert.deepEqual(news('bob@sim'), ['carol@sim', 'dave@sim'], 'bob: carol (first wait); dave, not erin (erin is linked to him)');
    assert.deepEqual(news('carol@sim'), ['erin@sim'], 'carol: erin, not dave (she is linked to him)');
    assert.deepEqual(news('dave@sim'), ['erin@sim']);
    assert.deepEqual(news('erin@sim'), []);
  } finally {
    for (const c of peers.values()) c.close();
    await alice.mesh.stop();
  }
});
