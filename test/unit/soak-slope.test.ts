// The soak's growth figure: least-squares slope per hour, as a table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slopePerHour } from '../soak/slope.js';

const H = 3_600_000;
const cases: [string, { at: number; value: number }[], number][] = [
  ['flat', [0, 1, 2, 3].map((i) => ({ at: i * 5000, value: 60 })), 0],
  ['1 per hour', [0, 1, 2].map((i) => ({ at: i * H, value: 10 + i })), 1],
  ['-2 per hour over 10 minutes', [0, 1, 2, 3].map((i) => ({ at: i * 200_000, value: 5 - (2 * i * 200_000) / H })), -2],
  ['noise around a line: the fit, not the ends', [{ at: 0, value: 1 }, { at: H, value: 0 }, { at: 2 * H, value: 3 }, { at: 3 * H, value: 2 }], 0.6],
];

for (const [name, samples, want] of cases) {
  test(`slopePerHour: ${name}`, () => {
    assert.ok(Math.abs(slopePerHour(samples) - want) < 1e-9, `${slopePerHour(samples)} != ${want}`);
  });
}

test('slopePerHour: NaN without two distinct times', () => {
  assert.ok(Number.isNaN(slopePerHour([])));
  assert.ok(Number.isNaN(slopePerHour([{ at: 5, value: 1 }])));
  assert.ok(Number.isNaN(slopePerHour([{ at: 5, value: 1 }, { at: 5, value: 2 }])));
});
