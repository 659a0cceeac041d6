// Cluster labels: two clusters share one LAN and one cookie, told apart only by their
// public --cluster label. Nodes of label blue list each other and never a node of
// label red, and the other way round; a blue node logs (debug) that it saw and ignored
// the red instances, so the separation is mDNS's doing, not a lost packet. With the
// same cookie a dial would succeed, so a leak would show as a member in the lists.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();
const FORMATION_TIMEOUT_MS = 8000;
/** How many Printer ticks (~1 s each) every node must print while we watch. */
const WATCH_TICKS = 5;

test('nodes with another --cluster label are ignored, even with the same cookie', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 4);
  const [b1, b2, r3, r4] = [
    f.start(1, { args: ['--cluster', 'blue'], logLevel: 'debug' }),
    f.start(2, { args: ['--cluster', 'blue'] }),
    f.start(3, { args: ['--cluster', 'red'] }),
    f.start(4, { args: ['--cluster', 'red'] }),
  ];
  const all = [b1, b2, r3, r4];
  await Promise.all(all.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  await Promise.all([
    b1.waitForExactMembers([b2.name], FORMATION_TIMEOUT_MS),
    b2.waitForExactMembers([b1.name], FORMATION_TIMEOUT_MS),
    r3.waitForExactMembers([r4.name], FORMATION_TIMEOUT_MS),
    r4.waitForExactMembers([r3.name], FORMATION_TIMEOUT_MS),
  ]);
  const ignored = (host: string) =>
    b1.waitForLog(
      (l) => l.message === 'mDNS: ignored an instance of another cluster or version' && l.fields.reason === 'cluster' && String(l.fields.instance).includes(`@${host}-`),
      FORMATION_TIMEOUT_MS,
    );
  await Promise.all([ignored('h3'), ignored('h4')]);

  const watchFrom = performance.now();
  await Promise.all(
    all.map((n) =>
      n.waitUntil(
        () => (n.memberLines.filter((l) => l.at >= watchFrom).length >= WATCH_TICKS ? true : undefined),
        (WATCH_TICKS + 4) * 1000,
        `${WATCH_TICKS} member lists`,
      ),
    ),
  );
  const blue = new Set([b1.name, b2.name]);
  for (const n of all) {
    const mine = blue.has(n.name);
    const leak = n.memberLines.find((l) => l.members.some((m) => blue.has(m) !== mine));
    assert.equal(leak, undefined, `${n.name} (${mine ? 'blue' : 'red'}) listed a node of the other cluster: [${leak?.members.join(', ')}]\n${n.tail()}`);
    assert.equal(n.exit, undefined, `${n.name} must keep running`);
  }
});
