import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUsableEpoch, judgeCounter, MAX_COUNTER, MAX_COUNTER_JUMP } from '../../src/registry/bounds.js';
import type { CounterVerdict } from '../../src/registry/bounds.js';

test('judgeCounter: the one rule for epochs and versions from the network', () => {
  const J = MAX_COUNTER_JUMP;
  const cases: [unknown, number, boolean, CounterVerdict][] = [
    [0, 0, true, 'ok'],
    [1, 0, true, 'ok'],
    [J, 0, true, 'ok'],
    [J + 1, 0, true, 'too-far'],
    [7 + J, 7, true, 'ok'],
    [8 + J, 7, true, 'too-far'],
    [5, 100, true, 'ok'], // below the highest seen: fine (merging keeps the highest)
    [2 ** 53 - 1, 0, true, 'too-high'], // the red team's poison
    [2 ** 53 - 1, 2 ** 53 - 2, true, 'too-high'],
    [MAX_COUNTER, MAX_COUNTER - 1, true, 'ok'],
    [MAX_COUNTER + 1, MAX_COUNTER, true, 'too-high'],
    [2 ** 53, 0, true, 'invalid'],
    [2 ** 53 + 2, 0, false, 'invalid'],
    [-1, 0, true, 'invalid'],
    [1.5, 0, true, 'invalid'],
    [Number.NaN, 0, true, 'invalid'],
    [Number.POSITIVE_INFINITY, 0, true, 'invalid'],
    ['9', 0, true, 'invalid'],
    [10n, 0, true, 'invalid'],
    [undefined, 0, true, 'invalid'],
    [3 * J, 0, false, 'ok'], // an owner's own version: no step bound
    [MAX_COUNTER + 1, 0, false, 'too-high'], // ... but the ceiling holds
  ];
  for (const [value, highest, jump, want] of cases) assert.equal(judgeCounter(value, highest, jump), want, `${String(value)} over ${highest} (jump ${jump})`);
});

test('the ceiling is far from 2^53, so a successor epoch is exact', () => {
  assert.ok(MAX_COUNTER + MAX_COUNTER_JUMP <= 2 ** 53);
  assert.notEqual(MAX_COUNTER + 1, MAX_COUNTER);
  assert.equal(isUsableEpoch(1), true);
  assert.equal(isUsableEpoch(MAX_COUNTER), true);
  assert.equal(isUsableEpoch(MAX_COUNTER + 1), false);
  assert.equal(isUsableEpoch(0), false);
  assert.equal(isUsableEpoch(2 ** 53), false);
});
