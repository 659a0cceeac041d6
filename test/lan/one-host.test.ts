// One host, several nodes: three CLI processes in one namespace find each other over
// mDNS (multicast loopback on the shared eth0) and each prints the other two, sorted.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { READY_TIMEOUT_MS, lanSkipReason, othersOf, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();
/** From the last `node ready` to every list complete: mDNS + handshake + one Printer tick, with slack. */
const FORMATION_TIMEOUT_MS = 8000;

test('three nodes on one host all list each other', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 1);
  const nodes = ['alice', 'bob', 'carol'].map((n) => f.start(1, { name: `${n}@h1` }));
  const ready = await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));

  for (const [i, r] of ready.entries()) {
    assert.equal(r.fields.node, nodes[i]!.name, 'node ready carries the full node name');
    assert.equal(typeof r.fields.port, 'number');
    assert.ok((r.fields.port as number) > 0, 'node ready carries the real TCP listen port, not 0');
    assert.ok(r.fields.address !== undefined, 'node ready carries the listen address');
  }
  const ports = ready.map((r) => r.fields.port);
  assert.equal(new Set(ports).size, 3, 'nodes on one host listen on distinct ports');

  const lines = await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(nodes, n), FORMATION_TIMEOUT_MS)));
  for (const [i, line] of lines.entries()) {
    assert.deepEqual(line.members, othersOf(nodes, nodes[i]!), 'the printed list is sorted');
  }
  for (const n of nodes) {
    assert.ok(
      n.stdoutLines.every((l) => !l.text.startsWith('{')),
      `${n.name}: logs must go to stderr, never stdout`,
    );
  }
});
