import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, isOverdue, leaseMs, mayJudge, stretchedTimeout, suspicionMs, tickLag } from '../../src/membership/failure-detector.js';
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
