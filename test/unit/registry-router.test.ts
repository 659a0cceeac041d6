// The registry router (src/registry/router.ts): one parse, dispatch by kind, per-link
// order kept, malformed messages thrown (the node closes that connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryRouter } from '../../src/registry/router.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import { M, replicaProbe } from '../helpers/replica-probe.js';

function recordingRouter(members = new Set([M])) {
  const got: string[] = [];
  const route = (part: string) => ({ receive: (from: string, msg: RegistryMessage) => void got.push(`${part}:${msg.k}:${from}`) });
  const router = new RegistryRouter({
    replication: { ...route('replication'), isMember: (n) => members.has(n) },
    messaging: route('messaging'),
    claims: route('claims'),
    quorum: route('quorum'),
    epochs: route('epochs'),
  });
  return { router, got };
}

test('each kind goes to its part', () => {
  const cases: [unknown, string][] = [
    [{ k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 0, floor: 0, entries: [] }, h: [1, 0] }, 'replication'],
    [{ k: 'digest', owners: [], reply: false, h: [1, 0] }, 'replication'],
    [{ k: 'synced', h: [1, 0] }, 'replication'],
    [{ k: 'msg', name: 'x', body: 1 }, 'messaging'],
    [{ k: 'reply', id: 1, ok: true, body: null }, 'messaging'],
    [{ k: 'epochs', e: [['x', 1]] }, 'epochs'],
    [{ k: 'qreq', id: 1, name: 'x', epoch: 1 }, 'quorum'],
    [{ k: 'qres', id: 1, ok: true, epoch: 1 }, 'quorum'],
    [{ k: 'qrel', name: 'x', epoch: 1 }, 'quorum'],
    [{ k: 'cfm', id: 1, name: 'x', owner: M, inc: 'bb' }, 'claims'],
    [{ k: 'cfr', id: 1 }, 'claims'],
  ];
  for (const [raw, part] of cases) {
    const { router, got } = recordingRouter();
    router.receive(M, raw);
    assert.deepEqual(got, [`${part}:${(raw as { k: string }).k}:${M}`]);
  }
});

test('claim messages from a node that is not a connected member are dropped; others still go through', () => {
  const { router, got } = recordingRouter(new Set());
  router.receive('eve@h', { k: 'cfm', id: 1, name: 'x', owner: 'eve@h', inc: 'ee' });
  router.receive('eve@h', { k: 'cfr', id: 1 });
  router.receive('eve@h', { k: 'synced', h: [1, 0] });
  assert.deepEqual(got, ['replication:synced:eve@h']);
});

test('a malformed message throws ERR_PROTOCOL and reaches no part', () => {
  for (const raw of [null, 'x', [], { k: 'nope' }, { k: 'qreq', id: -1, name: 'x', epoch: 1 }, { k: 'delta', d: {}, h: [1, 0] }]) {
    const { router, got } = recordingRouter();
    assert.throws(() => router.receive(M, raw), (e: unknown) => (e as { code?: string }).code === 'ERR_PROTOCOL');
    assert.deepEqual(got, []);
  }
});

test('per-link order: a delta and then a confirm request on the same link are answered with the claim the delta carried', () => {
  const { replica, sent } = replicaProbe();
  replica.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [{ name: 'jobs', stamp: [5, 0], version: 1, released: false }] }, h: [5, 0] });
  replica.receive(M, { k: 'cfm', id: 9, name: 'jobs', owner: M, inc: 'bb' });
  assert.deepEqual(sent.at(-1), { to: M, msg: { k: 'cfr', id: 9, holder: { owner: M, inc: 'bb', stamp: [5, 0] } } });
});
