// The handshake timing rules (src/membership/timing.ts) as tables: the deadline a
// handshake gets (stretched by our own recent event-loop lag, at most doubled) and how
// long an inbound connection may wait in our handshake queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialHandshakeDeadlineMs, handshakeDeadlineMs, handshakeQueueWaitMs } from '../../src/membership/timing.js';

test('handshakeDeadlineMs: the timeout plus twice our recent lag, at most twice the timeout', () => {
  const cases: [timeout: number, lag: number, deadline: number][] = [
    [5000, 0, 5000],
    [5000, -5, 5000],
    [5000, 20, 5040],
    [5000, 1500, 8000],
    [5000, 2500, 10_000],
    [5000, 60_000, 10_000],
    [1000, 100, 1200],
    [1000, 700, 2000],
  ];
  for (const [timeout, lag, deadline] of cases) assert.equal(handshakeDeadlineMs(timeout, lag), deadline, `timeout ${timeout}, lag ${lag}`);
});

test('handshakeQueueWaitMs: half the timeout, so the peer, whose deadline ran from before it connected, keeps the other half', () => {
  const cases: [number, number][] = [
    [5000, 2500],
    [1000, 500],
  ];
  for (const [timeout, wait] of cases) {
    assert.equal(handshakeQueueWaitMs(timeout), wait);
    assert.ok(handshakeQueueWaitMs(timeout) < handshakeDeadlineMs(timeout, 0));
  }
});

test('dialHandshakeDeadlineMs: a dial waits out the peer\'s longest queue wait, then a whole (stretched) handshake deadline', () => {
  const cases: [timeout: number, lag: number, deadline: number][] = [
    [5000, 0, 7500],
    [5000, 1500, 10_500],
    [5000, 60_000, 12_500],
    [1000, 0, 1500],
  ];
  for (const [timeout, lag, deadline] of cases) {
    assert.equal(dialHandshakeDeadlineMs(timeout, lag), deadline, `timeout ${timeout}, lag ${lag}`);
    assert.equal(dialHandshakeDeadlineMs(timeout, lag) - handshakeQueueWaitMs(timeout), handshakeDeadlineMs(timeout, lag));
  }
});
