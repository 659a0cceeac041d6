import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLog, failureLogVerdict, logSafe, FAILURE_LOGS_PER_WINDOW, FAILURE_DEBUG_LOGS_PER_WINDOW } from '../../src/mesh/failure-log.js';
import { ManualClock } from '../../src/util/clock.js';
import { recordingLogger } from '../helpers/recording-logger.js';

test('failureLogVerdict: N at their level, then M at debug, then dropped', () => {
  const cases: [number, string][] = [
    [1, 'log'],
    [FAILURE_LOGS_PER_WINDOW, 'log'],
    [FAILURE_LOGS_PER_WINDOW + 1, 'debug'],
    [FAILURE_LOGS_PER_WINDOW + FAILURE_DEBUG_LOGS_PER_WINDOW, 'debug'],
    [FAILURE_LOGS_PER_WINDOW + FAILURE_DEBUG_LOGS_PER_WINDOW + 1, 'drop'],
    [1_000_000, 'drop'],
  ];
  for (const [n, want] of cases) assert.equal(failureLogVerdict(n), want, `n=${n}`);
});

test('FailureLog: per address and window; a summary when a noisy window ends', () => {
  const clock = new ManualClock();
  const log = recordingLogger();
  const f = new FailureLog(log, () => clock.now());
  for (let i = 0; i < 1000; i++) f.note('10.0.0.9', 'handshake failed', { i });
  f.note('10.0.0.8', 'handshake failed', {});
  const warns = log.lines.filter((l) => l.level === 'warn');
  assert.equal(warns.length, FAILURE_LOGS_PER_WINDOW + 1, 'five for .9, one for .8');
  assert.equal(log.lines.filter((l) => l.level === 'debug').length, FAILURE_DEBUG_LOGS_PER_WINDOW);
  clock.advance(60_001);
  f.note('10.0.0.9', 'handshake failed', {});
  const summary = log.lines.find((l) => l.message === 'more connection failures from this address were logged at debug level');
  assert.deepEqual(summary?.meta, { addr: '10.0.0.9', count: 1000 - FAILURE_LOGS_PER_WINDOW });
  assert.equal(log.lines.at(-1)?.level, 'warn', 'a new window logs again');
});

test('FailureLog: a debug-level line stays at debug and is limited too', () => {
  const clock = new ManualClock();
  const log = recordingLogger();
  const f = new FailureLog(log, () => clock.now());
  for (let i = 0; i < 500; i++) f.note('10.0.0.9', 'dial failed', {}, 'debug');
  assert.equal(log.lines.length, FAILURE_LOGS_PER_WINDOW + FAILURE_DEBUG_LOGS_PER_WINDOW);
  assert.ok(log.lines.every((l) => l.level === 'debug'));
});

test('FailureLog: each kind of failure has its own count, so one cannot hide another', () => {
  const clock = new ManualClock();
  const log = recordingLogger();
  const f = new FailureLog(log, () => clock.now());
  for (let i = 0; i < 100; i++) f.note('10.0.0.9', 'too many connections in their handshake from this address; refusing', {});
  f.note('10.0.0.9', 'handshake failed', {});
  assert.equal(log.lines.filter((l) => l.level === 'warn' && l.message === 'handshake failed').length, 1);
});

test('logSafe: names pass as they are; anything else is escaped and capped', () => {
  const cases: [unknown, string][] = [
    ['bob@host', 'bob@host'],
    ['10.0.0.5', '10.0.0.5'],
    ['a\nb', '"a\\u000ab"'],
    ['x'.repeat(100), `"${'x'.repeat(64)}… (100 characters)"`],
    [42, 'number 42'],
    [{ toString: () => 'boom' }, 'map'],
  ];
  for (const [v, want] of cases) assert.equal(logSafe(v), want);
});
