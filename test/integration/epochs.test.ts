// Red team with the cookie: a member we control (a library node) sends raw registry
// messages — the huge-epoch poison, and later an epoch flood — to the others over real
// TCP on 127.0.0.1. The Singleton stays single with a sane epoch, and no connection flaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode } from '../../src/index.js';
import { REGISTRY_CHANNEL } from '../../src/registry/messages.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import { waitFor } from '../helpers/wait.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { startLocalCli } from '../helpers/local-cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const libNodes: ClusterNode[] = [];
const cliNodes: CliNode[] = [];

test.afterEach(async () => {
  await Promise.all(libNodes.splice(0).map((n) => n.stop()));
  await Promise.all(cliNodes.splice(0).map((n) => n.stop(1000).catch(() => undefined)));
});

/** Send a raw registry message from node to member, as a member with the cookie could. */
function sendRaw(node: ClusterNode, to: string, msg: RegistryMessage | Record<string, unknown>): void {
  const mesh = (node as unknown as { mesh: { send(to: string, channel: string, body: unknown): boolean } }).mesh;
  assert.equal(mesh.send(to, REGISTRY_CHANNEL, msg), true, `sent to ${to}`);
}

async function cluster(names: string[], cookie: string): Promise<{ nodes: ClusterNode[]; downs: string[] }> {
  const nodes: ClusterNode[] = [];
  const downs: string[] = [];
  for (const name of names) {
    const seeds = nodes.length ? [`127.0.0.1:${nodes[0]!.port}`] : [];
    const n = createNode({ name, cookie, host: '127.0.0.1', mdns: false, seeds, ...testConfig() });
    libNodes.push(n);
    n.on('nodedown', (m, reason) => downs.push(`${name} saw ${m.name} down: ${reason}`));
    await n.start();
    nodes.push(n);
  }
  await waitFor(() => nodes.every((n) => n.members().length === names.length - 1), 5000);
  return { nodes, downs };
}

test('the huge-epoch poison: after the holder goes, exactly one survivor starts, with a sane epoch, and nobody disconnects', async () => {
  const { nodes, downs } = await cluster(['a@local', 'b@local', 'c@local', 'm@local'], 'poison');
  const [a, b, c, m] = nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode];
  const tenures: { node: string; epoch: number; at: number }[] = [];
  const running = new Set<string>();
  let overlap = 0;
  for (const n of [a, b, c]) {
    n.singleton('Singleton', (ctx) => {
      if (running.size > 0) overlap++;
      running.add(ctx.node);
      tenures.push({ node: ctx.node, epoch: ctx.epoch, at: performance.now() });
      return () => void running.delete(ctx.node);
    }, { failover: true, settleMs: 100 });
    await new Promise((r) => setTimeout(r, 120));
  }
  await waitFor(() => tenures.length === 1, 5000);
  assert.deepEqual(tenures.map((t) => [t.node, t.epoch]), [['a@local', 1]]);
  for (const to of ['a@local', 'b@local', 'c@local']) {
    sendRaw(m, to, { k: 'epochs', e: [['Singleton', 2 ** 53 - 1]] });
    sendRaw(m, to, { k: 'epochs', e: [['Singleton', 2 ** 53]] });
    sendRaw(m, to, { k: 'qreq', id: 1, name: 'Singleton', epoch: 2 ** 53 - 1 });
  }
  // The poison arrived and was judged (each node logs nothing we can read here, but the
  // epoch it would adopt is visible through a supervisor's next tenure).
  await new Promise((r) => setTimeout(r, 300));
  const aStopped = a.stop();
  libNodes.splice(libNodes.indexOf(a), 1);
  await aStopped;
  await waitFor(() => tenures.length >= 2, 5000, () => JSON.stringify(tenures));
  // Let any second claimant show itself.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(tenures.length, 2, JSON.stringify(tenures));
  assert.equal(tenures[1]!.node, 'b@local');
  assert.equal(tenures[1]!.epoch, 2);
  assert.equal(overlap, 0);
  assert.deepEqual(downs.filter((d) => !d.includes('a@local')), [], 'no connection among b, c and m went down');
  assert.deepEqual([b, c, m].map((n) => n.members().length), [2, 2, 2]);
});

test('--state-dir on a path that cannot be written: a clear error naming the path, and no tenure', { skip: cliMissingReason() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cn-state-'));
  const notADir = join(dir, 'plain-file');
  writeFileSync(notADir, 'x');
  const n = startLocalCli('solo@local', ['--failover', '--settle', '200', '--state-dir', notADir]);
  cliNodes.push(n);
  await n.waitReady(10_000);
  const err = await n.waitForLog((l) => l.level === 'error' && l.message.startsWith('cannot save fencing epochs in '), 5000);
  assert.ok(err.message.includes(notADir), err.message);
  assert.match(err.message, /EEXIST|ENOTDIR/);
  await n.waitForLog((l) => l.level === 'error' && /^Singleton: epoch 1 could not be saved; staying a standby/.test(l.message), 5000);
  // Well past the settle window and many retries of the standby loop: still no roar.
  await new Promise((r) => setTimeout(r, 2000));
  assert.deepEqual(n.stdoutLines.filter((l) => l.text.startsWith('I am singleton')), [], n.tail(20));
  const errors = n.logs.filter((l) => l.level === 'error');
  assert.ok(errors.length <= 3, `errors are not repeated on every retry:\n${errors.map((l) => l.message).join('\n')}`);
});
