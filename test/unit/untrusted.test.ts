// Untrusted values in messages and logs: type plus a short escaped excerpt, never the
// whole value, never a control character.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanText, describeValue } from '../../src/util/untrusted.js';

test('describeValue: type and a short excerpt, never the whole value', () => {
  const cases: [unknown, string][] = [
    [null, 'null'],
    [undefined, 'nothing'],
    ['hello', 'string "hello"'],
    [7, 'number 7'],
    [true, 'boolean true'],
    [[1, 2, 3], 'array of 3'],
    [new Uint8Array(5), 'bytes (5)'],
    [{ toString: () => 'pwned' }, 'map'],
    [10n, 'bigint'],
  ];
  for (const [v, want] of cases) assert.equal(describeValue(v), want);
  const long = describeValue('x'.repeat(100_000));
  assert.ok(long.length < 100, long);
  assert.match(long, /\(100000 characters\)/);
});

test('describeValue never calls the value', () => {
  let called = false;
  const v = { toString: () => ((called = true), 'x'), toJSON: () => ((called = true), 'x') };
  describeValue(v);
  assert.equal(called, false);
});

test('cleanText escapes controls, ANSI escapes, bidi overrides and line separators', () => {
  const s = 'ok\n12:00:00.000 info  forged line\x1b[31mred\x1b[0m\u202eevil\u2028\u0000\x85';
  const clean = cleanText(s);
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(clean), clean);
  assert.match(clean, /\\u000a12:00/);
  assert.match(clean, /\\u001b\[31m/);
});
