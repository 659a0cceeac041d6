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

async function cluster(n: number, seed: number): Promise<{ clock: ManualClock; net: MemoryNetwork; nodes: ClusterNode[] }> {
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
  return { clock, net, nodes };
}

/** Once the mesh has formed, a failover Singleton 'S' on each node in turn (n1 the longest-lived candidate); tenures record node#epoch. */
async function startSingletons(clock: ManualClock, nodes: ClusterNode[], tenures: string[]): Promise<void> {
  await run(clock, 1000);
  for (const n of nodes) {
    n.singleton('S', (ctx) => void tenures.push(`${ctx.node}#${ctx.epoch}`), { failover: true, settleMs: 100 });
    await run(clock, 300);
  }
  await run(clock, 1000);
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
    await startSingletons(clock, nodes, tenures);
    assert.deepEqual(tenures, ['n1@sim#1']);
    await Promise.all([nodes[0]!.stop(), run(clock, 1000)]);
    assert.deepEqual(tenures, ['n1@sim#1', 'n2@sim#2']);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a node whose heartbeats stop getting through is told it was declared down, and does not take the Singleton back', async () => {
  const { clock, net, nodes } = await cluster(3, 3);
  const tenures: string[] = [];
  const downs: string[] = [];
  try {
    await startSingletons(clock, nodes, tenures);
    assert.deepEqual(tenures, ['n1@sim#1']);
    nodes[0]!.on('nodedown', (m, reason) => void downs.push(`${m.name}: ${reason}`));
    // n1's bytes stop reaching the others (a jammed link, one way); theirs still reach it.
    net.mute('10.0.0.1', '10.0.0.2');
    net.mute('10.0.0.1', '10.0.0.3');
    await run(clock, 2000);
    assert.deepEqual(downs.sort(), ['n2@sim: it declared this node down', 'n3@sim: it declared this node down']);
    assert.deepEqual(tenures, ['n1@sim#1', 'n2@sim#2']);
    net.mute('10.0.0.1', '10.0.0.2', false);
    net.mute('10.0.0.1', '10.0.0.3', false);
    await run(clock, 5000);
    for (const n of nodes) assert.equal(n.members().length, 2, `${n.name}: ${n.members().join(', ')}`);
    for (const n of nodes) assert.equal(n.whereis('S'), 'n2@sim', n.name);
    assert.deepEqual(tenures, ['n1@sim#1', 'n2@sim#2'], 'n1 stopped when it met the later tenure, and never started another');
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
