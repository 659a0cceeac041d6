// Memory under churn, as sizes: two long-lived nodes and a third that comes back again
// and again (a new incarnation each time), registering a name and standing for a failover
// Singleton with a quorum, then dying — crashed on odd rounds, stopped gracefully on even
// ones. Every structure of the long-lived nodes that is kept per peer or per incarnation
// must be back to what one live peer costs, however many incarnations have come and gone
// (issue 10: RSS of long-lived nodes in the soak).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeCluster } from '../helpers/node-sim.js';
import { footprint } from '../helpers/footprint.js';
import type { Footprint } from '../helpers/footprint.js';
import { MAX_IDENTITIES_PER_NAME } from '../../src/mesh/identities.js';

const ROUNDS = 3 * MAX_IDENTITIES_PER_NAME;

test(`a long-lived node's per-peer structures stay bounded while a peer restarts ${ROUNDS} times`, async () => {
  const c = await NodeCluster.start(3, 41);
  try {
    await c.run(1000);
    for (const i of [0, 1]) c.nodes[i]!.node.singleton('Singleton', () => () => {}, { failover: true, quorum: 2, settleMs: 100 });
    await c.run(1000);
    const before: Footprint[] = [0, 1].map((i) => footprint(c.nodes[i]!.node));
    for (let round = 1; round <= ROUNDS; round++) {
      const n3 = c.nodes[2]!;
      if (round > 1) await c.restart(2);
      await c.run(800);
      assert.deepEqual(c.nodes[0]!.node.members(), ['n2@sim', 'n3@sim'], `round ${round}: n3 joined`);
      const reg = n3.node.register('job');
      await c.run(600);
      assert.equal((await reg).won, true, `round ${round}: n3 registered job`);
      n3.node.singleton('Singleton', () => () => {}, { failover: true, quorum: 2, settleMs: 100 });
      await c.run(600);
      if (round % 2 === 1) c.crash(2);
      else {
        await Promise.all([n3.node.stop(), c.run(300)]);
        c.crash(2);
      }
      await c.run(2000);
      assert.deepEqual(c.nodes[0]!.node.members(), ['n2@sim'], `round ${round}: n3 went down`);
      assert.equal(c.nodes[0]!.node.whereis('job'), undefined, `round ${round}: job freed`);
    }
    await c.restart(2);
    await c.run(1500);
    for (const i of [0, 1]) {
      const f = footprint(c.nodes[i]!.node);
      const b = before[i]!;
      const who = `${c.nodes[i]!.name} after ${ROUNDS} incarnations of n3: ${JSON.stringify(f)}`;
      for (const v of Object.values(f)) assert.ok(v >= 0, `a structure went missing: ${who}`);
      // n3's incarnations: at most the most recent few are remembered, not one per restart.
      assert.equal(f.identityNames, 2, who);
      assert.ok(f.identities <= 1 + MAX_IDENTITIES_PER_NAME, who);
      // At most one incarnation per member (and this node) in the registry, and what churn left is collected.
      assert.ok(f.registryOwners <= 3, who);
      assert.equal(f.tombstones, 0, who);
      assert.equal(f.peers, 2, who);
      assert.equal(f.candidates, b.candidates, who);
      assert.equal(f.linkSerials, 2, who);
      assert.ok(f.epochNames <= 1, who);
    }
  } finally {
    await c.stop();
  }
});
