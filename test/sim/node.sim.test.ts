// Whole nodes — mesh, handshake, heartbeats, registry and Singleton supervisors — in one
// process over the in-memory network, driven by a ManualClock and seeded randomness:
// the shell is thin enough that a cluster runs without sockets or real time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, ManualClock, MemoryNetwork, seededRandom, staticDiscovery, testConfig } from '../../src/index.js';
import type { ClusterNode } from '../../src/index.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Advance simulated time in small steps, letting in-memory I/O settle between them. */
async function run(clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

async function cluster(n: number, seed: number): Promise<{ clock: ManualClock; nodes: ClusterNode[] }> {
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= n; i++) {
    const host = `10.0.0.${i}`;
    // Everyone knows node 1 (port 20000, the first the memory network hands out).
    const node = createNode({
      name: `n${i}@sim`,
      cookie: 'sim',
      host,
      network: net.host(host),
      discovery: i === 1 ? [] : [staticDiscovery([{ host: '10.0.0.1', port: 20000 }])],
      clock,
      random: seededRandom(seed * 100 + i),
      ...testConfig(),
    });
    await node.start();
    nodes.push(node);
  }
  return { clock, nodes };
}

test('a simulated cluster forms a full mesh and agrees on a registered name', async () => {
  const { clock, nodes } = await cluster(4, 1);
  try {
    await run(clock, 1000);
    for (const n of nodes) assert.equal(n.members().length, 3, `${n.name}: ${n.members().join(', ')}`);
    const r = await Promise.all([nodes[2]!.register('job'), run(clock, 600)]).then(([x]) => x);
    assert.equal(r.won, true);
    await run(clock, 200);
    for (const n of nodes) assert.equal(n.whereis('job'), 'n3@sim');
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('simulated failover: stopping the holder hands the Singleton to the longest-lived candidate with the next epoch', async () => {
  const { clock, nodes } = await cluster(3, 2);
  const tenures: string[] = [];
  try {
    await run(clock, 1000);
    for (const n of nodes) {
      n.singleton('S', (ctx) => void tenures.push(`${ctx.node}#${ctx.epoch}`), { failover: true, settleMs: 100 });
      await run(clock, 300);
    }
    await run(clock, 1000);
    assert.deepEqual(tenures, ['n1@sim#1']);
    await Promise.all([nodes[0]!.stop(), run(clock, 1000)]);
    assert.deepEqual(tenures, ['n1@sim#1', 'n2@sim#2']);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
