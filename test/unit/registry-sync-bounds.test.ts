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
