// The timing rules (src/membership/timing.ts), as tables: detection, lease, and every
// rule derived from the failure timeout (confirm deadline, grant lifetime, quorum
// freshness, quiet periods), with the orderings the protocols rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backoffDelay,
  confirmTimeoutMs,
  downWithoutProbesMs,
  grantLifetimeMs,
  heardRecentlyMs,
  isOverdue,
  leaseMs,
  leaseWatchDetectionMs,
  mayJudge,
  newsDelayMs,
  onTimeCheckAt,
  probeWindowMs,
  quorumFreshMs,
  quorumRequestTimeoutMs,
  refutedForMs,
  rejoinQuietMs,
  reportedDetectionMs,
  singleReportDetectionMs,
  stretchedTimeout,
  suspicionMs,
  tickLag,
  watcherDetectionMs,
} from '../../src/membership/timing.js';

test('isOverdue: strictly more silence than the timeout', () => {
  const cases: [number, number, number, boolean][] = [
    [0, 3000, 3000, false],
    [0, 3001, 3000, true],
    [1000, 3500, 3000, false],
    [1000, 4001, 3000, true],
  ];
  for (const [last, now, timeout, want] of cases) assert.equal(isOverdue(last, now, timeout), want, `${last} ${now} ${timeout}`);
});

test('tickLag and mayJudge: a tick later than one interval defers judgement', () => {
  assert.equal(tickLag(1000, 900), 0);
  assert.equal(tickLag(1000, 1600), 600);
  assert.equal(mayJudge(0, 500), true);
  assert.equal(mayJudge(500, 500), true);
  assert.equal(mayJudge(501, 500), false);
});

test('stretchedTimeout grows only with lag beyond one heartbeat interval', () => {
  assert.equal(stretchedTimeout(3000, 0, 500), 3000);
  assert.equal(stretchedTimeout(3000, 500, 500), 3000);
  assert.equal(stretchedTimeout(3000, 1000, 500), 3500);
  // Capped at two intervals: one long freeze does not blunt detection afterwards.
  assert.equal(stretchedTimeout(3000, 6000, 500), 4000);
});

test('suspicion and lease: half an interval apart, below the failure timeout', () => {
  assert.equal(suspicionMs(3000, 500), 2750);
  assert.equal(leaseMs(3000, 500), 2500);
  assert.equal(leaseMs(600, 100), 500);
});

/**
 * The detector's timing on a schedule of aligned heartbeat ticks (every node ticks at
 * multiples of the interval, each with its own timer jitter; a heartbeat takes `net` to
 * arrive): the first receiver tick that sees more silence than suspicionMs.
 */
function firstSuspicion(lastReceivedAt: number, nextHeardAt: number, hb: number, ft: number, receiverJitter: number): number | undefined {
  for (let m = Math.ceil(lastReceivedAt / hb); m * hb < nextHeardAt + hb; m++) {
    const tick = m * hb + receiverJitter;
    if (tick >= nextHeardAt) return undefined;
    if (isOverdue(lastReceivedAt, tick, suspicionMs(ft, hb))) return tick;
  }
  return undefined;
}

test('a frozen peer is suspected when its silence reaches the failure timeout, not an interval later', () => {
  const hb = 500;
  const ft = 3000;
  for (const senderJitter of [0, 1, 4]) {
    for (const net of [0.1, 1, 3]) {
      for (const receiverJitter of [0, 1, 4]) {
        for (let k = 10; k < 14; k++) {
          const lastSent = k * hb + senderJitter;
          const at = firstSuspicion(lastSent + net, Infinity, hb, ft, receiverJitter);
          assert.ok(at !== undefined);
          const after = at - lastSent;
          assert.ok(after > ft - hb / 2 && after <= ft + receiverJitter, `suspected ${after} ms after the last heartbeat (jitter ${senderJitter}/${receiverJitter}, net ${net})`);
        }
      }
    }
  }
});

test('a 2 s stall starting anywhere in an interval is never suspected; the holder\'s lease outlasts it', () => {
  const hb = 500;
  const ft = 3000;
  for (let offset = 1; offset < hb; offset += 7) {
    for (const receiverJitter of [0, 2, 5]) {
      const stallStart = 20 * hb + offset;
      const lastSent = 20 * hb; // the heartbeat of the tick before the stall
      const wake = stallStart + 2000; // the overdue tick fires at once: a heartbeat
      assert.equal(firstSuspicion(lastSent + 1, wake + 1, hb, ft, receiverJitter), undefined, `stall from +${offset} ms`);
      // The holder's last on-time tick was lastSent: its lease has not run out when it wakes.
      assert.ok(wake - lastSent <= leaseMs(ft, hb), `lease ran out in a stall from +${offset} ms`);
    }
  }
});

test('newsDelayMs: one handshake timeout (5 s by default, 1 s in the test profile)', () => {
  for (const [hs, want] of [[5000, 5000], [1000, 1000], [250, 250]] as const) assert.equal(newsDelayMs(hs), want);
});

test('onTimeCheckAt: the first whole millisecond past the timeout, only when it falls before the next tick', () => {
  // from, timeout, now, next tick -> due
  const rows: Array<[number, number, number, number, number | undefined]> = [
    [1000, 2750, 3500, 4000, 3751], // silent since a tick: due 3751, before the tick at 4000
    [1003.4, 2750, 3500, 4000, 3755], // heard 3.4 ms after the tick: a whole ms at least 1 past 3753.4
    [1000, 2750, 3000, 3500, undefined], // due after the next tick: that tick (or a later one) arms it
    [1000, 2750, 3751, 4000, undefined], // already due: the tick judges it itself
    [1250, 2750, 3500, 4000, undefined], // due 4001: the tick at 4000 arms it
    [1240, 2750, 3500, 4000, 3991],
  ];
  for (const [from, timeout, now, next, due] of rows) assert.equal(onTimeCheckAt(from, timeout, now, next), due, `from ${from}, now ${now}, next ${next}`);
  for (const [from, timeout, now, next] of rows) {
    const due = onTimeCheckAt(from, timeout, now, next);
    if (due !== undefined) assert.ok(isOverdue(from, due, timeout), 'overdue when the check fires');
  }
});

test('lease-watched members, checked on time: a frozen one is suspected at suspicionMs, a 2 s stall anywhere in an interval still is not', () => {
  for (const [ft, hb] of PROFILES) {
    // Suspected no sooner than the lease proof allows, and at most a probe window later declared.
    assert.equal(leaseWatchDetectionMs(ft, hb), suspicionMs(ft, hb) + 1 + probeWindowMs(hb), `ft ${ft}, hb ${hb}`);
    assert.ok(leaseMs(ft, hb) + hb / 2 <= suspicionMs(ft, hb));
  }
  const hb = 500;
  const ft = 3000;
  assert.ok(leaseWatchDetectionMs(ft, hb) <= watcherDetectionMs(ft, hb) - hb / 2 + 1, 'half an interval sooner than on ticks, at worst');
  for (let offset = 1; offset < hb; offset += 7) {
    for (const receiverJitter of [0, 2, 5]) {
      const lastSent = 20 * hb;
      const wake = lastSent + offset + 2000; // a 2 s stall starting offset ms after the last heartbeat; the overdue tick sends at once
      const silence = wake + receiverJitter - lastSent;
      assert.ok(silence < suspicionMs(ft, hb), `stall from +${offset} ms: ${silence} ms of silence`);
    }
  }
});

test('a holder\'s lease ends at least half an interval before anyone can suspect it', () => {
  for (const [ft, hb] of [[3000, 500], [600, 100], [1000, 500], [10_000, 1000]] as const) {
    // Anyone suspects it no sooner than suspicionMs after receiving its last heartbeat,
    // which is no sooner than when it was sent (its last on-time tick), whatever the tick alignment.
    assert.ok(leaseMs(ft, hb) + hb / 2 <= suspicionMs(ft, hb));
    assert.ok(leaseMs(ft, hb) > 0);
  }
});

test('backoffDelay doubles from min, is capped at max, and jitters within [d/2, d)', () => {
  const cases: [number, number][] = [
    [0, 200],
    [1, 400],
    [2, 800],
    [4, 3200],
    [5, 4000],
    [50, 4000],
  ];
  for (const [attempt, d] of cases) {
    assert.equal(backoffDelay(attempt, 200, 4000, 0), d / 2);
    assert.ok(backoffDelay(attempt, 200, 4000, 0.999) < d);
  }
});

/** [failureTimeoutMs, heartbeatIntervalMs]: the LAN default, the test profile, and a few others. */
const PROFILES = [
  [3000, 500],
  [600, 100],
  [1000, 500],
  [10_000, 1000],
] as const;

test('rules derived from the failure timeout: a table', () => {
  // ft, hb -> confirm, grant, quorum request, fresh, rejoin quiet, down without probes, heard recently, refuted for, probe window
  const cases: [number, number, number, number, number, number, number, number, number, number, number][] = [
    [3000, 500, 6000, 6000, 3000, 2500, 3000, 6000, 1500, 3000, 250],
    [600, 100, 1200, 1200, 600, 500, 600, 1200, 300, 600, 50],
    [1000, 500, 2000, 2000, 1000, 500, 1000, 2000, 500, 1000, 250],
    [10_000, 1000, 20_000, 20_000, 10_000, 9000, 10_000, 20_000, 5000, 10_000, 500],
  ];
  for (const [ft, hb, confirm, grant, request, fresh, quiet, down, heard, refuted, window] of cases) {
    const at = `ft ${ft}, hb ${hb}`;
    assert.equal(confirmTimeoutMs(ft), confirm, `confirm deadline, ${at}`);
    assert.equal(grantLifetimeMs(ft), grant, `grant lifetime, ${at}`);
    assert.equal(quorumRequestTimeoutMs(ft), request, `quorum request, ${at}`);
    assert.equal(quorumFreshMs(ft, hb), fresh, `quorum freshness, ${at}`);
    assert.equal(rejoinQuietMs(ft), quiet, `rejoin quiet, ${at}`);
    assert.equal(downWithoutProbesMs(ft), down, `down without probes, ${at}`);
    assert.equal(heardRecentlyMs(ft), heard, `heard recently, ${at}`);
    assert.equal(refutedForMs(ft), refuted, `refuted for, ${at}`);
    assert.equal(probeWindowMs(hb), window, `probe window, ${at}`);
  }
});

test('a quorum grant outlives the claimant\'s request and leaves a whole failure timeout to deliver its claim, and it follows the failure timeout', () => {
  for (const [ft] of PROFILES) {
    assert.ok(grantLifetimeMs(ft) - quorumRequestTimeoutMs(ft) >= ft, `ft ${ft}`);
    assert.ok(Number.isFinite(grantLifetimeMs(ft)), 'a grant expires');
  }
  assert.ok(grantLifetimeMs(600) < grantLifetimeMs(3000), 'not a fixed lifetime');
});

test('a quorum holder stops counting a silent voter before the voter can be declared down, and after its own lease', () => {
  for (const [ft, hb] of PROFILES) {
    assert.ok(quorumFreshMs(ft, hb) < suspicionMs(ft, hb), `ft ${ft}, hb ${hb}`);
    assert.ok(quorumFreshMs(ft, hb) >= leaseMs(ft, hb), `ft ${ft}, hb ${hb}`);
  }
});

test('a confirm round outlasts the detection of a silent member', () => {
  for (const [ft, hb] of PROFILES) assert.ok(confirmTimeoutMs(ft) > suspicionMs(ft, hb) + probeWindowMs(hb), `ft ${ft}, hb ${hb}`);
});

/**
 * Detection after a freeze, on aligned ticks: the member sent its last heartbeat at
 * `lastSent` (tick k plus its timer jitter) and froze. Its watchers suspect it on their
 * first tick past suspicionMs of silence, and declare it down once the members they ask
 * answer "silent" (earliest: a round trip) or the probe window ends (latest); each then
 * reports it, and a member that does not watch it declares it down on the second report
 * (one transit later), or on one report watches it itself from then on.
 * Times are ms after lastSent: [earliest, latest].
 */
function detection(lastSent: number, hb: number, ft: number, net: number, receiverJitter: number): Record<'watcher' | 'reports' | 'oneReport', [number, number]> {
  const suspected = firstSuspicion(lastSent + net, Infinity, hb, ft, receiverJitter)!;
  const watcher: [number, number] = [suspected + 2 * net, suspected + probeWindowMs(hb)];
  const reports: [number, number] = [watcher[0] + net, watcher[1] + net];
  // One report: watched from its arrival; nothing was heard since.
  const ownFrom = (reportAt: number): number => firstSuspicion(reportAt, Infinity, hb, ft, receiverJitter)!;
  const oneReport: [number, number] = [ownFrom(reports[0]) + 2 * net, ownFrom(reports[1]) + probeWindowMs(hb)];
  const rel = ([a, b]: [number, number]): [number, number] => [a - lastSent, b - lastSent];
  return { watcher: rel(watcher), reports: rel(reports), oneReport: rel(oneReport) };
}

test('detection after a freeze, for watchers and for members told by reports: a table (LAN profile, 1 ms transit)', () => {
  // [heartbeat k, sender jitter, receiver jitter] -> watcher, two reports, one report ([earliest, latest] ms after the last heartbeat)
  const cases: [number, number, number, [number, number], [number, number], [number, number]][] = [
    [10, 0, 0, [3002, 3250], [3003, 3251], [6002, 6750]],
    [11, 0, 0, [3002, 3250], [3003, 3251], [6002, 6750]],
    [10, 4, 0, [2998, 3246], [2999, 3247], [5998, 6746]],
    [10, 0, 4, [3006, 3254], [3007, 3255], [6006, 6754]],
  ];
  for (const [k, senderJitter, receiverJitter, watcher, reports, oneReport] of cases) {
    const got = detection(k * 500 + senderJitter, 500, 3000, 1, receiverJitter);
    const at = `k ${k}, jitter ${senderJitter}/${receiverJitter}`;
    assert.deepEqual(got.watcher, watcher, `watcher, ${at}`);
    assert.deepEqual(got.reports, reports, `two reports, ${at}`);
    assert.deepEqual(got.oneReport, oneReport, `one report, ${at}`);
  }
});

test('detection after a freeze stays within the stated bounds, and no candidate can take over before the holder\'s lease ended', () => {
  for (const [ft, hb] of PROFILES) {
    for (const senderJitter of [0, 1, 4]) {
      for (const net of [0.1, 1, 3]) {
        for (const receiverJitter of [0, 1, 4]) {
          for (let k = 10; k < 14; k++) {
            const lastSent = k * hb + senderJitter;
            const d = detection(lastSent, hb, ft, net, receiverJitter);
            const at = `ft ${ft}, hb ${hb}, k ${k}, jitter ${senderJitter}/${receiverJitter}, net ${net}`;
            // Bounds from timing.ts (receiver jitter comes on top: the ticks are late by it).
            assert.ok(d.watcher[1] <= watcherDetectionMs(ft, hb) + receiverJitter + 1e-9, `watcher ${d.watcher[1]}, ${at}`);
            assert.ok(d.reports[1] <= reportedDetectionMs(ft, hb, net) + receiverJitter + 1e-9, `reports ${d.reports[1]}, ${at}`);
            assert.ok(d.oneReport[1] <= singleReportDetectionMs(ft, hb, net) + receiverJitter + 1e-9, `one report ${d.oneReport[1]}, ${at}`);
            // The holder's last on-time tick sent that heartbeat; its lease ends leaseMs
            // later. A candidate watches the holder (it takes over only on its own
            // verdict), and every report stems from a watcher's own verdict: the earliest
            // takeover, by any path, comes after the lease ended.
            const leaseEnd = leaseMs(ft, hb);
            assert.ok(leaseEnd < d.watcher[0], `lease ${leaseEnd} vs watcher ${d.watcher[0]}, ${at}`);
            assert.ok(leaseEnd < d.reports[0] && leaseEnd < d.oneReport[0], at);
          }
        }
      }
    }
  }
});
