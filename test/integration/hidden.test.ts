// Hidden nodes over real TCP on 127.0.0.1: an observer sees the cluster and every
// member's view, and is itself never a member — never listed, never counted towards a
// quorum, never holding a name — and leaves no trace when it goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, isClusterError, testConfig } from '../../src/index.js';
import type { ClusterNode, NodeOptions } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const nodes: ClusterNode[] = [];
test.afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function start(name: string, extra: Partial<NodeOptions> = {}): Promise<ClusterNode> {
  const seeds = nodes.length ? [`127.0.0.1:${nodes[0]!.port}`] : [];
  const n = createNode({ name, cookie: 'hidden', host: '127.0.0.1', mdns: false, seeds, ...testConfig(), ...extra });
  nodes.push(n);
  await n.start();
  return n;
}

test('an observer sees every member and their views; it is never listed, never counted, never a holder', async () => {
  const a = await start('a@local');
  const b = await start('b@local');
  await waitFor(() => a.members().length === 1 && b.members().length === 1, 5000);
  assert.equal((await a.register('jobs')).won, true);
  const events: string[] = [];
  for (const n of [a, b]) {
    n.on('nodeup', (m) => events.push(`${n.name} up ${m.name}`));
    n.on('nodedown', (m) => events.push(`${n.name} down ${m.name}`));
  }
  // The observer knows only a; a's member list brings it to b.
  const o = createNode({ name: 'status-1@local', cookie: 'hidden', host: '127.0.0.1', mdns: false, seeds: [`127.0.0.1:${a.port}`], hidden: true, ...testConfig() });
  nodes.push(o);
  await o.start();
  await waitFor(() => o.members().length === 2, 5000, () => o.members().join(', '));
  const status = await o.clusterStatus(2000);
  assert.deepEqual(status.views.map((v) => v.node), ['a@local', 'b@local']);
  assert.deepEqual(status.silent, []);
  assert.equal(status.agree, true);
  for (const v of status.views) {
    assert.deepEqual(v.members.map((m) => m.name), [v.node === 'a@local' ? 'b@local' : 'a@local']);
    assert.deepEqual(v.registry.map((c) => [c.name, c.owner]), [['jobs', 'a@local']]);
  }
  // Never a member: not listed, no nodeup, not in the gossip either.
  assert.deepEqual(a.members(), ['b@local']);
  assert.deepEqual(b.members(), ['a@local']);
  assert.deepEqual(a.observers(), ['status-1@local']);
  assert.deepEqual(events, []);
  // It cannot claim anything.
  await assert.rejects(o.register('x'), (e: unknown) => isClusterError(e, 'ERR_HIDDEN'));
  assert.throws(() => o.singleton('S', () => {}), (e: unknown) => isClusterError(e, 'ERR_HIDDEN'));
  // A member's own status is its own view.
  assert.throws(() => a.clusterStatus(), (e: unknown) => isClusterError(e, 'ERR_CONFIG'));
  await o.stop();
  nodes.splice(nodes.indexOf(o), 1);
  await waitFor(() => a.observers().length === 0 && b.observers().length === 0, 3000);
  assert.deepEqual(events, [], 'its leaving is no nodedown either');
});

test('an observer does not give a lone --quorum 2 node its quorum', async () => {
  const a = await start('a@local');
  const tenures: string[] = [];
  a.singleton('Singleton', (ctx) => void tenures.push(`${ctx.node} ${ctx.epoch}`), { quorum: 2, settleMs: 100 });
  const o = createNode({ name: 'status-2@local', cookie: 'hidden', host: '127.0.0.1', mdns: false, seeds: [`127.0.0.1:${a.port}`], hidden: true, ...testConfig() });
  nodes.push(o);
  await o.start();
  await waitFor(() => o.members().length === 1, 5000);
  // Settle, candidacy, many rounds of the standby loop and grant requests.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(tenures.length, 0, tenures.join(', '));
  const status = await o.clusterStatus(2000);
  assert.deepEqual(status.views.map((v) => [v.node, v.members.length]), [['a@local', 0]]);
  // A real second voter gives it one.
  const b = await start('b@local');
  b.singleton('Singleton', (ctx) => void tenures.push(`${ctx.node} ${ctx.epoch}`), { quorum: 2, settleMs: 100 });
  await waitFor(() => tenures.length === 1, 5000);
});

test('an observer that falls silent is closed; observers beyond the cap are refused', async () => {
  const a = await start('a@local');
  const observers: ClusterNode[] = [];
  for (let i = 0; i < 17; i++) {
    const o = createNode({ name: `status-${i}@local`, cookie: 'hidden', host: '127.0.0.1', mdns: false, seeds: [`127.0.0.1:${a.port}`], hidden: true, ...testConfig() });
    nodes.push(o);
    observers.push(o);
    await o.start();
  }
  await waitFor(() => a.observers().length === 16, 5000, () => `${a.observers().length}`);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(a.observers().length, 16, 'the cap holds');
  assert.equal(observers.filter((o) => o.members().length === 1).length, 16);
});
