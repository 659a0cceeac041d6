// Three CLI processes with --failover on three hosts of the virtual LAN claim the
// Singleton in the same instant: once meshed, all three are frozen (SIGSTOP) across
// the end of their settle window and released together (SIGCONT), so their settle
// timers fire at once and each stands as a candidate and checks for a free name at
// the same moment. Confirmed claims resolve them to one: exactly one tenure (epoch 1),
// and the other two never roar.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { READY_TIMEOUT_MS, lanSkipReason, othersOf, useLan } from '../helpers/lan-fixture.js';
import type { CliNode } from '../helpers/cli-process.js';

const skip = await lanSkipReason();
const ROAR = 'I am singleton, hear me roar';
/** Long enough for three nodes to mesh over mDNS on a busy machine before anyone claims. */
const SETTLE_MS = 8000;
const FORMATION_TIMEOUT_MS = 7000;
/** After the release: settle fires, registry sync, candidacy round, then the claim round. */
const TENURE_TIMEOUT_MS = 10_000;
/** How long the other two are watched for a roar or a tenure of their own. */
const WATCH_MS = 5000;

const tenureLines = (n: CliNode): string[] => n.stdoutLines.map((l) => l.text).filter((t) => t.startsWith('Singleton tenure started on '));

const sleepUntil = (at: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));

test('three nodes released at the same instant with --failover: one tenure, epoch 1, the others never roar', { skip, timeout: 90_000 }, async (t) => {
  const f = await useLan(t, 3);
  const nodes = f.lan.hosts.map((h) => f.start(h, { args: ['--failover', '--settle', String(SETTLE_MS)] }));
  const ready = await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(nodes, n), FORMATION_TIMEOUT_MS)));
  const readyAt = ready.map((l) => l.at);
  // Freeze everyone before the first settle window ends, release everyone after the last.
  const stopAt = Math.min(...readyAt) + SETTLE_MS - 1000;
  const contAt = Math.max(...readyAt) + SETTLE_MS + 300;
  assert.ok(performance.now() < stopAt, `the mesh took too long to form (${Math.round(performance.now() - Math.min(...readyAt))} ms after the first ready); raise SETTLE_MS`);
  await sleepUntil(stopAt);
  for (const n of nodes) n.kill('SIGSTOP');
  try {
    await sleepUntil(contAt);
  } finally {
    for (const n of nodes) n.kill('SIGCONT');
  }
  const released = performance.now();
  t.diagnostic(`frozen for ${Math.round(released - stopAt)} ms across the settle deadlines (ready spread ${Math.round(Math.max(...readyAt) - Math.min(...readyAt))} ms)`);
  const first = await Promise.any(nodes.map((n) => n.waitForLine((l) => l.startsWith('Singleton tenure started on '), TENURE_TIMEOUT_MS).then(() => n)));
  t.diagnostic(`${first.name} started a tenure ${Math.round(performance.now() - released)} ms after the release`);
  const others = nodes.filter((n) => n !== first);
  const watchFrom = performance.now();
  await Promise.all(
    others.map(async (n) => {
      const roar = await n.waitForLine((l) => l === ROAR || l.startsWith('Singleton tenure started on '), WATCH_MS, { since: 0 }).catch(() => undefined);
      assert.equal(roar, undefined, `${n.name} also started: ${roar?.text}\n${n.tail()}`);
      assert.equal(n.exit, undefined, `${n.name} exited, so its silence proves nothing`);
    }),
  );
  assert.ok(performance.now() - watchFrom >= WATCH_MS - 50);
  assert.deepEqual(tenureLines(first), [`Singleton tenure started on ${first.name}, epoch 1`]);
  for (const n of others) assert.deepEqual(tenureLines(n), []);
  assert.ok(first.stdoutLines.some((l) => l.text === ROAR), `${first.name} roars`);
});
