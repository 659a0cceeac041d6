// The detector against a scripted mesh on a manual clock: when heartbeats go out, when
// a silent member is suspected, how other members confirm or refute it, and what a
// stall of our own loop changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector, parseFdMessage } from '../../src/membership/detector.js';
import { leaseWatchDetectionMs, probeWindowMs, suspicionMs } from '../../src/membership/timing.js';
import type { DetectorHost, FdMessage } from '../../src/membership/detector.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { silentLogger } from '../../src/util/log.js';

const HB = 500;
const FT = 3000;

/** Members, when we last heard each, and a record of what the detector did. */
class ScriptedMesh implements DetectorHost {
  // Wall time a multiple of the interval at clock 0, so ticks fall at 500, 1000, ...
  readonly clock = new ManualClock(0, 1_700_000_000_000);
  readonly random = seededRandom(1);
  readonly log = silentLogger;
  readonly heartbeatIntervalMs = HB;
  readonly failureTimeoutMs = FT;
  readonly self = 'a';
  readonly heard = new Map<string, number>();
  readonly pings: { at: number; seq: number; to: readonly string[] }[] = [];
  readonly sent: { to: string; msg: FdMessage }[] = [];
  readonly downs: { name: string; at: number; silentForMs: number; reporters?: readonly string[] }[] = [];
  /** What leaseWatch() returns. */
  lease: string[] = [];

  constructor(names: string[]) {
    for (const n of names) this.heard.set(n, 0);
  }

  /** Everyone but `except` is heard from now. */
  hearAll(except: string[] = []): void {
    for (const n of this.heard.keys()) if (!except.includes(n)) this.heard.set(n, this.clock.now());
  }

  members(): string[] {
    return [...this.heard.keys()];
  }

  lastHeard(name: string): number | undefined {
    return this.heard.get(name);
  }

  incarnation(name: string): string | undefined {
    return this.heard.has(name) ? `inc-${name}` : undefined;
  }

  sendPings(seq: number, to: readonly string[]): void {
    this.pings.push({ at: this.clock.now(), seq, to });
  }

  /** What the detector sent, subscriptions left out. */
  checks(): { to: string; msg: FdMessage }[] {
    return this.sent.filter((s) => s.msg.k !== 'watch');
  }

  sendFd(to: string, msg: FdMessage): void {
    this.sent.push({ to, msg });
  }

  leaseWatch(): string[] {
    return this.lease;
  }

  declareDown(name: string, silentForMs: number, reporters?: readonly string[]): void {
    this.heard.delete(name);
    this.downs.push({ name, at: this.clock.now(), silentForMs, ...(reporters ? { reporters } : {}) });
  }

  /** Subscriptions sent since index `from`, as "+name" / "-name". */
  subs(from = 0): string[] {
    return this.sent.slice(from).flatMap((s) => (s.msg.k === 'watch' ? [`${s.msg.on ? '+' : '-'}${s.to}`] : []));
  }
}

/** Advance in steps, hearing from every member except `silent` at each step (their heartbeats). */
function run(mesh: ScriptedMesh, ms: number, silent: string[] = []): void {
  for (let t = 0; t < ms; t += 50) {
    mesh.clock.advance(50);
    mesh.hearAll(silent);
  }
}

test('heartbeats go out on wall-clock multiples of the interval', () => {
  const mesh = new ScriptedMesh(['b', 'c']);
  const d = new Detector(mesh);
  run(mesh, 2600);
  assert.deepEqual(mesh.pings.map((p) => p.at), [500, 1000, 1500, 2000, 2500]);
  assert.deepEqual(mesh.pings.map((p) => p.seq), [1, 2, 3, 4, 5]);
  d.stop();
  run(mesh, 2000);
  assert.equal(mesh.pings.length, 5, 'no ticks after stop()');
});

test('a silent member is checked with the others that watch it, then declared down when its silence reaches the failure timeout', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const lastHeard = mesh.heard.get('b')!;
  run(mesh, 3000, ['b']);
  const probes = mesh.sent.filter((s) => s.msg.k === 'probe');
  // The ring a b c d e f: b's watchers are a (us), f and e.
  assert.deepEqual(probes.map((p) => p.to), ['f', 'e'], 'asks the other members that watch it (its ring predecessors)');
  assert.ok(probes.every((p) => p.msg.k === 'probe' && p.msg.peer === 'b'));
  // They do not hear it either: down as soon as the last answer is in.
  for (const p of probes) det.onMessage(p.to, { k: 'seen', peer: 'b', agoMs: 2800 });
  assert.deepEqual(mesh.downs.map((x) => x.name), ['b']);
  assert.ok(mesh.downs[0]!.at - lastHeard <= FT, `down ${mesh.downs[0]!.at - lastHeard} ms after its last heartbeat`);
  det.stop();
});

test('without answers, the confirmation window ends the wait', () => {
  const mesh = new ScriptedMesh(['b', 'c']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const lastHeard = mesh.heard.get('b')!;
  run(mesh, 4000, ['b']);
  assert.deepEqual(mesh.downs.map((x) => x.name), ['b']);
  assert.equal(mesh.downs[0]!.at - lastHeard, FT + HB / 2, 'suspected at 3 s, confirmed a quarter second later');
  det.stop();
});

test('a member another one still hears is not declared down, and not suspected again for a failure timeout', () => {
  const mesh = new ScriptedMesh(['b', 'c']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  run(mesh, 3000, ['b']);
  const probe = mesh.sent.find((s) => s.msg.k === 'probe');
  assert.equal(probe?.to, 'c');
  det.onMessage('c', { k: 'seen', peer: 'b', agoMs: 100 });
  run(mesh, 2500, ['b']);
  assert.equal(mesh.downs.length, 0);
  assert.equal(mesh.sent.filter((s) => s.msg.k === 'probe').length, 1);
  run(mesh, 1000, ['b']);
  assert.deepEqual(mesh.downs.map((x) => x.name), ['b'], 'suspected again once the refutation lapsed');
  det.stop();
});

test('alone with a silent member, no one to ask: down at once', () => {
  const mesh = new ScriptedMesh(['b']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  run(mesh, 3000, ['b']);
  assert.deepEqual(mesh.downs.map((x) => x.name), ['b']);
  assert.deepEqual(mesh.checks(), []);
  det.stop();
});

test('answers probes with how long ago we heard the member, -1 for a stranger', () => {
  const mesh = new ScriptedMesh(['b', 'c']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  run(mesh, 700, ['c']);
  det.onMessage('b', { k: 'probe', peer: 'c' });
  det.onMessage('b', { k: 'probe', peer: 'zed' });
  assert.deepEqual(mesh.checks(), [
    { to: 'b', msg: { k: 'seen', peer: 'c', agoMs: 700 } },
    { to: 'b', msg: { k: 'seen', peer: 'zed', agoMs: -1 } },
  ]);
  assert.throws(() => det.onMessage('b', { k: 'seen', peer: 'c', agoMs: 'soon' }), { code: 'ERR_PROTOCOL' });
  assert.throws(() => parseFdMessage({ k: 'probe', peer: 'x'.repeat(256) }), { code: 'ERR_PROTOCOL' });
  det.stop();
});

test('after a stall of our own loop: no judgement on the late tick, and heartbeats go out only after pending input is read', () => {
  const mesh = new ScriptedMesh(['b', 'c']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const healthy = det.lastHealthyTickAt;
  // Frozen for 4 s: nobody was heard meanwhile, because we read nothing.
  mesh.clock.jump(4000);
  const pingsBefore = mesh.pings.length;
  const delays: number[] = [];
  const setTimeout = mesh.clock.setTimeout.bind(mesh.clock);
  mesh.clock.setTimeout = (fn, ms) => {
    delays.push(ms);
    return setTimeout(fn, ms);
  };
  mesh.clock.advance(0);
  assert.equal(mesh.downs.length, 0, 'a late tick judges no one');
  assert.equal(det.lastHealthyTickAt, healthy, 'a late tick is not a healthy one');
  // Its heartbeat went out from a zero-delay timer (on a real loop: after the input
  // queued during the stall is read), not from the late tick itself.
  assert.equal(delays[0], 0);
  assert.equal(mesh.pings.length, pingsBefore + 1);
  run(mesh, 1000);
  assert.equal(mesh.downs.length, 0);
  assert.ok(det.lastHealthyTickAt > healthy + 4000);
  det.stop();
});

// ---- the monitoring ring, subscriptions and reports -------------------------------

test('subscriptions follow the ring as members come and go; changes only', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 500);
  assert.deepEqual(mesh.subs(), ['+b', '+c', '+d'], 'we (a) watch our three ring successors');
  assert.deepEqual(det.watched(), ['b', 'c', 'd']);
  let mark = mesh.sent.length;
  run(mesh, 1000);
  assert.deepEqual(mesh.subs(mark), [], 'nothing new to say');
  // A member sorting between us and b joins: it is watched, d drops out of our three.
  mesh.heard.set('aa', mesh.clock.now());
  mark = mesh.sent.length;
  run(mesh, 500);
  assert.deepEqual(mesh.subs(mark), ['+aa', '-d']);
  // c goes (the mesh forgets its connection): d comes back in.
  mesh.heard.delete('c');
  det.forget('c');
  mark = mesh.sent.length;
  run(mesh, 500);
  assert.deepEqual(mesh.subs(mark), ['+d']);
  assert.deepEqual(det.watched(), ['aa', 'b', 'd']);
  det.stop();
});

test('heartbeats go only to the members subscribed to ours; a stranger cannot subscribe; forget() drops a subscription', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 500);
  assert.deepEqual(mesh.pings.at(-1)!.to, []);
  det.onMessage('e', { k: 'watch', on: true });
  det.onMessage('f', { k: 'watch', on: true });
  det.onMessage('zed', { k: 'watch', on: true });
  run(mesh, 500);
  assert.deepEqual([...mesh.pings.at(-1)!.to].sort(), ['e', 'f']);
  assert.deepEqual(det.watchedBy(), ['e', 'f']);
  det.onMessage('e', { k: 'watch', on: false });
  det.forget('f');
  run(mesh, 500);
  assert.deepEqual(mesh.pings.at(-1)!.to, []);
  det.stop();
});

test('only watched members are judged: an unwatched one may stay silent', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 10_000, ['e', 'f']);
  assert.equal(mesh.downs.length, 0);
  assert.deepEqual(mesh.checks(), []);
  det.stop();
});

test('a fresh subscription is not judged on the silence before it', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 10_000, ['f']);
  // The lease rules now need f (say it holds a Singleton we stand by for).
  mesh.lease = ['f'];
  const mark = mesh.sent.length;
  run(mesh, 500, ['f']);
  assert.deepEqual(mesh.subs(mark), ['+f']);
  const subscribedAt = mesh.clock.now();
  assert.equal(det.observedSilenceMs('f'), undefined, 'too early to tell');
  run(mesh, 2500, ['f']);
  assert.equal(mesh.downs.length, 0, 'not judged on the 10 s before the subscription');
  assert.deepEqual(mesh.checks(), []);
  run(mesh, 1000, ['f']);
  // f's ring predecessors are c, d, e; it is suspected at the first tick past suspicionMs
  // of silence since the subscription, and down one probe window later.
  assert.deepEqual(mesh.downs.map((x) => x.name), ['f']);
  const at = mesh.downs[0]!.at - subscribedAt;
  assert.ok(at > suspicionMs(FT, HB) && at <= FT + probeWindowMs(HB), `down ${at} ms after subscribing`);
  det.stop();
});

test('a lease watch ends when the lease rules no longer need it', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  mesh.lease = ['f', 'zed'];
  run(mesh, 500);
  assert.deepEqual(det.watched(), ['b', 'c', 'd', 'f'], 'a name that is not a member is not watched');
  mesh.lease = [];
  const mark = mesh.sent.length;
  run(mesh, 500);
  assert.deepEqual(mesh.subs(mark), ['-f']);
  det.stop();
});

test('a lease-watched member is suspected the moment its silence passes suspicionMs; a ring-watched one on the next tick', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f', 'g', 'h']);
  const det = new Detector(mesh);
  mesh.lease = ['f']; // not among our ring successors (b, c, d): watched for the lease only
  run(mesh, 1000); // everyone heard at 1000, a tick
  assert.deepEqual(det.watched(), ['b', 'c', 'd', 'f']);
  run(mesh, 4500, ['b', 'f']);
  const probed = (name: string): boolean => mesh.sent.some((x) => x.msg.k === 'probe' && x.msg.peer === name);
  const fDown = mesh.downs.find((x) => x.name === 'f')!.at;
  const bDown = mesh.downs.find((x) => x.name === 'b')!.at;
  assert.ok(probed('f') && probed('b'), 'both checked with their other watchers first');
  // Nobody answers the probes here: each is declared when its probe window ends.
  assert.equal(fDown - 1000, suspicionMs(FT, HB) + 1 + probeWindowMs(HB), 'f: on time');
  assert.equal(fDown - 1000, leaseWatchDetectionMs(FT, HB));
  assert.equal(bDown - 1000, FT + probeWindowMs(HB), 'b: on the tick at 4000');
  det.stop();
});

test('on-time checks: a 2 s stall of a lease-watched member, starting just before its heartbeat, downs nobody', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f', 'g', 'h']);
  const det = new Detector(mesh);
  mesh.lease = ['f'];
  run(mesh, 1000);
  // f stalls 2 s from just before its next heartbeat: 2.5 s of silence, then heard again.
  for (let t = 0; t < 2500; t += 50) {
    mesh.clock.advance(50);
    mesh.hearAll(['f']);
  }
  mesh.heard.set('f', mesh.clock.now());
  run(mesh, 3000);
  assert.deepEqual(mesh.checks(), [], 'no probe, no report');
  assert.deepEqual(mesh.downs, []);
  det.stop();
});

test('a member declared down on our own evidence is reported to every other member, with its incarnation', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  run(mesh, 4000, ['b']);
  assert.deepEqual(mesh.downs.map((x) => x.name), ['b']);
  assert.equal(mesh.downs[0]!.reporters, undefined);
  const reports = mesh.sent.filter((s) => s.msg.k === 'down');
  assert.deepEqual(reports.map((r) => r.to).sort(), ['c', 'd', 'e', 'f']);
  assert.ok(reports.every((r) => r.msg.k === 'down' && r.msg.peer === 'b' && r.msg.inc === 'inc-b'));
  det.stop();
});

test('reports: one reporter makes us watch the peer, a second distinct one takes it down', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const mark = mesh.sent.length;
  det.onMessage('c', { k: 'down', peer: 'f', inc: 'inc-f' });
  assert.deepEqual(mesh.subs(mark), ['+f'], 'one word: we look ourselves');
  assert.equal(mesh.downs.length, 0);
  det.onMessage('c', { k: 'down', peer: 'f', inc: 'inc-f' });
  assert.equal(mesh.downs.length, 0, 'the same reporter twice is one reporter');
  det.onMessage('d', { k: 'down', peer: 'f', inc: 'inc-f' });
  assert.deepEqual(mesh.downs.map((x) => [x.name, x.reporters]), [['f', ['c', 'd']]]);
  // Not spread further: only a verdict on our own evidence is.
  assert.equal(mesh.sent.filter((s) => s.msg.k === 'down').length, 0);
  det.stop();
});

test('reports are ignored about another incarnation, about a member we watch ourselves, and about the reporter itself', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const mark = mesh.sent.length;
  for (const from of ['c', 'd', 'e']) det.onMessage(from, { k: 'down', peer: 'f', inc: 'inc-f-old' });
  for (const from of ['c', 'd', 'e']) det.onMessage(from, { k: 'down', peer: 'zed', inc: 'inc-zed' });
  // b is our ring successor: our own evidence decides.
  for (const from of ['c', 'd', 'e']) det.onMessage(from, { k: 'down', peer: 'b', inc: 'inc-b' });
  // A lease watch counts as our own too.
  mesh.lease = ['e'];
  for (const from of ['c', 'd']) det.onMessage(from, { k: 'down', peer: 'e', inc: 'inc-e' });
  det.onMessage('f', { k: 'down', peer: 'f', inc: 'inc-f' });
  assert.equal(mesh.downs.length, 0);
  assert.deepEqual(mesh.subs(mark), []);
  det.stop();
});

test('a peer reported down by one member that keeps talking is unwatched after a failure timeout', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const mark = mesh.sent.length;
  det.onMessage('c', { k: 'down', peer: 'f', inc: 'inc-f' });
  run(mesh, FT + HB);
  assert.deepEqual(mesh.subs(mark), ['+f', '-f']);
  assert.equal(mesh.downs.length, 0);
  // The old report lapsed with the watch: a new one starts over.
  det.onMessage('d', { k: 'down', peer: 'f', inc: 'inc-f' });
  assert.equal(mesh.downs.length, 0);
  det.stop();
});

test('a peer reported down by one member and silent is declared down by our own check', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  run(mesh, 3200, ['f']);
  det.onMessage('c', { k: 'down', peer: 'f', inc: 'inc-f' });
  const reportedAt = mesh.clock.now();
  run(mesh, 4000, ['f']);
  assert.deepEqual(mesh.downs.map((x) => [x.name, x.reporters]), [['f', undefined]]);
  assert.ok(mesh.downs[0]!.at - reportedAt <= FT + probeWindowMs(HB), 'judged from the report on, within the failure timeout and a probe window');
  det.stop();
});

test('doubt(): the mesh can have a member watched for a failure timeout', () => {
  const mesh = new ScriptedMesh(['b', 'c', 'd', 'e', 'f']);
  const det = new Detector(mesh);
  run(mesh, 1000);
  const mark = mesh.sent.length;
  det.doubt('f');
  det.doubt('zed');
  assert.deepEqual(mesh.subs(mark), ['+f'], 'a stranger is not watched');
  run(mesh, 1000);
  assert.ok(det.observedSilenceMs('f')! < 100, 'heard since');
  assert.equal(det.observedSilenceMs('e'), undefined, 'not watched: cannot tell');
  det.stop();
});

test('parseFdMessage: watch and down, bounded', () => {
  assert.deepEqual(parseFdMessage({ k: 'watch', on: true, extra: 'x' }), { k: 'watch', on: true });
  assert.deepEqual(parseFdMessage({ k: 'watch', on: false }), { k: 'watch', on: false });
  assert.deepEqual(parseFdMessage({ k: 'down', peer: 'b', inc: '0123456789abcdef', extra: 1 }), { k: 'down', peer: 'b', inc: '0123456789abcdef' });
  const bad: unknown[] = [
    { k: 'watch' },
    { k: 'watch', on: 'yes' },
    { k: 'watch', on: 1 },
    { k: 'down', peer: 'b' },
    { k: 'down', peer: 'b', inc: '' },
    { k: 'down', peer: 'b', inc: 7 },
    { k: 'down', peer: 'b', inc: 'x'.repeat(65) },
    { k: 'down', peer: 'x'.repeat(256), inc: 'i' },
    { k: 'down', inc: 'i' },
    { k: 'nope', peer: 'b' },
    null,
    'watch',
    [{ k: 'watch', on: true }],
  ];
  for (const b of bad) assert.throws(() => parseFdMessage(b), { code: 'ERR_PROTOCOL' }, JSON.stringify(b));
});
