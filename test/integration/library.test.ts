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

test('joined() resolves with the members once the first one is up, or with [] after the settle window when alone; listen is the new name of host', async () => {
  const { shortName, shortHostname, isClusterError } = await import('../../src/index.js');
  const lone = createNode({ name: 'lone@local', cookie: 'lib-cookie', listen: '127.0.0.1', mdns: false, ...testConfig() });
  nodes.push(lone);
  await lone.start();
  const t0 = performance.now();
  assert.deepEqual(await lone.joined(300), []);
  assert.ok(performance.now() - t0 >= 290, 'waited the window');
  const a = await start('a@local');
  const b = createNode({ name: 'b@local', cookie: 'lib-cookie', listen: '127.0.0.1', mdns: false, seeds: [`127.0.0.1:${a.port}`], ...testConfig() });
  nodes.push(b);
  await b.start();
  assert.deepEqual(b.members(), [], 'start() resolves before any peer is known');
  assert.deepEqual(await b.joined(5000), ['a@local']);
  assert.deepEqual(await b.joined(), ['a@local'], 'at once when a member is up');
  await assert.rejects(createNode({ name: 'x@local', cookie: 'c' }).joined(), (e: unknown) => isClusterError(e, 'ERR_NOT_STARTED'));
  assert.throws(() => createNode({ name: 'x@local', cookie: 'c', listen: '127.0.0.1', host: '0.0.0.0' }), (e: unknown) => isClusterError(e, 'ERR_CONFIG'));
  assert.equal(shortName('alice'), `alice@${shortHostname()}`);
  assert.throws(() => shortName('a b'), (e: unknown) => isClusterError(e, 'ERR_CONFIG'));
});

test('typed messaging: call<Res>() and a NameHandler<Req, Res> (types are the caller\'s promise, not checked)', async () => {
  const a = await start('a@local');
  const b = await start('b@local', [`127.0.0.1:${a.port}`]);
  await waitFor(() => a.members().length === 1 && b.members().length === 1, 5000);
  interface Add {
    x: number;
    y: number;
  }
  const r = await a.register<Add, { sum: number }>('adder', async (msg) => ({ sum: msg.x + msg.y }));
  assert.equal(r.won, true);
  await waitFor(() => b.whereis('adder') === 'a@local', 3000);
  const res = await b.call<{ sum: number }, Add>('adder', { x: 2, y: 3 });
  assert.equal(res.sum, 5);
});
