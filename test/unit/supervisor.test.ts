// The failover supervisor against a scripted host on a manual clock: who takes the
// name when, and what a node that was itself frozen does when it wakes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANDIDATE_PREFIX, SingletonSupervisor } from '../../src/singleton/supervisor.js';
import type { ChangeListener, SingletonHost } from '../../src/singleton/supervisor.js';
import { compareClaims } from '../../src/registry/registry.js';
import type { Claim } from '../../src/registry/registry.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/log.js';

const HEARTBEAT = 500;
const FAILURE = 3000;
type ChangeArgs = Parameters<ChangeListener>;

/**
 * A node "a" seen from its supervisor: a registry of claims, a set of connected
 * members, and heartbeat ticks that count as healthy only when they run on time
 * (as the mesh judges them), so a clock jump looks like a frozen process.
 */
class ScriptedHost implements SingletonHost {
  readonly name = 'a';
  readonly clock = new ManualClock(10_000);
  readonly failureTimeoutMs = FAILURE;
  readonly heartbeatIntervalMs = HEARTBEAT;
  readonly lines: string[] = [];
  readonly logger: Logger;
  private readonly claims: Claim[] = [];
  readonly connected = new Set<string>();
  /** Link serial per member: a reconnection is a new link. */
  private readonly links = new Map<string, number>();
  private readonly listeners = new Set<(...e: ChangeArgs) => void>();
  private healthyAt = this.clock.now();
  declaredDownAt = -Infinity;
  private seq = 0;
  /** The highest epoch seen per name: it outlives the claims that carried it. */
  private readonly epochs = new Map<string, number>();

  constructor() {
    const log = (message: string): void => void this.lines.push(message);
    this.logger = { error: log, warn: log, info: log, debug: () => {}, child: () => this.logger };
    const tick = (due: number): void => {
      if (this.clock.now() - due < HEARTBEAT / 2) this.healthyAt = this.clock.now();
      this.clock.setTimeout(() => tick(due + HEARTBEAT * Math.ceil((this.clock.now() - due + 1) / HEARTBEAT)), due + HEARTBEAT - this.clock.now());
    };
    tick(this.clock.now());
  }

  /** Put a claim of another node into the registry, as sync would. */
  claim(owner: string, name: string, epoch?: number): Claim {
    const c: Claim = { name, owner, incarnation: `${owner}-1`, stamp: [this.clock.wallNow(), this.seq++], version: 1, ...(epoch === undefined ? {} : { epoch }) };
    this.claims.push(c);
    this.epochs.set(name, Math.max(this.epochs.get(name) ?? 0, epoch ?? 0));
    return c;
  }

  nodeup(peer: string, names: [string, number?][]): void {
    this.connected.add(peer);
    this.links.set(peer, (this.links.get(peer) ?? 0) + 1);
    this.emit('nodeup', peer);
    for (const [name, epoch] of names) {
      const mineHeld = this.holder(name)?.owner === this.name;
      const c = this.claim(peer, name, epoch);
      if (mineHeld && this.holder(name) === c) this.lose(name, c);
      else this.emit('registered', name, c);
    }
  }

  /** Our claim on name lost to winner: the node releases it, then tells its listeners. */
  lose(name: string, winner: Claim): void {
    this.unregister(name);
    this.emit('lost', name, winner);
  }

  nodedown(peer: string): void {
    this.connected.delete(peer);
    for (let i = this.claims.length - 1; i >= 0; i--) if (this.claims[i]!.owner === peer) this.claims.splice(i, 1);
    this.emit('nodedown', peer);
  }

  emit(...e: ChangeArgs): void {
    for (const l of [...this.listeners]) l(...e);
  }

  /** Claims of these names are not confirmed (a member that never answers): released, as the claim rule does. */
  readonly unconfirmed = new Set<string>();

  register(name: string, epoch?: number | 'next'): ReturnType<SingletonHost['register']> {
    if (this.unconfirmed.has(name)) return Promise.resolve({ won: false, owner: undefined, unconfirmed: 'deadline' });
    const mine = this.claim(this.name, name, epoch === 'next' ? this.epochOf(name) + 1 : epoch);
    const winner = this.holder(name)!;
    return Promise.resolve(winner === mine ? { won: true, claim: mine } : { won: false, owner: winner.owner, claim: winner });
  }

  unregister(name: string): boolean {
    const i = this.claims.findIndex((c) => c.owner === this.name && c.name === name);
    if (i >= 0) this.claims.splice(i, 1);
    return i >= 0;
  }

  holder(name: string): Claim | undefined {
    return this.claims.filter((c) => c.name === name).sort(compareClaims)[0];
  }

  claimsOfMembers(prefix: string): Claim[] {
    return this.claims.filter((c) => c.name.startsWith(prefix) && (c.owner === this.name || this.connected.has(c.owner)));
  }

  epochOf(name: string): number {
    return this.epochs.get(name) ?? 0;
  }

  /** Whether saving an epoch succeeds (a writable state directory). */
  saveOk = true;
  readonly saved: [string, number][] = [];

  persistEpoch(name: string, epoch: number): Promise<boolean> {
    this.epochs.set(name, Math.max(this.epochs.get(name) ?? 0, epoch));
    if (this.saveOk) this.saved.push([name, epoch]);
    return Promise.resolve(this.saveOk);
  }

  requestQuorum(): ReturnType<SingletonHost['requestQuorum']> {
    return Promise.resolve({ granted: [], highestEpoch: 0 });
  }

  releaseQuorum(): void {}

  whenSynced(): Promise<void> {
    return Promise.resolve();
  }

  isSynced(): boolean {
    return true;
  }

  freshMembers(_withinMs: number, among?: ReadonlySet<string>): number {
    return [...this.connected].filter((m) => !among || among.has(m)).length;
  }

  members(): string[] {
    return [...this.connected].map((m) => `${m}#${this.links.get(m) ?? 0}`);
  }

  lastHealthyTickAt(): number {
    return this.healthyAt;
  }

  lastDeclaredDownAt(): number {
    return this.declaredDownAt;
  }

  onChange(cb: (...e: ChangeArgs) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}

/** Advance the clock in small steps, letting promise continuations run between them. */
async function run(host: ScriptedHost, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    host.clock.advance(Math.min(50, ms - t));
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

/** A standby "a" (the longest-lived candidate) with b holding the name at epoch 1. */
async function standbyBehindB(): Promise<{ host: ScriptedHost; sup: SingletonSupervisor; tenures: { epoch: number; at: number }[] }> {
  const host = new ScriptedHost();
  const tenures: { epoch: number; at: number }[] = [];
  const sup = new SingletonSupervisor(host, 'S', (ctx) => void tenures.push({ epoch: ctx.epoch, at: host.clock.now() }), 100, { failover: true });
  host.nodeup('b', [['S', 1]]);
  void sup.run();
  await run(host, 200);
  host.claim('b', `${CANDIDATE_PREFIX}S/b`);
  assert.equal(sup.state, 'standby');
  return { host, sup, tenures };
}

test('a standby takes the name as soon as the holder goes down', async () => {
  const { host, tenures } = await standbyBehindB();
  await run(host, 1000);
  const t = host.clock.now();
  host.nodedown('b');
  await run(host, 300);
  assert.equal(tenures.length, 1);
  assert.equal(tenures[0]!.epoch, 2);
  assert.ok(tenures[0]!.at - t <= HEARTBEAT, `took over ${tenures[0]!.at - t} ms after the holder went down`);
});

test('an epoch that cannot be saved starts no tenure: one error line, the node stays a standby, and starts once saving works', async () => {
  const { host, sup, tenures } = await standbyBehindB();
  host.saveOk = false;
  host.nodedown('b');
  await run(host, 2000);
  assert.equal(tenures.length, 0);
  assert.equal(sup.state, 'standby');
  assert.equal(host.holder('S'), undefined, 'the name was never claimed');
  const errors = host.lines.filter((l) => l.includes('could not be saved'));
  assert.deepEqual(errors, ['S: epoch 2 could not be saved; staying a standby (no tenure runs on an unsaved epoch)']);
  host.saveOk = true;
  await run(host, 300);
  assert.equal(tenures.length, 1);
  assert.deepEqual(host.saved, [['S', tenures[0]!.epoch]], 'the tenure\'s epoch was saved before it started');
});

test('a standby that was frozen does not take the name from a holder that declared it down and comes back', async () => {
  const { host, sup, tenures } = await standbyBehindB();
  await run(host, 1000);
  host.clock.jump(3500);
  // On waking it reads b's goodbye ("declared down") and the closed connection ...
  host.declaredDownAt = host.clock.now();
  host.nodedown('b');
  await run(host, 200);
  // ... then b redials, and its claim is back.
  host.nodeup('b', [['S', 1]]);
  await run(host, 10_000);
  assert.deepEqual(tenures, []);
  assert.equal(sup.state, 'standby');
});

test('a standby that was frozen waits one failure timeout, then takes a name whose holder really is gone', async () => {
  const { host, tenures } = await standbyBehindB();
  await run(host, 1000);
  host.clock.jump(3500);
  const woke = host.clock.now();
  host.nodedown('b');
  await run(host, 5000);
  assert.equal(tenures.length, 1);
  const after = tenures[0]!.at - woke;
  assert.ok(after >= FAILURE && after <= FAILURE + HEARTBEAT, `took over ${after} ms after waking`);
});

test('a holder frozen past its lease stops on waking and does not take the name back', async () => {
  // The sequence a CI run caught: a thawed holder learns through c that b took over,
  // then reads b's "declared down" goodbye; b redials 150 ms later.
  const host = new ScriptedHost();
  const tenures: number[] = [];
  const stops: string[] = [];
  const sup = new SingletonSupervisor(host, 'S', (ctx) => {
    tenures.push(ctx.epoch);
    return () => void stops.push(`stop ${ctx.epoch}`);
  }, 100, { failover: true });
  host.nodeup('b', []);
  host.nodeup('c', []);
  void sup.run();
  await run(host, 1000);
  assert.deepEqual(tenures, [1]);
  host.claim('b', `${CANDIDATE_PREFIX}S/b`);
  host.claim('c', `${CANDIDATE_PREFIX}S/c`);
  await run(host, 1000);
  host.clock.jump(3500);
  host.lose('S', host.claim('b', 'S', 2));
  host.declaredDownAt = host.clock.now();
  host.nodedown('b');
  await run(host, 150);
  host.nodeup('b', [['S', 2]]);
  await run(host, 10_000);
  assert.deepEqual(tenures, [1], 'no second tenure on the thawed node');
  assert.deepEqual(stops, ['stop 1']);
  assert.ok(host.lines.includes('S (epoch 1) superseded by b (epoch 2); stopping'), host.lines.join('\n'));
});

test('default mode: a claim that is not confirmed in time starts nothing, says so, and is not retried (restart: temporary)', async () => {
  const host = new ScriptedHost();
  host.unconfirmed.add('S');
  const started: number[] = [];
  const sup = new SingletonSupervisor(host, 'S', (ctx) => void started.push(ctx.epoch), 100);
  void sup.run();
  await run(host, 5000);
  assert.deepEqual(started, []);
  assert.equal(sup.state, 'not-started');
  assert.equal(host.lines.filter((l) => /S claim not confirmed by every member \(deadline\); not starting \(restart: temporary\)/.test(l)).length, 1, host.lines.join('\n'));
});

test('failover mode: a takeover that is not confirmed stays a standby and tries again; confirmed, it starts with the next epoch', async () => {
  const { host, sup, tenures } = await standbyBehindB();
  host.unconfirmed.add('S');
  host.nodedown('b');
  await run(host, 2000);
  assert.equal(tenures.length, 0);
  assert.equal(sup.state, 'standby');
  host.unconfirmed.delete('S');
  await run(host, 1000);
  assert.deepEqual(tenures.map((t) => t.epoch), [2]);
});

test('leaseWatch: a standby watches the holder; a holder watches the other candidates; with a quorum every candidate watches the voters; the default mode watches no one', async () => {
  const { host, sup } = await standbyBehindB();
  host.nodeup('c', []);
  host.claim('c', `${CANDIDATE_PREFIX}S/c`);
  host.nodeup('d', []); // a member that does not run S
  assert.deepEqual(sup.leaseWatch(), ['b'], 'the standby watches the holder only');
  host.nodedown('b');
  await run(host, 300);
  assert.equal(sup.state, 'running');
  assert.deepEqual(sup.leaseWatch(), ['c'], 'the holder watches the other candidate, not the member that does not run S');

  const q = new ScriptedHost();
  const quorumSup = new SingletonSupervisor(q, 'Q', () => {}, 100, { quorum: 3 });
  q.nodeup('b', [['Q', 1]]);
  q.nodeup('c', []);
  void quorumSup.run();
  await run(q, 200);
  q.claim('b', `${CANDIDATE_PREFIX}Q/b`);
  q.claim('c', `${CANDIDATE_PREFIX}Q/c`);
  assert.equal(quorumSup.state, 'standby');
  assert.deepEqual(quorumSup.leaseWatch().sort(), ['b', 'c'], 'a quorum standby watches the voters (the holder b among them)');

  const d = new ScriptedHost();
  const plain = new SingletonSupervisor(d, 'P', () => {}, 100);
  d.nodeup('b', [['P', 1]]);
  void plain.run();
  await run(d, 300);
  assert.deepEqual(plain.leaseWatch(), []);
});
