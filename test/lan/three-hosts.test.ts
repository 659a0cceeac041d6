// Three hosts, one node each: nodes on different hosts of the LAN discover each other
// over mDNS, connect over TCP and each prints the other two; each logs nodeup once per
// peer, and (nobody having failed) no nodedown: the race of two nodes dialling each
// other at once must be resolved without a user-visible nodedown.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lanSkipReason, othersOf, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();
/** From the last `node ready` to every list complete, with slack for a 2-core machine. */
const FORMATION_TIMEOUT_MS = 8000;

test('three hosts with one node each all list each other', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 3);
  const nodes = await f.startAll();
  await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(nodes, n), FORMATION_TIMEOUT_MS)));
  for (const n of nodes) {
    for (const peer of othersOf(nodes, n)) {
      assert.ok(
        n.logs.some((l) => l.message === 'nodeup' && l.fields.peer === peer),
        `${n.name} must log nodeup with peer ${peer}\n${n.tail()}`,
      );
    }
    const events = n.logs.filter((l) => l.message === 'nodeup' || l.message === 'nodedown');
    const downs = events.filter((l) => l.message === 'nodedown');
    assert.deepEqual(
      downs.map((l) => l.fields),
      [],
      `${n.name}: nobody went down, yet it logged nodedown; its nodeup/nodedown sequence was:\n` +
        events.map((l) => `${l.message} ${String(l.fields.peer)} ${String(l.fields.reason ?? '')}`).join('\n'),
    );
  }
});
