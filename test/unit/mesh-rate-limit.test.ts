import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedBuckets, OncePerWindow, TokenBucket } from '../../src/mesh/rate-limit.js';

test('TokenBucket: a full burst, then the sustained rate', () => {
  const b = new TokenBucket({ capacity: 3, perSecond: 2 }, 0);
  // [now, take() expected]
  const steps: [number, boolean][] = [
    [0, true],
    [0, true],
    [0, true],
    [0, false],
    [499, false],
    [500, true],
    [500, false],
    [1000, true],
    [10_000, true],
    [10_000, true],
    [10_000, true],
    [10_000, false],
  ];
  for (const [now, want] of steps) assert.equal(b.take(now), want, `take at ${now}`);
});

test('TokenBucket.waitMs: time until the next token', () => {
  const b = new TokenBucket({ capacity: 1, perSecond: 4 }, 0);
  assert.equal(b.waitMs(0), 0);
  b.take(0);
  assert.equal(b.waitMs(0), 250);
  assert.equal(b.waitMs(100), 150);
  assert.equal(b.waitMs(250), 0);
});

test('TokenBucket: grants at most capacity + rate × T over any interval T', () => {
  const b = new TokenBucket({ capacity: 8, perSecond: 2 }, 0);
  let granted = 0;
  for (let t = 0; t <= 10_000; t += 7) if (b.take(t)) granted++;
  assert.ok(granted <= 8 + 2 * 10, `granted ${granted}`);
  assert.ok(granted >= 8 + 2 * 10 - 1, `granted ${granted}`);
});

test('TokenBucket: time going backwards neither adds nor removes tokens', () => {
  const b = new TokenBucket({ capacity: 1, perSecond: 1 }, 1000);
  assert.equal(b.take(1000), true);
  assert.equal(b.take(500), false);
  assert.equal(b.take(1999), false);
  assert.equal(b.take(2000), true);
});

test('KeyedBuckets: one bucket per key, never more than maxKeys, full buckets evicted first', () => {
  const k = new KeyedBuckets({ capacity: 1, perSecond: 1 }, 2);
  assert.equal(k.get('a', 0).take(0), true);
  assert.equal(k.get('a', 0).take(0), false, 'a is spent');
  k.get('b', 0); // full
  k.get('c', 0); // evicts b (full), keeps a (spent)
  assert.equal(k.size, 2);
  assert.equal(k.get('a', 0).take(0), false, 'a is still spent');
});

test('OncePerWindow: one per key per window', () => {
  const o = new OncePerWindow(60_000, 2);
  const steps: [string, number, boolean][] = [
    ['bob', 0, true],
    ['bob', 59_999, false],
    ['carol', 1, true],
    ['bob', 60_000, true],
    ['dave', 60_001, true], // evicts carol (expired)
    ['carol', 60_002, true],
  ];
  for (const [key, now, want] of steps) assert.equal(o.allow(key, now), want, `${key} at ${now}`);
});
