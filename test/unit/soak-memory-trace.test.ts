import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMemoryTrace } from '../soak/memory-trace.js';

const MB = 1048576;
const tick = (at: number, heapUsed: number): string => JSON.stringify({ k: 'tick', at, rss: 60 * MB, heapTotal: 20 * MB, heapUsed, external: 2 * MB, arrayBuffers: 0, code: MB });

test('parseMemoryTrace: ticks and major GCs become MB series; anything else is skipped (table)', () => {
  const cases: [string, string, { ticks: number; majors: number }][] = [
    ['empty', '', { ticks: 0, majors: 0 }],
    ['one tick', tick(1000, 10 * MB), { ticks: 1, majors: 0 }],
    ['one major', JSON.stringify({ k: 'major', at: 1000, heapUsed: 9 * MB }), { ticks: 0, majors: 1 }],
    ['a torn last line', `${tick(1000, MB)}\n{"k":"tick","at":2000,"rss"`, { ticks: 1, majors: 0 }],
    ['a tick without heapUsed', JSON.stringify({ k: 'tick', at: 1000, heapTotal: 1, code: 1, external: 1 }), { ticks: 0, majors: 0 }],
    ['a negative size', JSON.stringify({ k: 'major', at: 1000, heapUsed: -1 }), { ticks: 0, majors: 0 }],
    ['no time', JSON.stringify({ k: 'major', heapUsed: 1 }), { ticks: 0, majors: 0 }],
    ['another kind', JSON.stringify({ k: 'minor', at: 1, heapUsed: 1 }), { ticks: 0, majors: 0 }],
    ['not an object', '42\nnull\n"tick"', { ticks: 0, majors: 0 }],
  ];
  for (const [what, text, want] of cases) {
    const t = parseMemoryTrace(text);
    assert.equal(t.heapUsedMb.length, want.ticks, what);
    assert.equal(t.heapTotalMb.length, want.ticks, what);
    assert.equal(t.codeMb.length, want.ticks, what);
    assert.equal(t.externalMb.length, want.ticks, what);
    assert.equal(t.heapAfterMajorGcMb.length, want.majors, what);
  }
});

test('parseMemoryTrace: values in MB at their times', () => {
  const t = parseMemoryTrace([tick(1000, 10 * MB), JSON.stringify({ k: 'major', at: 1500, heapUsed: 8 * MB }), tick(2000, 12 * MB)].join('\n'));
  assert.deepEqual(t.heapUsedMb, [
    { at: 1000, value: 10 },
    { at: 2000, value: 12 },
  ]);
  assert.deepEqual(t.heapAfterMajorGcMb, [{ at: 1500, value: 8 }]);
  assert.deepEqual(t.heapTotalMb[0], { at: 1000, value: 20 });
  assert.deepEqual(t.codeMb[1], { at: 2000, value: 1 });
  assert.deepEqual(t.externalMb[0], { at: 1000, value: 2 });
});

test('parseMemoryTrace: records before fromMs are left out (start-up must not tilt a slope)', () => {
  const text = [tick(1000, 3 * MB), JSON.stringify({ k: 'major', at: 1500, heapUsed: 3 * MB }), tick(2000, 10 * MB), JSON.stringify({ k: 'major', at: 2500, heapUsed: 9 * MB })].join('\n');
  const t = parseMemoryTrace(text, 2000);
  assert.deepEqual(t.heapUsedMb, [{ at: 2000, value: 10 }]);
  assert.deepEqual(t.heapAfterMajorGcMb, [{ at: 2500, value: 9 }]);
  assert.equal(parseMemoryTrace(text).heapUsedMb.length, 2);
});
