// The global registry and Singletons through the library API, over real TCP on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, isClusterError, testConfig } from '../../src/index.js';
import type { ClusterNode, NodeOptions } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const nodes: ClusterNode[] = [];

async function start(name: string, seeds: string[] = [], extra: Partial<NodeOptions> = {}): Promise<ClusterNode> {
  const node = createNode({ name, cookie: 'reg-cookie', host: '127.0.0.1', mdns: false, seeds, ...testConfig(), ...extra });
  nodes.push(node);
  await node.start();
  return node;
}

async function cluster(n: number): Promise<ClusterNode[]> {
  const first = await start('n1@local');
  const rest: ClusterNode[] = [];
  for (let i = 2; i <= n; i++) rest.push(await start(`n${i}@local`, [`127.0.0.1:${first.port}`]));
  const all = [first, ...rest];
  await waitFor(() => all.every((x) => x.members().length === n - 1), 5000);
  return all;
}

test.afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

test('register: the first claimant wins, later claimants lose and learn the holder; whereis agrees everywhere', async () => {
  const [a, b, c] = await cluster(3);
  const r1 = await a!.register('jobs');
  assert.equal(r1.won, true);
  await waitFor(() => [a, b, c].every((n) => n!.whereis('jobs') === 'n1@local'), 2000);
  const r2 = await b!.register('jobs');
  assert.equal(r2.won, false);
  assert.equal(!r2.won && r2.owner, 'n1@local');
  assert.deepEqual(c!.registered().map((x) => [x.name, x.owner]), [['jobs', 'n1@local']]);
});

test('unregister frees the name everywhere; another node can then take it', async () => {
  const [a, b, c] = await cluster(3);
  await a!.register('lock');
  await waitFor(() => c!.whereis('lock') === 'n1@local', 2000);
  const freed: string[] = [];
  c!.on('freed', (name) => freed.push(name));
  assert.equal(a!.unregister('lock'), true);
  await waitFor(() => [a, b, c].every((n) => n!.whereis('lock') === undefined), 2000);
  assert.deepEqual(freed, ['lock']);
  assert.equal((await b!.register('lock')).won, true);
  await waitFor(() => [a, b, c].every((n) => n!.whereis('lock') === 'n2@local'), 2000);
});

test('a holder going down frees its names everywhere', async () => {
  const [a, b, c] = await cluster(3);
  await b!.register('svc');
  await waitFor(() => a!.whereis('svc') === 'n2@local' && c!.whereis('svc') === 'n2@local', 2000);
  await b!.stop();
  await waitFor(() => a!.whereis('svc') === undefined && c!.whereis('svc') === undefined, 2000);
});

test('send reaches the holder\'s handler; call returns its answer; errors are typed', async () => {
  const [a, b] = await cluster(2);
  const got: unknown[] = [];
  await a!.register('echo', (msg, ctx) => {
    got.push([msg, ctx.from]);
    if (msg === 'boom') throw new Error('handler exploded');
    return { echoed: msg };
  });
  await waitFor(() => b!.whereis('echo') === 'n1@local', 2000);
  assert.equal(b!.send('echo', 'hello'), true);
  await waitFor(() => got.length === 1, 2000);
  assert.deepEqual(got[0], ['hello', 'n2@local']);
  assert.deepEqual(await b!.call('echo', 42), { echoed: 42 });
  assert.deepEqual(await a!.call('echo', 'local'), { echoed: 'local' });
  await assert.rejects(b!.call('echo', 'boom'), (e: unknown) => isClusterError(e, 'ERR_CALL_FAILED') && /exploded/.test((e as Error).message));
  await assert.rejects(b!.call('nobody', 1), (e: unknown) => isClusterError(e, 'ERR_NO_SUCH_NAME'));
  await a!.register('slow', () => new Promise((r) => setTimeout(() => r('late'), 1000)));
  await waitFor(() => b!.whereis('slow') === 'n1@local', 2000);
  await assert.rejects(b!.call('slow', 1, { timeoutMs: 100 }), (e: unknown) => isClusterError(e, 'ERR_CALL_TIMEOUT'));
});

test('a joining node receives the full registry', async () => {
  const [a, b] = await cluster(2);
  for (let i = 0; i < 300; i++) await (i % 2 ? a : b)!.register(`name-${i}`);
  const c = await start('n9@local', [`127.0.0.1:${a!.port}`]);
  await waitFor(() => c.registered().length === 300, 5000, () => `has ${c.registered().length}`);
  assert.equal(c.whereis('name-1'), 'n1@local');
  assert.equal(c.whereis('name-2'), 'n2@local');
});

test('singleton: runs on the first claimant only; a node joining later never starts it', async () => {
  const a = await start('a@local', [], { settleMs: 200 });
  const runs: string[] = [];
  const stops: string[] = [];
  const sa = a.singleton('Worker', (ctx) => {
    runs.push(ctx.node);
    return () => stops.push(ctx.node);
  });
  await waitFor(() => sa.state === 'running', 3000);
  const b = await start('b@local', [`127.0.0.1:${a.port}`], { settleMs: 200 });
  const sb = b.singleton('Worker', (ctx) => {
    runs.push(ctx.node);
  });
  await waitFor(() => sb.state === 'not-started', 3000);
  assert.deepEqual(runs, ['a@local']);
  // The holder goes away: in the default mode (restart: temporary) nobody takes over.
  await a.stop();
  assert.deepEqual(stops, ['a@local']);
  await waitFor(() => b.whereis('Worker') === undefined, 2000);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(runs, ['a@local']);
});

test('two holders meet: the later claimant stops and is not restarted, the first keeps running', async () => {
  const a = await start('a@local', [], { settleMs: 50 });
  const b = await start('b@local', [], { settleMs: 50 });
  const log: string[] = [];
  const sa = a.singleton('S', () => {
    log.push('a start');
    return () => log.push('a stop');
  });
  await waitFor(() => sa.state === 'running', 2000);
  const sb = b.singleton('S', () => {
    log.push('b start');
    return () => log.push('b stop');
  });
  await waitFor(() => sb.state === 'running', 2000);
  // Join the two singleton holders: b learns of a's earlier claim.
  const bridge = await start('c@local', [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
  await waitFor(() => sb.state === 'lost', 3000);
  assert.equal(sa.state, 'running');
  assert.deepEqual(log, ['a start', 'b start', 'b stop']);
  await waitFor(() => [a, b, bridge].every((n) => n.whereis('S') === 'a@local'), 2000);
});

test('a message or reply that is not plain data fails for its sender only; the connection stays up', async () => {
  const [a, b] = await cluster(2);
  await a!.register('clock', (msg) => (msg === 'date' ? new Date() : { ok: msg }));
  await waitFor(() => b!.whereis('clock') === 'n1@local', 2000);
  let downs = 0;
  b!.on('nodedown', () => downs++);
  assert.throws(() => b!.send('clock', { at: new Date() }), (e: unknown) => isClusterError(e, 'ERR_BAD_MESSAGE'));
  await assert.rejects(b!.call('clock', new Map([[{}, 1]])), (e: unknown) => isClusterError(e, 'ERR_BAD_MESSAGE'));
  await assert.rejects(b!.call('clock', 'x'.repeat(2 * 1024 * 1024)), (e: unknown) => isClusterError(e, 'ERR_FRAME_TOO_LARGE'));
  await assert.rejects(b!.call('clock', 'date', { timeoutMs: 2000 }), (e: unknown) => isClusterError(e, 'ERR_CALL_FAILED') && /cannot be sent/.test((e as Error).message));
  assert.deepEqual(await b!.call('clock', 7), { ok: 7 });
  assert.equal(downs, 0);
  assert.deepEqual(b!.members(), ['n1@local']);
});
