// The bound rule at work inside RegistrySync: poisoned epochs and versions from a
// member are dropped and logged (rate-limited), never adopted, never thrown (a throw
// would make the node close the connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistrySync } from '../../src/registry/sync.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import { MAX_COUNTER, MAX_COUNTER_JUMP } from '../../src/registry/bounds.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { SigningKey } from '../../src/util/signing.js';
import { recordingLogger } from '../helpers/recording-logger.js';

const A = 'alice@h';
const M = 'mallory@h';

function node(persist?: () => Promise<boolean>): { sync: RegistrySync; sent: { to: string; msg: RegistryMessage }[]; logger: ReturnType<typeof recordingLogger>; clock: ManualClock } {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const sent: { to: string; msg: RegistryMessage }[] = [];
  const sync = new RegistrySync({
    self: { name: A, inc: 'aa' },
    signer: SigningKey.fromSeed(Buffer.alloc(32, 1)),
    clock,
    random: seededRandom(1),
    logger,
    port: { send: (to, msg) => void sent.push({ to, msg }) !== undefined },
    events: { registered() {}, lost() {}, freed() {}, message() {}, reply() {} },
    ...(persist ? { persist } : {}),
  });
  sync.nodeUp(M, 'bb', SigningKey.fromSeed(Buffer.alloc(32, 2)).publicKey);
  return { sync, sent, logger, clock };
}

const warns = (l: ReturnType<typeof recordingLogger>): string[] => l.lines.filter((x) => x.level === 'warn').map((x) => x.message);

test('the huge-epoch poison is dropped and logged once, and the epoch stays sane', () => {
  const { sync, logger } = node();
  sync.receive(M, { k: 'epochs', e: [['Singleton', 3]] });
  for (const poison of [2 ** 53 - 1, 2 ** 53, 2 ** 60, -1, 1.5, Number.NaN, 3 + MAX_COUNTER_JUMP + 1]) {
    assert.doesNotThrow(() => sync.receive(M, { k: 'epochs', e: [['Singleton', poison]] }));
  }
  assert.equal(sync.epochOf('Singleton'), 3);
  const w = warns(logger);
  assert.equal(w.length, 1, w.join('\n'));
  assert.match(w[0]!, /^dropped epoch 9007199254740991 for "Singleton" from mallory@h: too-high$/);
  // A step within the bound is believed.
  sync.receive(M, { k: 'epochs', e: [['Singleton', 3 + MAX_COUNTER_JUMP]] });
  assert.equal(sync.epochOf('Singleton'), 3 + MAX_COUNTER_JUMP);
});

test('the drop log is rate-limited and then reports how many it held back', () => {
  const { sync, logger, clock } = node();
  for (let i = 0; i < 50; i++) sync.receive(M, { k: 'epochs', e: [[`n${i}`, 2 ** 53 - 1]] });
  assert.equal(warns(logger).length, 1);
  clock.advance(10_000);
  sync.receive(M, { k: 'epochs', e: [['x', 2 ** 53 - 1]] });
  assert.equal(warns(logger).length, 2);
  assert.match(warns(logger)[1]!, /and 49 more dropped/);
  assert.deepEqual(sync.allEpochs(), []);
});

test('a delta carrying a poisoned epoch or version is dropped whole: no holder, no epoch', () => {
  const { sync } = node();
  const entry = (epoch: number, version = 1) => ({ name: 'jobs', stamp: [1, 0], version, released: false, epoch });
  for (const d of [
    { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [entry(2 ** 53 - 1)] },
    { owner: M, inc: 'bb', base: 0, version: 2 ** 53 - 1, floor: 0, entries: [entry(1, 2 ** 53 - 1)] },
    { owner: M, inc: 'bb', base: -1, version: 1, floor: 0, entries: [entry(1)] },
    { owner: M, inc: 'bb', base: 0, version: MAX_COUNTER + 1, floor: 0, entries: [entry(1, 5)] },
  ]) {
    assert.doesNotThrow(() => sync.receive(M, { k: 'delta', d, h: [1, 0] }));
    assert.equal(sync.whereis('jobs'), undefined);
    assert.equal(sync.epochOf('jobs'), 0);
  }
  // The owner's own large version (no step bound for its own counter) is fine.
  sync.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 3 * MAX_COUNTER_JUMP, floor: 0, entries: [entry(4, 3 * MAX_COUNTER_JUMP)] }, h: [1, 0] });
  assert.equal(sync.whereis('jobs')?.owner, M);
  assert.equal(sync.epochOf('jobs'), 4);
});

test('a quorum request with a poisoned epoch is refused, not granted, not adopted', () => {
  const { sync, sent } = node();
  sync.receive(M, { k: 'qreq', id: 7, name: 'Singleton', epoch: 2 ** 53 - 1 });
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 7, ok: false, epoch: 0 } });
  assert.equal(sync.epochOf('Singleton'), 0);
  sync.receive(M, { k: 'qreq', id: 8, name: 'Singleton', epoch: 1 });
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 8, ok: true, epoch: 1 } });
});

test('a quorum answer with a poisoned epoch counts as a refusal', async () => {
  const { sync, sent } = node();
  const result = sync.requestQuorum('Singleton', 1, 2, 1000);
  const req = sent.find((s) => s.msg.k === 'qreq')!.msg as { id: number };
  sync.receive(M, { k: 'qres', id: req.id, ok: true, epoch: 2 ** 53 - 1 });
  const r = await result;
  assert.deepEqual(r.granted, [A]);
  assert.equal(r.highestEpoch, 0, "the poisoned answer did not raise the highest epoch");
  assert.equal(sync.epochOf('Singleton'), 1);
});

test('a quorum member answers a grant only once its epoch is saved, and refuses it when the save fails', async () => {
  let saveOk = false;
  let release!: () => void;
  const { sync, sent } = node(() => new Promise<boolean>((r) => (release = () => r(saveOk))));
  sync.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
  assert.equal(sent.filter((s) => s.msg.k === 'qres').length, 0, 'no answer before the save');
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 1, ok: false, epoch: 1 } });
  // The refused grant does not keep the name: the next request (saved this time) is granted.
  saveOk = true;
  sync.receive(M, { k: 'qreq', id: 2, name: 'S', epoch: 2 });
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 2, ok: true, epoch: 2 } });
});

test('malformed or absurd stamps are values, not grounds to disconnect: the delta is dropped, the clock ignores them', () => {
  const { sync, logger } = node();
  const before = sync.hlc.peek();
  const entry = (stamp: unknown) => ({ name: 'jobs', stamp, version: 1, released: false });
  for (const stamp of [[-1, 0], [1.5, 0], ['x', 0], [1], null, [2 ** 53, 0]]) {
    const d = { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [entry(stamp)] };
    assert.doesNotThrow(() => sync.receive(M, { k: 'delta', d, h: stamp }));
    assert.equal(sync.whereis('jobs'), undefined);
  }
  assert.match(warns(logger)[0]!, /^dropped entry stamp NaN for "jobs" from mallory@h: invalid$/);
  // An absurd logical part would push our clock out of the safe integers: ignored.
  assert.doesNotThrow(() => sync.receive(M, { k: 'synced', h: [before[0], 2 ** 53 - 1] }));
  assert.doesNotThrow(() => sync.receive(M, { k: 'digest', owners: [], reply: true, h: [-5, 'x'] }));
  assert.ok(sync.hlc.peek()[1] <= 2 ** 32 + 1, `logical ${sync.hlc.peek()[1]}`);
  // A valid delta after all that still lands.
  sync.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [entry([5, 0])] }, h: [5, 0] });
  assert.equal(sync.whereis('jobs')?.owner, M);
});
