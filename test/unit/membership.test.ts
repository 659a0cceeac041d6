import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, isOverdue, leaseMs, mayJudge, stretchedTimeout, tickLag } from '../../src/membership/failure-detector.js';
import { nameHolder, preferConnection } from '../../src/membership/membership.js';

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

test('leaseMs ends before others can declare the holder down', () => {
  assert.equal(leaseMs(3000, 500), 2750);
  assert.ok(leaseMs(3000, 500) < 3000);
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

test('preferConnection: both sides keep the connection dialed by the smaller name', () => {
  // From a's side and from b's side, with the two connections in either order.
  assert.equal(preferConnection({ dialer: 'a@h' }, { dialer: 'b@h' }, 'a@h', 'b@h'), 'existing');
  assert.equal(preferConnection({ dialer: 'b@h' }, { dialer: 'a@h' }, 'a@h', 'b@h'), 'incoming');
  assert.equal(preferConnection({ dialer: 'a@h' }, { dialer: 'b@h' }, 'b@h', 'a@h'), 'existing');
  assert.equal(preferConnection({ dialer: 'b@h' }, { dialer: 'a@h' }, 'b@h', 'a@h'), 'incoming');
  // Same dialer: the newer connection replaces the older.
  assert.equal(preferConnection({ dialer: 'b@h' }, { dialer: 'b@h' }, 'a@h', 'b@h'), 'incoming');
});

test('nameHolder: the longer-running node keeps a contested name; ties by incarnation', () => {
  assert.deepEqual(nameHolder({ inc: 'aa', up: 10 }, { inc: 'bb', up: 5 }), { inc: 'aa', up: 10 });
  assert.deepEqual(nameHolder({ inc: 'aa', up: 5 }, { inc: 'bb', up: 10 }), { inc: 'bb', up: 10 });
  assert.deepEqual(nameHolder({ inc: 'bb', up: 7 }, { inc: 'aa', up: 7 }), { inc: 'aa', up: 7 });
});
