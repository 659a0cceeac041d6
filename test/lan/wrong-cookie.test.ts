// Wrong cookie: a node with a different cookie on the same LAN never appears in
// anyone's list and its own lists stay []. It runs mDNS like the others with the same
// (default) cluster label, which is public and no secret, so mDNS cannot tell it
// apart and the others may dial it too; it also names node1 as a --seed, so it really
// dials in. Its handshakes are refused (someone logs "authentication failed"), rather
// than it merely never meeting anyone, and both sides say so, naming each other; the
// intruder also says why it is alone. (Other labels are in cluster-label.test.ts.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();
const FORMATION_TIMEOUT_MS = 8000;
/** How many Printer ticks (~1 s each) every node must print while we watch. */
const WATCH_TICKS = 6;

test('a node with the wrong cookie never joins', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 3);
  const n1 = f.start(1, { cookie: 'right-cookie' });
  const n2 = f.start(2, { cookie: 'right-cookie' });
  const n1Ready = await n1.waitReady(READY_TIMEOUT_MS);
  const seed = `${n1.host.address}:${String(n1Ready.fields.port)}`;
  const intruder = f.start(3, { cookie: 'wrong-cookie', args: ['--seed', seed] });
  const all = [n1, n2, intruder];
  await Promise.all(all.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  await Promise.all([
    n1.waitForExactMembers([n2.name], FORMATION_TIMEOUT_MS),
    n2.waitForExactMembers([n1.name], FORMATION_TIMEOUT_MS),
  ]);

  // Watch for several ticks: every node keeps printing, and someone reports the failed handshake.
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
  const authFailures = all.flatMap((n) => n.logs.filter((l) => l.message.startsWith('authentication failed with ')));
  assert.ok(
    authFailures.length > 0,
    `the intruder dialled ${seed}: someone must log authentication failed (else this test proves nothing)\n${all.map((n) => n.tail()).join('\n')}`,
  );
  assert.ok(
    authFailures.every((l) => typeof l.fields.addr === 'string' && l.fields.addr !== ''),
    'authentication failed carries the remote addr',
  );
  // Both sides say why, naming each other: the member that refused the intruder, and the intruder.
  const said = (n: typeof n1, peer: typeof n1): boolean =>
    n.logs.some((l) => l.level === 'warn' && l.message === `authentication failed with ${peer.name} (${peer.host.address}): different cookie?`);
  assert.ok(said(n1, intruder), `node1 names the intruder:\n${n1.tail()}`);
  assert.ok(said(intruder, n1), `the intruder names node1:\n${intruder.tail()}`);
  assert.ok(
    intruder.logs.some((l) => l.level === 'info' && /^alone: \d+ nodes? on the network failed authentication \(different cookie\?\)/.test(l.message)),
    `the intruder says why it is alone:\n${intruder.tail()}`,
  );

  for (const n of [n1, n2]) {
    const leaked = n.memberLines.find((l) => l.members.includes(intruder.name));
    assert.equal(leaked, undefined, `${n.name} listed the intruder: [${leaked?.members.join(', ')}]`);
    assert.ok(!n.logs.some((l) => l.message === 'nodeup' && l.fields.peer === intruder.name), `${n.name} logged nodeup for the intruder`);
  }
  const notEmpty = intruder.memberLines.find((l) => l.members.length > 0);
  assert.equal(notEmpty, undefined, `the intruder listed [${notEmpty?.members.join(', ')}]`);
  assert.ok(intruder.memberLines.length >= WATCH_TICKS, 'the intruder keeps running and printing []');
  for (const n of all) assert.equal(n.exit, undefined, `${n.name} must keep running`);
});
