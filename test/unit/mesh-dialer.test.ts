import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_RESET_MIN_INTERVAL_MS, CONCURRENCY_RETRY_MS, DialPacer, DIALS_GLOBAL, DIALS_PER_ADDRESS, mayResetBackoff, pacedDelay, redialDelay, yieldsFirstDial } from '../../src/mesh/dialer.js';
import { ManualClock } from '../../src/util/clock.js';

const cfg = { reconnectMinMs: 200, reconnectMaxMs: 4000, authBackoffMaxMs: 60_000 };

test('redialDelay: exponential with jitter in [d/2, d), auth failures on their own longer scale', () => {
  // [attempt, authFailures, random01, expected ms]
  const cases: [number, number, number, number][] = [
    [0, 0, 0, 100],
    [0, 0, 0.999999, 199.9999],
    [1, 0, 0, 200],
    [3, 0, 0.5, 1200],
    [10, 0, 0, 2000], // capped at reconnectMaxMs
    [0, 1, 0, 500],
    [0, 2, 0, 1000],
    [9, 20, 0, 30_000], // capped at authBackoffMaxMs
  ];
  for (const [attempt, auth, r, want] of cases) assert.ok(Math.abs(redialDelay(attempt, auth, cfg, r) - want) < 0.01, `${attempt}/${auth}/${r}: ${redialDelay(attempt, auth, cfg, r)}`);
});

test('mayResetBackoff: at most once per minute', () => {
  assert.equal(mayResetBackoff(-Infinity, 0), true);
  assert.equal(mayResetBackoff(0, BACKOFF_RESET_MIN_INTERVAL_MS - 1), false);
  assert.equal(mayResetBackoff(0, BACKOFF_RESET_MIN_INTERVAL_MS), true);
});

test('DialPacer: per-address burst, then the sustained per-address rate', () => {
  const clock = new ManualClock();
  const p = new DialPacer(() => clock.now());
  for (let i = 0; i < DIALS_PER_ADDRESS.capacity; i++) assert.equal(p.reserve('10.0.0.9'), 0, `burst ${i}`);
  const wait = p.reserve('10.0.0.9');
  assert.equal(wait, 1000 / DIALS_PER_ADDRESS.perSecond);
  assert.equal(p.reserve('10.0.0.8'), 0, 'another address has its own bucket');
  clock.advance(wait);
  assert.equal(p.reserve('10.0.0.9'), 0);
  assert.ok(p.reserve('10.0.0.9') > 0);
});

test('DialPacer: the global bucket bounds all addresses together', () => {
  const clock = new ManualClock();
  const p = new DialPacer(() => clock.now());
  let granted = 0;
  for (let i = 0; i < 1000; i++) if (p.reserve(`10.0.${i >> 8}.${i & 255}`) === 0) granted++;
  assert.equal(granted, DIALS_GLOBAL.capacity);
  // Over 5 s, at most capacity + 5 × rate in total.
  granted = 0;
  for (let t = 0; t < 5000; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 50; i++) if (p.reserve(`10.1.${i}.${t % 250}`) === 0) granted++;
  }
  assert.ok(granted <= 5 * DIALS_GLOBAL.perSecond + 1, `granted ${granted}`);
});

test('DialPacer: dials in flight are bounded', () => {
  const clock = new ManualClock();
  const p = new DialPacer(() => clock.now(), { perAddress: { capacity: 1000, perSecond: 1000 }, global: { capacity: 1000, perSecond: 1000 }, maxConcurrent: 2 });
  assert.equal(p.begin(['a']), 0);
  assert.equal(p.begin(['b']), 0);
  assert.equal(p.begin(['c']), CONCURRENCY_RETRY_MS);
  p.end();
  assert.equal(p.active, 1);
  assert.equal(p.begin(['c']), 0);
});

test('pacedDelay: the wait, spread over the candidates already waiting', () => {
  // [wait, others waiting, random01, expected]
  const cases: [number, number, number, number][] = [
    [50, 0, 0, 50],
    [50, 0, 0.5, 75],
    [50, 1, 0.5, 75],
    [50, 1000, 0, 50],
    [50, 1000, 0.5, 25_050],
    [500, 1000, 0.999, 500 * (1 + 999)],
  ];
  for (const [wait, n, r, want] of cases) assert.ok(Math.abs(pacedDelay(wait, n, r) - want) < 1e-6, `${wait} ${n} ${r}: ${pacedDelay(wait, n, r)}`);
});

test('yieldsFirstDial: the end whose dial would lose the tie-break waits', () => {
  const cases: [string, string, boolean][] = [
    ['bob@h', 'alice@h', true],
    ['alice@h', 'bob@h', false],
    ['n2@h', 'n10@h', true], // string order, as preferConnection uses
    ['a@h', 'a@h', false],
  ];
  for (const [ours, peer, want] of cases) assert.equal(yieldsFirstDial(ours, peer), want, `${ours} vs ${peer}`);
});
