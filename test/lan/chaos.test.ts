// Chaos, short and seeded: a 3-host cluster with --failover --quorum 2 takes ~25 s of
// faults aimed mostly at the Singleton's holder — SIGKILL and restart, SIGSTOP then
// SIGCONT, link down then up — and must never run two Singletons at once (overlap
// 0 ms), must start tenures with strictly increasing epochs, must never roar from a
// stopped or superseded tenure, and must have a Singleton running again within a
// bounded time whenever a majority is up and meshed. `npm run chaos` is the long,
// randomly seeded version (test/chaos/main.ts).
// The first test feeds the timeline analysis made-up runs, so the checks the second
// relies on are shown to catch what they claim to catch.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lanSkipReason } from '../helpers/lan-fixture.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import { formatReport, runChaos } from '../chaos/runner.js';
import { buildTimeline } from '../chaos/timeline.js';
import { generateSchedule } from '../chaos/schedule.js';
import type { ActionRecord, ProcessRecord } from '../chaos/timeline.js';

const skip = await lanSkipReason();
/** Its schedule (24 s): a 4.1 s SIGSTOP of the holder, a SIGKILL of the holder, a 5.5 s cut of the holder's link. */
const SEED = 291;
const CHAOS_MS = 24_000;
/**
 * Longest time nobody may hold the Singleton while a majority is up and meshed: the
 * failure timeout (3 s) plus the quorum round and a supervisor tick is about 3.5 s;
 * 8 s leaves room for a loaded 2-core machine.
 */
const HEALTHY_GAP_LIMIT_MS = 8000;

const ROAR = 'I am singleton, hear me roar';
const NAMES = ['node1@h1', 'node2@h2', 'node3@h3'] as const;

/** A made-up process run: tenure lines, roars every second in [from, to], full member lists every second while not frozen. */
function fakeRun(
  host: 1 | 2 | 3,
  o: { spawnedAt?: number; tenures?: { at: number; epoch: number; roarsUntil: number; roarsFrom?: number }[]; extraRoars?: number[]; exitAt?: number; silent?: [number, number]; until: number },
): ProcessRecord {
  const name = NAMES[host - 1]!;
  const stdoutLines: { text: string; at: number }[] = [];
  for (const t of o.tenures ?? []) {
    stdoutLines.push({ text: `Singleton tenure started on ${name}, epoch ${t.epoch}`, at: t.at });
    for (let r = t.roarsFrom ?? t.at; r <= t.roarsUntil; r += 1000) stdoutLines.push({ text: ROAR, at: r });
  }
  for (const r of o.extraRoars ?? []) stdoutLines.push({ text: ROAR, at: r });
  stdoutLines.sort((a, b) => a.at - b.at);
  const memberLines: { members: string[]; at: number }[] = [];
  const spawnedAt = o.spawnedAt ?? 0;
  for (let at = spawnedAt + 500; at <= Math.min(o.until, o.exitAt ?? Infinity); at += 1000) {
    if (o.silent && at >= o.silent[0] && at <= o.silent[1]) continue;
    memberLines.push({ members: NAMES.filter((n) => n !== name), at });
  }
  return { name, host: { index: host }, spawnedAt, stdoutLines, logs: [], memberLines, exit: o.exitAt === undefined ? undefined : { at: o.exitAt } };
}

const act = (kind: ActionRecord['kind'], host: number, at: number): ActionRecord => ({ kind, host, node: NAMES[host - 1]!, at, doneAt: at + 1 });

test('the timeline analysis passes a clean takeover and catches overlaps, stale roars, epoch repeats and long healthy gaps', () => {
  // Clean: node1 holds epoch 1 and is SIGKILLed at 5.2 s; node2 starts epoch 2 10 ms later.
  const clean = buildTimeline(
    [
      fakeRun(1, { tenures: [{ at: 1000, epoch: 1, roarsUntil: 5000 }], exitAt: 5230, until: 12_000 }),
      fakeRun(2, { tenures: [{ at: 5210, epoch: 2, roarsUntil: 12_000 }], until: 12_000 }),
      fakeRun(3, { until: 12_000 }),
    ],
    [act('SIGKILL', 1, 5200)],
    { to: 12_000, hosts: 3 },
  );
  assert.equal(clean.overlaps.length, 0, JSON.stringify(clean.overlaps));
  assert.deepEqual(clean.anomalies, []);
  assert.deepEqual(clean.epochViolations, []);
  assert.equal(clean.gaps.length, 1);
  assert.equal(Math.round(clean.gaps[0]!.to - clean.gaps[0]!.from), 10);
  assert.equal(clean.gaps[0]!.cause, 'SIGKILL');
  assert.equal(clean.flaggedGaps.length, 0);
  assert.equal(clean.tenures[0]!.endHow, 'SIGKILL');

  // Faulty: node1 (epoch 1) is frozen at 2.5 s; node2 takes over with epoch 2 at 6 s;
  // node1 is thawed at 7 s and roars once more (stale, overlapping node2); node2 goes
  // quiet after 9 s without a word; node3 starts at 17 s, reusing epoch 2.
  const faulty = buildTimeline(
    [
      fakeRun(1, { tenures: [{ at: 1000, epoch: 1, roarsUntil: 2000 }], extraRoars: [7100], silent: [2500, 7000], until: 20_000 }),
      fakeRun(2, { tenures: [{ at: 6000, epoch: 2, roarsUntil: 9000 }], until: 20_000 }),
      fakeRun(3, { tenures: [{ at: 17_000, epoch: 2, roarsUntil: 20_000 }], until: 20_000 }),
    ],
    [act('SIGSTOP', 1, 2500), act('SIGCONT', 1, 7000)],
    { to: 20_000, hosts: 3 },
  );
  assert.equal(faulty.overlaps.length, 1, JSON.stringify(faulty.overlaps));
  assert.deepEqual(faulty.overlaps[0]!.nodes, ['node1@h1', 'node2@h2']);
  assert.equal(Math.round(faulty.overlaps[0]!.to - faulty.overlaps[0]!.from), 1250);
  assert.equal(faulty.overlaps[0]!.cause, 'SIGCONT');
  assert.ok(faulty.anomalies.some((a) => a.kind === 'stale-roar' && a.node === 'node1@h1' && a.at === 7100), JSON.stringify(faulty.anomalies));
  assert.deepEqual(
    faulty.epochViolations.map((v) => [v.node, v.epoch, v.previousMax]),
    [['node3@h3', 2, 2]],
  );
  // The freeze silences node1 at 2.5 s (not at its last roar + 1.25 s): the first gap starts there.
  assert.equal(faulty.gaps[0]!.from, 2500);
  const long = faulty.flaggedGaps;
  assert.equal(long.length, 1, JSON.stringify(faulty.gaps));
  assert.equal(long[0]!.from, 10_250);
  assert.equal(long[0]!.to, 17_000);
});

test('a chaos seed replays the same schedule, and this test\'s seed hits the holder with each kind of fault', () => {
  const a = generateSchedule(SEED, { durationMs: CHAOS_MS, maxDisrupted: 1 });
  assert.deepEqual(generateSchedule(SEED, { durationMs: CHAOS_MS, maxDisrupted: 1 }), a);
  assert.notDeepEqual(generateSchedule(SEED + 1, { durationMs: CHAOS_MS, maxDisrupted: 1 }), a);
  assert.deepEqual(
    a.map((s) => [s.kind, s.target]),
    [
      ['freeze', 'holder'],
      ['kill', 'holder'],
      ['partition', 'holder'],
    ],
  );
  // The freeze and the cut outlast the 3 s failure timeout, so both force a takeover.
  assert.ok(a[0]!.holdMs > 3500 && a[2]!.holdMs > 3500, JSON.stringify(a));
  for (const [i, s] of a.entries()) if (i > 0) assert.ok(s.at >= a[i - 1]!.at + a[i - 1]!.holdMs + a[i - 1]!.recoverMs, 'one fault at a time on 3 hosts');
});

test('seeded chaos on 3 hosts with --quorum 2: never two Singletons, epochs only grow, a healthy majority always gets one back', { skip, timeout: 180_000 }, async (t) => {
  const missing = cliMissingReason();
  if (missing) throw new Error(missing);
  const report = await runChaos({ seed: SEED, hosts: 3, quorum: 2, durationMs: CHAOS_MS, settleMs: 20_000, gapLimitMs: HEALTHY_GAP_LIMIT_MS, log: (l) => t.diagnostic(l) });
  const text = formatReport(report);
  for (const line of text.split('\n')) t.diagnostic(line);
  const logs = (): string =>
    `${text}\n\n${Object.entries(report.transcripts)
      .map(([k, lines]) => `--- ${k}\n${lines.filter((l) => !/ out \[/.test(l)).slice(-60).join('\n')}`)
      .join('\n')}`;

  // The plan must have hit the holder, or the checks below prove nothing.
  const holderHits = report.steps.filter((s) => s.holderHit);
  assert.ok(holderHits.length >= 2, `the faults hit the holder only ${holderHits.length} times\n${text}`);
  assert.ok(report.timeline.tenures.length >= 3, `expected at least two takeovers\n${text}`);

  const tl = report.timeline;
  assert.deepEqual(
    tl.overlaps.map((o) => `${o.nodes.join(' + ')} for ${Math.round(o.to - o.from)} ms after ${o.cause}`),
    [],
    `two Singletons ran at once (with a quorum)\n${logs()}`,
  );
  assert.deepEqual(tl.epochViolations, [], `epochs must strictly increase across starts\n${logs()}`);
  assert.deepEqual(
    tl.anomalies.map((a) => `${a.kind} ${a.node}: ${a.detail}`),
    [],
    `roars from stopped or superseded tenures\n${logs()}`,
  );
  assert.deepEqual(
    tl.flaggedGaps.map((g) => `${Math.round(g.to - g.from)} ms without a Singleton after ${g.cause}, ${Math.round(g.longestHealthyMs)} ms of it healthy`),
    [],
    `a healthy majority went without a Singleton for over ${HEALTHY_GAP_LIMIT_MS} ms\n${logs()}`,
  );
  assert.ok(report.settledAfterMs !== undefined, `the cluster did not settle after the faults: ${report.settleError}\n${logs()}`);
});
