import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpochSaver, FAILURE_LOG_INTERVAL_MS } from '../../src/util/epoch-saver.js';
import { ManualClock } from '../../src/util/clock.js';
import { recordingLogger } from '../helpers/recording-logger.js';

function saver(fail: { now: boolean }) {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const writes: [string, number][][] = [];
  const epochs = new Map<string, number>();
  const turns: (() => void)[] = [];
  const s = new EpochSaver({
    path: '/state/a.epochs.json',
    snapshot: () => [...epochs],
    clock,
    logger,
    write: (_path, e) => {
      if (fail.now) throw Object.assign(new Error("EACCES: permission denied, open '/state/a.epochs.json.1.tmp'"), { code: 'EACCES' });
      writes.push([...e]);
    },
    defer: (fn) => {
      turns.push(fn);
      return { cancel: () => turns.splice(turns.indexOf(fn), 1) };
    },
  });
  /** End the current turn of the event loop: run what was deferred, then let promises settle. */
  const endTurn = async (): Promise<void> => {
    for (const fn of turns.splice(0)) fn();
    for (let i = 0; i < 3; i++) await Promise.resolve();
  };
  return { s, clock, logger, writes, epochs, endTurn };
}

test('many epoch changes in one turn are one write', async () => {
  const { s, writes, epochs, endTurn } = saver({ now: false });
  for (let i = 0; i < 1000; i++) {
    epochs.set(`n${i}`, 1);
    s.markDirty();
  }
  assert.equal(writes.length, 0, 'nothing is written inside the turn');
  await endTurn();
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.length, 1000);
  await endTurn();
  assert.equal(writes.length, 1, 'no write without a change');
});

test('flush resolves true only after the write that covers every earlier change', async () => {
  const { s, writes, epochs, endTurn } = saver({ now: false });
  assert.equal(await s.flush(), true, 'nothing pending: saved already');
  epochs.set('S', 4);
  s.markDirty();
  let result: boolean | undefined;
  void s.flush().then((ok) => (result = ok));
  await Promise.resolve();
  assert.equal(result, undefined, 'not before the write');
  await endTurn();
  assert.equal(result, true);
  assert.deepEqual(writes, [[['S', 4]]]);
});

test('a failing save: flush is false, the error names the file and the OS error, logged once per interval; success later is reported', async () => {
  const fail = { now: true };
  const { s, clock, logger, epochs, endTurn } = saver(fail);
  epochs.set('S', 2);
  s.markDirty();
  const results: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    const p = s.flush().then((ok) => void results.push(ok));
    await endTurn();
    await p;
  }
  assert.deepEqual(results, [false, false, false, false, false], 'a failed save is retried by each flush and fails again');
  const errors = logger.lines.filter((l) => l.level === 'error').map((l) => l.message);
  assert.deepEqual(errors, [
    "cannot save fencing epochs in /state/a.epochs.json: EACCES: permission denied, open '/state/a.epochs.json.1.tmp'; no tenure starts and no quorum grant is given until they are saved",
  ]);
  clock.advance(FAILURE_LOG_INTERVAL_MS);
  const again = s.flush();
  await endTurn();
  assert.equal(await again, false);
  assert.equal(logger.lines.filter((l) => l.level === 'error').length, 2);
  fail.now = false;
  const ok = s.flush();
  await endTurn();
  assert.equal(await ok, true);
  assert.ok(logger.lines.some((l) => l.level === 'info' && l.message === 'fencing epochs saved again in /state/a.epochs.json'));
});

test('stop writes what is pending and schedules nothing more', async () => {
  const { s, writes, epochs, endTurn } = saver({ now: false });
  epochs.set('S', 9);
  s.markDirty();
  s.stop();
  assert.deepEqual(writes, [[['S', 9]]]);
  s.markDirty();
  await endTurn();
  assert.equal(writes.length, 1);
  assert.equal(await s.flush(), false);
});
