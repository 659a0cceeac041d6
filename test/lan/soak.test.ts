// Soak, two minutes (the CI version of `npm run soak -- --minutes 30`): 10 nodes on 5
// virtual-LAN hosts, --failover --quorum 6, under seeded churn — SIGKILL and restart,
// SIGSTOP and SIGCONT, a host's link down and up. Asserted: the Singleton's invariants
// at every point (never two holders, epochs strictly increasing, no roar from a stopped
// or superseded tenure), a steady cluster after the churn, every member's view identical
// at the end, and the long-lived nodes' open file descriptors back near where they were
// (a descriptor leaked per fault would show). RSS and fd growth per hour are printed, not
// asserted: two minutes on a loaded 2-core machine cannot measure a slope honestly.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lanSkipReason } from '../helpers/lan-fixture.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import { formatSoakReport, runSoak } from '../soak/runner.js';

const skip = (await lanSkipReason()) || cliMissingReason() || false;
/** Its schedule over 2 minutes mixes all three kinds of fault. */
const SEED = 1010;
/** Descriptors a long-lived node may hold above its first sample at the end (an observer's connection, a pending dial). */
const FD_SLACK = 8;

test('soak: 2 minutes of churn on 10 nodes keeps the Singleton invariants, converges, and leaks no descriptors', { skip, timeout: 600_000 }, async () => {
  const report = await runSoak({ seed: SEED, durationMs: 120_000 });
  const text = formatSoakReport(report);
  console.log(text);
  assert.deepEqual(report.failures, [], text);
  assert.ok(Object.keys(report.faults).length >= 2, `too few kinds of fault ran: ${JSON.stringify(report.faults)}`);
  for (const r of report.resources) {
    assert.ok(r.fds.length >= 10, `${r.node}: only ${r.fds.length} samples`);
    assert.ok(r.fdsLast <= r.fdsFirst + FD_SLACK, `${r.node}: ${r.fdsFirst} -> ${r.fdsLast} descriptors\n${text}`);
  }
});
