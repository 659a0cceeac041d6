// The detector against a scripted mesh on a manual clock: when heartbeats go out, when
// a silent member is suspected, how other members confirm or refute it, and what a
// stall of our own loop changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector, parseFdMessage } from '../../src/membership/detector.js';
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
  readonly downs: { name: string; at: number; silentForMs: number }[] = [];

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

  declareDown(name: string, silentForMs: number): void {
    this.heard.delete(name);
    this.downs.push({ name, at: this.clock.now(), silentForMs });
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
