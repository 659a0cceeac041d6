// The lease port as the supervisor uses it, against a scripted backend on the manual
// clock: the code starts on each won tenure with the backend's token as the epoch,
// isValid() follows the backend, a lost tenure stops the code before the lease is
// given back and only then does the node stand again, and stop() stops the code
// before it releases (handover).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SingletonSupervisor } from '../../src/singleton/supervisor.js';
import type { SingletonHost } from '../../src/singleton/supervisor.js';
import type { LeaseBackend, LeaseEvents, LeaseHolder, LeaseTenure } from '../../src/singleton/lease.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/log.js';

/** A backend the test drives: win() resolves the pending acquire, lose() ends the tenure. */
class ScriptedLease implements LeaseBackend {
  readonly kind = 'etcd' as const;
  readonly log: string[] = [];
  held = false;
  private pending: { resolve: (t: LeaseTenure | undefined) => void; events: LeaseEvents } | undefined;
  private events: LeaseEvents | undefined;

  acquire(signal: AbortSignal, events: LeaseEvents): Promise<LeaseTenure | undefined> {
    this.log.push('acquire');
    return new Promise((resolve) => {
      this.pending = { resolve, events };
      signal.addEventListener('abort', () => {
        this.log.push('acquire aborted');
        resolve(undefined);
      });
    });
  }
  get standing(): boolean {
    return this.pending !== undefined;
  }
  win(token: number): void {
    const p = this.pending!;
    this.pending = undefined;
    this.events = p.events;
    this.held = true;
    p.resolve({ token });
  }
  lose(why: string, release: boolean): void {
    this.held = false;
    this.events!.lost(why, release);
  }
  async renew(): Promise<boolean> {
    return this.held;
  }
  valid(): boolean {
    return this.held;
  }
  async release(): Promise<void> {
    this.log.push('release');
    this.held = false;
  }
  async holder(): Promise<LeaseHolder | undefined> {
    return undefined;
  }
  watch(): string[] {
    return [];
  }

  close(): void {
    this.log.push('close');
  }
}

function host(clock: ManualClock): SingletonHost {
  const logger: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => logger };
  const no = (): never => assert.fail('the supervisor asked the registry for something the lease backend decides');
  return {
    name: 'a@local', clock, logger, failureTimeoutMs: 3000, heartbeatIntervalMs: 500,
    register: no, unregister: no, holder: () => undefined, claimsOfMembers: () => [], epochOf: () => 0, persistEpoch: no,
    requestQuorum: no, releaseQuorum: no, whenSynced: async () => {}, isSynced: () => true, freshMembers: () => 0,
    members: () => [], lastHealthyTickAt: () => clock.now(), lastDeclaredDownAt: () => -Infinity, onChange: () => () => {},
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

test('through the lease port: start on each won tenure with its token, stop on a lost one, release after the code stopped, then stand again', async () => {
  const clock = new ManualClock(0);
  const lease = new ScriptedLease();
  const events: string[] = [];
  const valid: (() => boolean)[] = [];
  const sup = new SingletonSupervisor(host(clock), 'S', (ctx) => {
    events.push(`start ${ctx.epoch}`);
    valid.push(() => ctx.isValid());
    return () => void events.push(`stop ${ctx.epoch} (lease ${lease.log.at(-1)})`);
  }, 100, {}, lease);
  void sup.run();
  clock.advance(100);
  await flush();
  assert.equal(sup.state, 'standby');
  assert.ok(lease.standing, 'it stands for the lease after settling');
  lease.win(41);
  await flush();
  assert.equal(sup.state, 'running');
  assert.equal(sup.epoch, 41);
  assert.equal(valid[0]!(), true);
  lease.lose('stale tenure', true);
  assert.equal(valid[0]!(), false, 'invalid as soon as the backend says so');
  await flush();
  assert.deepEqual(events, ['start 41', 'stop 41 (lease acquire)']);
  assert.deepEqual(lease.log, ['acquire', 'release', 'acquire'], 'released after the code stopped, and only then stands again');
  assert.equal(sup.state, 'standby');
  lease.win(44);
  await flush();
  assert.equal(sup.epoch, 44);
  await sup.stop();
  assert.deepEqual(events, ['start 41', 'stop 41 (lease acquire)', 'start 44', 'stop 44 (lease close)']);
  assert.deepEqual(lease.log.slice(-2), ['close', 'release'], 'stop(): the code stops before the lease is released (handover)');
  assert.equal(sup.state, 'stopped');
});

test('through the lease port: a tenure lost without release (superseded) is not released; stop() while standing aborts the acquire and releases nothing', async () => {
  const clock = new ManualClock(0);
  const lease = new ScriptedLease();
  const sup = new SingletonSupervisor(host(clock), 'S', () => {}, 0, {}, lease);
  void sup.run();
  clock.advance(0);
  await flush();
  lease.win(7);
  await flush();
  lease.lose('superseded by b@local', false);
  await flush();
  assert.deepEqual(lease.log, ['acquire', 'acquire']);
  await sup.stop();
  assert.deepEqual(lease.log, ['acquire', 'acquire', 'acquire aborted', 'close']);
});

test('through the lease port: a tenure lost before its code began (lost() right after the win, before the supervisor ran) never starts the code; the lease is released and the node stands again', async () => {
  const clock = new ManualClock(0);
  const lease = new ScriptedLease();
  const events: string[] = [];
  const sup = new SingletonSupervisor(host(clock), 'S', (ctx) => {
    events.push(`start ${ctx.epoch}`);
    return () => void events.push(`stop ${ctx.epoch}`);
  }, 0, {}, lease);
  void sup.run();
  clock.advance(0);
  await flush();
  // The backend ends the tenure in the same turn that won it (the quorum lease can, when
  // a check runs from another microtask before the supervisor's continuation).
  lease.win(9);
  lease.lose('stale tenure', true);
  await flush();
  assert.deepEqual(events, [], 'the code of a tenure already lost does not start');
  assert.deepEqual(lease.log, ['acquire', 'release', 'acquire'], 'the lost tenure is released, then the node stands again');
  assert.equal(sup.state, 'standby');
  lease.win(10);
  await flush();
  assert.deepEqual(events, ['start 10']);
  await sup.stop();
});
