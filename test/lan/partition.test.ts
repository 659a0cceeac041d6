// Partition and heal: unplugging a host's link makes the others drop its node within
// the failure timeout (3 s by default; asserted within 6 s) and it drops them; when
// the link comes back, everyone reconnects on their own (asserted within 15 s).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { lanSkipReason, othersOf, useLan } from '../helpers/lan-fixture.js';
import type { CliNode } from '../helpers/cli-process.js';

const skip = await lanSkipReason();
const FORMATION_TIMEOUT_MS = 8000;
/** Default failure timeout (3 s) + one Printer tick (1 s) + slack. */
const DROP_TIMEOUT_MS = 6000;
/** Reconnect backoff is capped at ~4 s; with discovery and a Printer tick, 15 s is ample. */
const HEAL_TIMEOUT_MS = 15_000;

test('a host whose link goes down is dropped by the others and rejoins when it comes back', { skip, timeout: 90_000 }, async (t) => {
  const f = await useLan(t, 3);
  const nodes = await f.startAll();
  const [n1, n2, n3] = nodes as [CliNode, CliNode, CliNode];
  await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(nodes, n), FORMATION_TIMEOUT_MS)));

  const downAt = performance.now();
  await f.lan.linkDown(3);
  const [l1, l2, l3] = await Promise.all([
    n1.waitForExactMembers([n2.name], DROP_TIMEOUT_MS, { since: downAt }),
    n2.waitForExactMembers([n1.name], DROP_TIMEOUT_MS, { since: downAt }),
    n3.waitForExactMembers([], DROP_TIMEOUT_MS, { since: downAt }),
  ]);
  t.diagnostic(`dropped after ${[l1, l2, l3].map((l) => Math.round(l.at - downAt)).join(' / ')} ms (n1 / n2 / n3)`);
  for (const n of [n1, n2]) {
    assert.ok(
      n.logs.some((l) => l.at >= downAt && l.message === 'nodedown' && l.fields.peer === n3.name),
      `${n.name} must log nodedown for ${n3.name}\n${n.tail()}`,
    );
  }
  // The two that can still talk keep each other throughout.
  for (const [n, other] of [[n1, n2], [n2, n1]] as const) {
    const lost = n.memberLines.find((l) => l.at >= downAt && !l.members.includes(other.name));
    assert.equal(lost, undefined, `${n.name} must keep ${other.name} while only h3 is cut off`);
  }

  const upAt = performance.now();
  await f.lan.linkUp(3);
  const healed = await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(nodes, n), HEAL_TIMEOUT_MS, { since: upAt })));
  t.diagnostic(`healed after ${healed.map((l) => Math.round(l.at - upAt)).join(' / ')} ms (n1 / n2 / n3)`);
  for (const n of nodes) assert.equal(n.exit, undefined, `${n.name} must survive the partition`);
});
