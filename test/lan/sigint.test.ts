// Clean stop: SIGINT (and SIGTERM) make a node exit 0, and the others drop it at once
// (goodbye or closed connection) rather than after the failure timeout. The failure
// timeout is raised to 10 s here so that only a prompt goodbye can pass.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { lanSkipReason, othersOf, useLan } from '../helpers/lan-fixture.js';
import type { CliNode } from '../helpers/cli-process.js';

const skip = await lanSkipReason();
const FORMATION_TIMEOUT_MS = 8000;
const EXIT_TIMEOUT_MS = 5000;
/** Far above the drop deadlines below, so the failure detector cannot explain a drop. */
const FAILURE_TIMEOUT_MS = 10_000;
/** A nodedown log must follow the signal within this. */
const NODEDOWN_WITHIN_MS = 1500;
/** A printed list without the node must follow within this (one Printer tick later at most). */
const LIST_WITHIN_MS = 2500;

async function stopAndCheck(t: { diagnostic(m: string): void }, leaving: CliNode, staying: CliNode[], signal: NodeJS.Signals) {
  const sentAt = performance.now();
  leaving.kill(signal);
  const exit = await leaving.waitExit(EXIT_TIMEOUT_MS);
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `${signal} must end with exit code 0\n${leaving.tail()}`);
  for (const n of staying) {
    const down = await n.waitForLog((l) => l.message === 'nodedown' && l.fields.peer === leaving.name, LIST_WITHIN_MS, { since: sentAt });
    const expected = othersOf(staying, n);
    const list = await n.waitForExactMembers(expected, LIST_WITHIN_MS, { since: sentAt });
    t.diagnostic(`${signal}: ${n.name} logged nodedown after ${Math.round(down.at - sentAt)} ms, printed it after ${Math.round(list.at - sentAt)} ms`);
    assert.ok(down.at - sentAt <= NODEDOWN_WITHIN_MS, `${n.name}: nodedown ${Math.round(down.at - sentAt)} ms after ${signal}`);
  }
}

test('SIGINT and SIGTERM exit 0 and the others drop the node promptly', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 3);
  const nodes = await f.startAll({ args: ['--failure-timeout', String(FAILURE_TIMEOUT_MS)] });
  const [n1, n2, n3] = nodes as [CliNode, CliNode, CliNode];
  await Promise.all(nodes.map((n) => n.waitForExactMembers(othersOf(nodes, n), FORMATION_TIMEOUT_MS)));

  await stopAndCheck(t, n3, [n1, n2], 'SIGINT');
  await stopAndCheck(t, n2, [n1], 'SIGTERM');
});
