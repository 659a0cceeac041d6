// Two live nodes with the same name, found through mDNS with no third node to notice:
// the newcomer is refused, told why, and exits 1; the first keeps running.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();

test('a second node with a live node\'s name is refused and exits 1', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 2);
  const first = f.start(1, { name: 'alice@h' });
  await first.waitReady(READY_TIMEOUT_MS);
  await first.waitForLine(() => true, 5000);
  const twin = f.start(2, { name: 'alice@h' });
  const exit = await twin.waitExit(15_000);
  assert.equal(exit.code, 1);
  assert.match(twin.stderrRaw.map((l) => l.text).join('\n'), /the name alice@h is already in use by a live node/);
  const since = performance.now();
  await first.waitForLine(() => true, 3000, { since });
  assert.equal(first.exit, undefined, 'the first alice keeps running');
});
