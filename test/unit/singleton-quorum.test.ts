// Quorum grants (src/singleton/quorum.ts), inside the node's replica: who may be granted
// a name and for how long (the grant lifetime follows the failure timeout), what ends a
// grant early, and hostile epochs in requests and answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigningKey } from '../../src/util/signing.js';
import { grantLifetimeMs } from '../../src/membership/timing.js';
import { A, M, replicaProbe } from '../helpers/replica-probe.js';

const B = 'bob@h';
const FT = 600;
const LIFETIME = grantLifetimeMs(FT);

/** A replica of A with M and B up; answers to qreqs are the qres messages sent, by id. */
function voter(options: Parameters<typeof replicaProbe>[0] = {}) {
  const probe = replicaProbe({ failureTimeoutMs: FT, ...options });
  probe.replica.nodeUp(B, 'cc', SigningKey.fromSeed(Buffer.alloc(32, 9)).publicKey);
  const answer = (id: number): { ok: boolean; epoch: number } | undefined => {
    const m = probe.sent.find((s) => s.msg.k === 'qres' && s.msg.id === id)?.msg;
    return m && m.k === 'qres' ? { ok: m.ok, epoch: m.epoch } : undefined;
  };
  return { ...probe, answer };
}

test('a grant keeps other claimants out for the grant lifetime, then expires; the same claimant may ask again', () => {
  const { replica, clock, answer } = voter();
  replica.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
  assert.deepEqual(answer(1), { ok: true, epoch: 1 });
  // Table: [ms after the grant, requester, epoch, granted?]
  const cases: [number, string, number, boolean][] = [
    [0, B, 2, false],
    [0, M, 1, true], // the same grant, asked again
    [LIFETIME - 1, B, 3, false],
    [LIFETIME, B, 4, true], // expired: B gets a grant above every epoch seen
    [LIFETIME, M, 1, false], // M's grant is gone, and epoch 1 is no longer above the highest seen
  ];
  let id = 10;
  let at = 0;
  for (const [ms, who, epoch, want] of cases) {
    clock.advance(ms - at);
    at = ms;
    replica.receive(who, { k: 'qreq', id: ++id, name: 'S', epoch });
    assert.equal(answer(id)?.ok, want, `${who} epoch ${epoch} at +${ms} ms`);
  }
});

test('the grant lifetime follows the failure timeout', () => {
  for (const ft of [600, 3000]) {
    const { replica, clock, answer } = voter({ failureTimeoutMs: ft });
    replica.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
    clock.advance(grantLifetimeMs(ft) - 1);
    replica.receive(B, { k: 'qreq', id: 2, name: 'S', epoch: 2 });
    assert.equal(answer(2)?.ok, false, `ft ${ft}: still granted to M`);
    clock.advance(1);
    replica.receive(B, { k: 'qreq', id: 3, name: 'S', epoch: 3 });
    assert.equal(answer(3)?.ok, true, `ft ${ft}: expired`);
  }
});

test('a grant ends early when its claimant gives it back, goes down, or claims (then the holder keeps others out)', () => {
  const ends: [string, (r: ReturnType<typeof voter>['replica']) => void][] = [
    ['qrel', (r) => r.receive(M, { k: 'qrel', name: 'S', epoch: 1 })],
    ['nodedown', (r) => r.nodeDown(M, 'bb')],
  ];
  for (const [why, end] of ends) {
    const { replica, answer } = voter();
    replica.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
    end(replica);
    replica.receive(B, { k: 'qreq', id: 2, name: 'S', epoch: 2 });
    assert.equal(answer(2)?.ok, true, why);
  }
  const { replica, answer } = voter();
  replica.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
  replica.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [{ name: 'S', stamp: [1, 0], version: 1, released: false, epoch: 1 }] }, h: [1, 0] });
  replica.receive(B, { k: 'qreq', id: 2, name: 'S', epoch: 2 });
  assert.equal(answer(2)?.ok, false, 'M holds S now');
  replica.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 1, version: 2, floor: 0, entries: [{ name: 'S', stamp: [1, 0], version: 2, released: true, epoch: 1 }] }, h: [2, 0] });
  replica.receive(B, { k: 'qreq', id: 3, name: 'S', epoch: 2 });
  assert.equal(answer(3)?.ok, true, 'the claim consumed the grant; once released, the name is free');
});

test('a non-voter refuses every grant; a request from a non-member is not answered', () => {
  const { replica, answer } = voter({ mayVote: () => false });
  replica.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
  assert.deepEqual(answer(1), { ok: false, epoch: 0 });
  replica.receive('eve@h', { k: 'qreq', id: 2, name: 'S', epoch: 1 });
  assert.equal(answer(2), undefined);
});

test('request(): own grant first, then the voters asked; settles on enough grants, on refusals, on members going down, or at the deadline', async () => {
  const { replica, sent, clock } = voter();
  const ask = () => sent.filter((s) => s.msg.k === 'qreq').at(-1)!.msg as { id: number };
  // Enough grants.
  let p = replica.quorum.request('S', 1, 2, 1000, [M, B]);
  replica.receive(M, { k: 'qres', id: ask().id, ok: true, epoch: 1 });
  assert.deepEqual(await p, { granted: [A, M], highestEpoch: 1 });
  replica.quorum.release('S', 1, [A, M]);
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qrel', name: 'S', epoch: 1 } });
  // Refusals: 3 needed, one refuses.
  p = replica.quorum.request('S', 2, 3, 1000, [M, B]);
  replica.receive(B, { k: 'qres', id: ask().id, ok: false, epoch: 5 });
  assert.deepEqual(await p, { granted: [A], highestEpoch: 5 });
  replica.quorum.release('S', 2, [A]);
  // A voter going down.
  p = replica.quorum.request('S', 6, 2, 1000, [M]);
  replica.nodeDown(M, 'bb');
  assert.deepEqual(await p, { granted: [A], highestEpoch: 5 });
  replica.quorum.release('S', 6, [A]);
  // The deadline.
  p = replica.quorum.request('S', 7, 2, 1000, [B]);
  clock.advance(999);
  let settled = false;
  void p.then(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false);
  clock.advance(1);
  assert.deepEqual(await p, { granted: [A], highestEpoch: 6 }, 'the highest seen when asking (our own grant of 6)');
});

test('a quorum request with a poisoned epoch is refused, not granted, not adopted', () => {
  const { replica, sent } = voter();
  replica.receive(M, { k: 'qreq', id: 7, name: 'Singleton', epoch: 2 ** 53 - 1 });
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 7, ok: false, epoch: 0 } });
  assert.equal(replica.epochs.epochOf('Singleton'), 0);
  replica.receive(M, { k: 'qreq', id: 8, name: 'Singleton', epoch: 1 });
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 8, ok: true, epoch: 1 } });
});

test('a quorum answer with a poisoned epoch counts as a refusal', async () => {
  const { replica, sent } = replicaProbe();
  const result = replica.quorum.request('Singleton', 1, 2, 1000);
  const req = sent.find((s) => s.msg.k === 'qreq')!.msg as { id: number };
  replica.receive(M, { k: 'qres', id: req.id, ok: true, epoch: 2 ** 53 - 1 });
  const r = await result;
  assert.deepEqual(r.granted, [A]);
  assert.equal(r.highestEpoch, 0, 'the poisoned answer did not raise the highest epoch');
  assert.equal(replica.epochs.epochOf('Singleton'), 1);
});

test('a quorum member answers a grant only once its epoch is saved, and refuses it when the save fails', async () => {
  let saveOk = false;
  let release!: () => void;
  const { replica, sent } = replicaProbe({ persist: () => new Promise<boolean>((r) => (release = () => r(saveOk))) });
  replica.receive(M, { k: 'qreq', id: 1, name: 'S', epoch: 1 });
  assert.equal(sent.filter((s) => s.msg.k === 'qres').length, 0, 'no answer before the save');
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 1, ok: false, epoch: 1 } });
  // The refused grant does not keep the name: the next request (saved this time) is granted.
  saveOk = true;
  replica.receive(M, { k: 'qreq', id: 2, name: 'S', epoch: 2 });
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'qres', id: 2, ok: true, epoch: 2 } });
});
