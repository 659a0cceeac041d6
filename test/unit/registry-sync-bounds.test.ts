// The bound rule at work in replication (RegistrySync, behind the node's router): a
// delta carrying a poisoned epoch or version from a member is dropped whole and logged,
// never adopted, never thrown (a throw would make the node close the connection).
// The epoch book's and quorum grants' bounds are tested in singleton-epochs.test.ts and
// singleton-quorum.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_COUNTER, MAX_COUNTER_JUMP } from '../../src/registry/bounds.js';
import { M, replicaProbe } from '../helpers/replica-probe.js';

test('a delta carrying a poisoned epoch or version is dropped whole: no holder, no epoch', () => {
  const { replica } = replicaProbe();
  const entry = (epoch: number, version = 1) => ({ name: 'jobs', stamp: [1, 0], version, released: false, epoch });
  for (const d of [
    { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [entry(2 ** 53 - 1)] },
    { owner: M, inc: 'bb', base: 0, version: 2 ** 53 - 1, floor: 0, entries: [entry(1, 2 ** 53 - 1)] },
    { owner: M, inc: 'bb', base: -1, version: 1, floor: 0, entries: [entry(1)] },
    { owner: M, inc: 'bb', base: 0, version: MAX_COUNTER + 1, floor: 0, entries: [entry(1, 5)] },
  ]) {
    assert.doesNotThrow(() => replica.receive(M, { k: 'delta', d, h: [1, 0] }));
    assert.equal(replica.sync.whereis('jobs'), undefined);
    assert.equal(replica.epochs.epochOf('jobs'), 0);
  }
  // The owner's own large version (no step bound for its own counter) is fine.
  replica.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 3 * MAX_COUNTER_JUMP, floor: 0, entries: [entry(4, 3 * MAX_COUNTER_JUMP)] }, h: [1, 0] });
  assert.equal(replica.sync.whereis('jobs')?.owner, M);
  assert.equal(replica.epochs.epochOf('jobs'), 4);
});

test('refused deltas and refused epochs share one rate-limited drop log', () => {
  const { replica, warns, clock } = replicaProbe();
  replica.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [{ name: 'jobs', stamp: [1, 0], version: 1, released: false, epoch: 2 ** 53 - 1 }] }, h: [1, 0] });
  replica.receive(M, { k: 'epochs', e: [['x', 2 ** 53 - 1]] });
  assert.deepEqual(warns(), ['dropped entry epoch 9007199254740991 for "jobs" from mallory@h: too-high']);
  clock.advance(10_000);
  replica.receive(M, { k: 'epochs', e: [['y', 2 ** 53 - 1]] });
  assert.equal(warns().length, 2);
  assert.match(warns()[1]!, /^dropped epoch 9007199254740991 for "y" from mallory@h: too-high \(and 1 more dropped since the last report\)$/);
});

test('malformed or absurd stamps are values, not grounds to disconnect: the delta is dropped, the clock ignores them', () => {
  const { replica, warns } = replicaProbe();
  const sync = { receive: (from: string, m: unknown): void => replica.receive(from, m), whereis: (n: string) => replica.sync.whereis(n), hlc: replica.sync.hlc };
  const before = sync.hlc.peek();
  const entry = (stamp: unknown) => ({ name: 'jobs', stamp, version: 1, released: false });
  for (const stamp of [[-1, 0], [1.5, 0], ['x', 0], [1], null, [2 ** 53, 0]]) {
    const d = { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [entry(stamp)] };
    assert.doesNotThrow(() => sync.receive(M, { k: 'delta', d, h: stamp }));
    assert.equal(sync.whereis('jobs'), undefined);
  }
  assert.match(warns()[0]!, /^dropped entry stamp NaN for "jobs" from mallory@h: invalid$/);
  // An absurd logical part would push our clock out of the safe integers: ignored.
  assert.doesNotThrow(() => sync.receive(M, { k: 'synced', h: [before[0], 2 ** 53 - 1] }));
  assert.doesNotThrow(() => sync.receive(M, { k: 'digest', owners: [], reply: true, h: [-5, 'x'] }));
  assert.ok(sync.hlc.peek()[1] <= 2 ** 32 + 1, `logical ${sync.hlc.peek()[1]}`);
  // A valid delta after all that still lands.
  sync.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [entry([5, 0])] }, h: [5, 0] });
  assert.equal(sync.whereis('jobs')?.owner, M);
});
