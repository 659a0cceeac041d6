// A node booted while its host had no carrier (Node lists no interface without one)
// must start mDNS when the cable is plugged in, meet the others, and settle the
// Singleton: the earlier claimant keeps it, the other stops.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();
const ROAR = 'I am singleton, hear me roar';

test('a node started with its link down joins once the link comes up', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 2);
  await f.lan.linkDown(2);
  const n1 = f.start(1);
  await n1.waitReady(READY_TIMEOUT_MS);
  await n1.waitForLine((l) => l === ROAR, 8000);
  const n2 = f.start(2);
  await n2.waitReady(READY_TIMEOUT_MS);
  await n2.waitForLine((l) => l === ROAR, 8000);
  const upAt = performance.now();
  await f.lan.linkUp(2);
  const met = await n2.waitForLog((l) => l.message === 'nodeup' && l.fields.peer === n1.name, 12_000, { since: upAt });
  t.diagnostic(`met ${Math.round(met.at - upAt)} ms after the link came up`);
  const lost = await n2.waitForLog((l) => l.message.startsWith('Singleton lost to node1@h1'), 3000, { since: upAt });
  await new Promise((r) => setTimeout(r, 3000));
  const after = lost.at + 500;
  assert.deepEqual(n2.stdoutLines.filter((l) => l.at > after && l.text === ROAR).map((l) => l.text), [], 'the later claimant stopped');
  assert.ok(n1.stdoutLines.filter((l) => l.at > after && l.text === ROAR).length >= 2, 'the first claimant kept roaring');
});
