// Several nodes in one process over real TCP on 127.0.0.1, discovered through seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import * as net from 'node:net';

const nodes: ClusterNode[] = [];

function start(name: string, seeds: string[] = [], cookie = 'lib-cookie'): Promise<ClusterNode> {
  const node = createNode({ name, cookie, host: '127.0.0.1', mdns: false, seeds, ...testConfig() });
  nodes.push(node);
  return node.start().then(() => node);
}

test.afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

test('a node that knows only one member joins everyone (full mesh through gossip)', async () => {
  const a = await start('a@local');
  const b = await start('b@local', [`127.0.0.1:${a.port}`]);
  const c = await start('c@local', [`127.0.0.1:${a.port}`]);
  const d = await start('d@local', [`127.0.0.1:${c.port}`]);
  await waitFor(() => [a, b, c, d].every((n) => n.members().length === 3), 5000, () => [a, b, c, d].map((n) => `${n.name}: ${n.members()}`).join('; '));
  assert.deepEqual(d.members(), ['a@local', 'b@local', 'c@local']);
  assert.deepEqual(b.members(), ['a@local', 'c@local', 'd@local']);
});

test('nodeup and nodedown events; a clean stop is seen at once', async () => {
  const a = await start('a@local');
  const events: string[] = [];
  a.on('nodeup', (m) => events.push(`up ${m.name}`));
  a.on('nodedown', (m) => events.push(`down ${m.name}`));
  const b = await start('b@local', [`127.0.0.1:${a.port}`]);
  await waitFor(() => a.members().includes('b@local'), 5000);
  const stoppedAt = performance.now();
  await b.stop();
  await waitFor(() => a.members().length === 0, 2000);
  assert.ok(performance.now() - stoppedAt < 500, 'a goodbye is seen well before the failure timeout');
  assert.deepEqual(events, ['up b@local', 'down b@local']);
});

test('simultaneous dials between two nodes settle on one connection and no flapping', async () => {
  const a = await start('a@local');
  const b = await start('b@local', [`127.0.0.1:${a.port}`]);
  // Make a dial b while b dials a.
  const c = await start('c@local', [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
  const downs: string[] = [];
  for (const n of [a, b, c]) n.on('nodedown', (m) => downs.push(`${n.name} saw ${m.name} down`));
  await waitFor(() => [a, b, c].every((n) => n.members().length === 2), 5000);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(downs, []);
  assert.deepEqual(c.members(), ['a@local', 'b@local']);
});

test('a node with another cookie never becomes a member', async () => {
  const a = await start('a@local');
  const b = await start('b@local', [`127.0.0.1:${a.port}`]);
  const eve = await start('eve@local', [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], 'wrong');
  await waitFor(() => a.members().includes('b@local'), 5000);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(a.members(), ['b@local']);
  assert.deepEqual(b.members(), ['a@local']);
  assert.deepEqual(eve.members(), []);
});

test('a seed that is this node itself is recognised and ignored', async () => {
  const a = await start('a@local');
  const port = await freePort();
  const b = createNode({ name: 'b@local', cookie: 'lib-cookie', host: '127.0.0.1', port, mdns: false, seeds: [`127.0.0.1:${port}`, `127.0.0.1:${a.port}`], ...testConfig() });
  nodes.push(b);
  await b.start();
  await waitFor(() => b.members().length === 1, 5000);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(b.members(), ['a@local']);
  assert.deepEqual(a.members(), ['b@local']);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
