// Singleton on the virtual LAN, default mode (restart: temporary), seen the way a user
// sees it: the roar on stdout and the supervisor's log lines on stderr.
// - The seed walk-through across hosts: the first node roars alone; a node started
//   while the name is held never roars and says who holds it; when the holder is
//   stopped with SIGINT nobody takes over.
// - Split brain healed: two hosts that booted while they could not see each other both
//   roar; once they connect, the later claimant stops within a second or two and never
//   roars again, while the first claimant roars on without a gap.
// - A node joining an existing cluster never roars.
// "Never roars" is checked over the node's whole stdout and over a live window of
// several seconds (a roaring Singleton prints every second, so the windows can fail).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';
import type { CliNode, LogLine, StdoutLine } from '../helpers/cli-process.js';

const skip = await lanSkipReason();
/** The line the demo Singleton prints every second while its node holds the name. */
const ROAR = 'I am singleton, hear me roar';
/** From `node ready` (or a link coming up) to both nodes listing each other. */
const FORMATION_TIMEOUT_MS = 8000;
/** Settle (2 s) + registry sync wait (up to 2 s) + first roar, with slack for a busy 2-core machine. */
const CLAIM_TIMEOUT_MS = 8000;
/** The longest silence allowed between two roars of a node that holds the name (interval 1 s). */
const MAX_ROAR_GAP_MS = 1500;
/** After a link comes up: mDNS query backoff (next query within a few s) + dial + handshake. */
const MEET_TIMEOUT_MS = 15_000;
/** From meeting (nodeup) to the later claimant's last roar: "within a second or two", with slack. */
const STOP_WITHIN_MS = 3000;
/** A roar arriving this long after the "lost" log cannot be explained by pipe ordering: the timer kept running. */
const ROAR_AFTER_LOST_SLACK_MS = 500;
/** How long a node that must stay silent is watched. */
const QUIET_WATCH_MS = 5000;

const isRoar = (line: string): boolean => line === ROAR;
const roarsOf = (n: CliNode): StdoutLine[] => n.stdoutLines.filter((l) => isRoar(l.text));
const ms = (x: number): number => Math.round(x);

/** The longest silence between from, each roar in [from, to], and to. */
function maxRoarGap(n: CliNode, from: number, to: number): number {
  const times = [from, ...roarsOf(n).filter((l) => l.at > from && l.at < to).map((l) => l.at), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
}

/** Watch n for windowMs: it must print no roar at or after `since`, and still be running at the end. */
async function assertNoRoarFor(n: CliNode, windowMs: number, since: number, why: string): Promise<void> {
  const roar = await n.waitForLine(isRoar, windowMs, { since }).catch(() => undefined);
  assert.equal(roar, undefined, `${n.name} roared ${roar ? ms(roar.at - since) : 0} ms into the watch: ${why}\n${n.tail()}`);
  assert.equal(n.exit, undefined, `${n.name} exited during the watch, so its silence proves nothing\n${n.tail()}`);
}

/** Wait until performance.now() >= at, re-checked on n's output (a running CLI prints every second). */
function waitUntilTime(n: CliNode, at: number, what: string): Promise<true> {
  return n.waitUntil(() => (performance.now() >= at ? true : undefined), Math.max(0, at - performance.now()) + 3000, what);
}

const heldMessage = (owner: string): string => `Singleton already running on ${owner}; not restarting (restart: temporary)`;
const isStarted = (l: LogLine, n: CliNode): boolean => l.message === `Singleton started on ${n.name}`;
const isLost = (l: LogLine): boolean => l.message.startsWith('Singleton lost to ');

test('seed walk-through across hosts: the first node roars, a later one never does, and nobody takes over', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 2);
  const bob = f.start(1, { name: 'bob@h1' });
  await bob.waitReady(READY_TIMEOUT_MS);
  await bob.waitForExactMembers([], FORMATION_TIMEOUT_MS);
  const bobFirstRoar = await bob.waitForLine(isRoar, CLAIM_TIMEOUT_MS);
  await bob.waitForLog((l) => isStarted(l, bob), 2000);

  const aliceAt = performance.now();
  const alice = f.start(2, { name: 'alice@h2' });
  await alice.waitReady(READY_TIMEOUT_MS);
  const [bobSees, aliceSees] = await Promise.all([
    bob.waitForExactMembers([alice.name], FORMATION_TIMEOUT_MS, { since: aliceAt }),
    alice.waitForExactMembers([bob.name], FORMATION_TIMEOUT_MS),
  ]);
  t.diagnostic(`bob listed alice ${ms(bobSees.at - aliceAt)} ms and alice listed bob ${ms(aliceSees.at - aliceAt)} ms after alice was started`);
  const held = await alice.waitForLog((l) => l.message === heldMessage(bob.name), CLAIM_TIMEOUT_MS);
  t.diagnostic(`alice logged "${held.message}" ${ms(held.at - aliceAt)} ms after she was started`);
  // bob roars on after alice decided not to start.
  await bob.waitForLine(isRoar, 2 * MAX_ROAR_GAP_MS, { since: held.at });

  const sigintAt = performance.now();
  bob.kill('SIGINT');
  const bobExit = await bob.waitExit(5000);
  assert.deepEqual({ code: bobExit.code, signal: bobExit.signal }, { code: 0, signal: null }, `SIGINT must end bob with exit code 0\n${bob.tail()}`);
  const gap = maxRoarGap(bob, bobFirstRoar.at, sigintAt);
  t.diagnostic(`bob roared ${roarsOf(bob).length} times, longest silence ${ms(gap)} ms`);
  assert.ok(gap <= MAX_ROAR_GAP_MS, `bob holds the name until SIGINT, yet went ${ms(gap)} ms without a roar\n${bob.tail()}`);
  assert.equal(bob.logs.find(isLost), undefined, `bob is the first claimant and must never lose the name\n${bob.tail()}`);

  const alone = await alice.waitForExactMembers([], 2500, { since: sigintAt });
  t.diagnostic(`alice printed [] ${ms(alone.at - sigintAt)} ms after SIGINT`);
  await assertNoRoarFor(alice, 3000, bobExit.at, 'restart is temporary, so nobody takes over when the holder goes');

  assert.deepEqual(roarsOf(alice), [], `alice started while bob held the name: she must never roar\n${alice.tail()}`);
  assert.ok(alice.stdoutLines.length > 0, 'alice printed member lists (her stdout was read)');
  for (const l of alice.stdoutLines) assert.match(l.text, /^\[.*\]$/, 'alice prints only member lists');
  assert.equal(alice.logs.find((l) => l.message.startsWith('Singleton started')), undefined, `alice must never start the Singleton\n${alice.tail()}`);
});

test('two hosts that booted apart both roar; once connected only the first claimant does', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 2);
  // The first node starts on a connected host, then its cable is pulled; the second starts
  // on the other host only once the first has claimed the name, so the claim order is
  // certain. (Not the other way round: a node started while its own host has no carrier
  // finds no usable interface, and its mDNS stays off even after the link comes up.)
  const first = f.start(1);
  await first.waitReady(READY_TIMEOUT_MS);
  await f.lan.linkDown(1);
  await first.waitForLog((l) => isStarted(l, first), CLAIM_TIMEOUT_MS);
  const later = f.start(2);
  await later.waitReady(READY_TIMEOUT_MS);
  const firstRoar = await first.waitForLine(isRoar, CLAIM_TIMEOUT_MS);
  await later.waitForLog((l) => isStarted(l, later), CLAIM_TIMEOUT_MS);
  await later.waitForLine(isRoar, CLAIM_TIMEOUT_MS);
  for (const n of [first, later]) {
    assert.ok(n.logs.some((l) => l.message === 'mDNS discovery started'), `${n.name} must run mDNS, else it could never meet the other\n${n.tail()}`);
    assert.deepEqual(n.memberLines.map((l) => l.members).filter((m) => m.length > 0), [], `${n.name} must not have met anyone before the link came up`);
  }

  const upAt = performance.now();
  await f.lan.linkUp(1);
  const [upOnFirst, upOnLater] = await Promise.all([
    first.waitForLog((l) => l.message === 'nodeup' && l.fields.peer === later.name, MEET_TIMEOUT_MS, { since: upAt }),
    later.waitForLog((l) => l.message === 'nodeup' && l.fields.peer === first.name, MEET_TIMEOUT_MS, { since: upAt }),
  ]);
  const metAt = Math.min(upOnFirst.at, upOnLater.at);
  const lost = await later.waitForLog(isLost, STOP_WITHIN_MS + 2000, { since: upAt });
  assert.ok(
    lost.message.startsWith(`Singleton lost to ${first.name}, the earlier claimant`),
    `${later.name} must lose to ${first.name}, the earlier claimant: ${lost.message}`,
  );
  // Watch: the later claimant stays silent, the first roars on.
  await assertNoRoarFor(later, QUIET_WATCH_MS, lost.at + ROAR_AFTER_LOST_SLACK_MS, 'it lost the name and restart is temporary');
  const watchEnd = performance.now();

  const lastLaterRoar = roarsOf(later).at(-1)!;
  const roarsAfterMeet = roarsOf(later).filter((l) => l.at >= metAt).length;
  const lastRoarVsMeet = lastLaterRoar.at - metAt;
  t.diagnostic(
    `after link up: nodeup at +${ms(metAt - upAt)} ms; the later claimant logged "lost" ${ms(lost.at - metAt)} ms after nodeup; ` +
      `its last roar came ${ms(Math.abs(lastRoarVsMeet))} ms ${lastRoarVsMeet >= 0 ? 'after' : 'before'} nodeup (${roarsAfterMeet} roars after nodeup)`,
  );
  assert.ok(lost.at - metAt <= STOP_WITHIN_MS, `${later.name} logged "lost" ${ms(lost.at - metAt)} ms after meeting ${first.name}\n${later.tail()}`);
  assert.ok(lastRoarVsMeet <= STOP_WITHIN_MS, `${later.name} roared ${ms(lastRoarVsMeet)} ms after meeting ${first.name}\n${later.tail()}`);

  const gap = maxRoarGap(first, firstRoar.at, watchEnd);
  t.diagnostic(`first claimant: longest silence between roars ${ms(gap)} ms (from its first roar to the end of the watch)`);
  assert.ok(gap <= MAX_ROAR_GAP_MS, `${first.name} holds the name throughout, yet went ${ms(gap)} ms without a roar\n${first.tail()}`);
  assert.equal(first.logs.find(isLost), undefined, `${first.name} is the earlier claimant and must never stop\n${first.tail()}`);
  for (const n of [first, later]) assert.equal(n.exit, undefined, `${n.name} must keep running`);
});

test('a node joining an existing cluster never roars', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 3);
  const pair = [f.start(1), f.start(2)] as const;
  await Promise.all(pair.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  await Promise.all([pair[0].waitForExactMembers([pair[1].name], FORMATION_TIMEOUT_MS), pair[1].waitForExactMembers([pair[0].name], FORMATION_TIMEOUT_MS)]);
  // Whichever way the pair settled it (one held back, or one lost to the earlier claimant), one of them says who holds the name.
  const { node: other, log: decided } = await Promise.any(
    pair.map(async (node) => {
      const peer = pair.find((o) => o !== node)!.name;
      const log = await node.waitForLog((l) => l.message === heldMessage(peer) || l.message.startsWith(`Singleton lost to ${peer},`), CLAIM_TIMEOUT_MS);
      return { node, log };
    }),
  ).catch((err: AggregateError) => {
    throw new Error(`neither node said who holds the Singleton:\n${err.errors.map((e: Error) => e.message).join('\n')}`);
  });
  const holder = pair.find((n) => n !== other)!;
  await holder.waitForLine(isRoar, 2 * MAX_ROAR_GAP_MS, { since: decided.at });

  const joinAt = performance.now();
  const joiner = f.start(3);
  await joiner.waitReady(READY_TIMEOUT_MS);
  await joiner.waitForExactMembers([pair[0].name, pair[1].name], FORMATION_TIMEOUT_MS);
  const held = await joiner.waitForLog((l) => l.message === heldMessage(holder.name), CLAIM_TIMEOUT_MS);
  t.diagnostic(`holder ${holder.name}; the joiner logged "already running" ${ms(held.at - joinAt)} ms after it was started`);
  // Watch until the joiner has run QUIET_WATCH_MS, and at least 2 s past its decision.
  await waitUntilTime(joiner, Math.max(joinAt + QUIET_WATCH_MS, held.at + 2000), 'the end of the watch');
  const watchEnd = performance.now();

  assert.deepEqual(roarsOf(joiner), [], `${joiner.name} joined while ${holder.name} held the name: it must never roar\n${joiner.tail()}`);
  assert.ok(joiner.memberLines.length >= 3, `${joiner.name} printed member lists throughout the watch (its stdout was read)`);
  assert.equal(joiner.logs.find((l) => l.message.startsWith('Singleton started')), undefined, `${joiner.name} must never start the Singleton`);
  const gap = maxRoarGap(holder, joinAt, watchEnd);
  t.diagnostic(`holder's longest silence while the joiner was watched: ${ms(gap)} ms`);
  assert.ok(gap <= MAX_ROAR_GAP_MS, `${holder.name} holds the name, yet went ${ms(gap)} ms without a roar\n${holder.tail()}`);
  assert.deepEqual(
    roarsOf(other).filter((l) => l.at > decided.at + ROAR_AFTER_LOST_SLACK_MS),
    [],
    `${other.name} does not hold the name and must be silent\n${other.tail()}`,
  );
  for (const n of [...pair, joiner]) assert.equal(n.exit, undefined, `${n.name} must keep running`);
});
