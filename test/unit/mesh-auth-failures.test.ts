import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALONE_NAMES_SHOWN, aloneMessage, AuthFailureReport } from '../../src/mesh/auth-failures.js';
import { FailureLog, FAILURE_LOGS_PER_WINDOW } from '../../src/mesh/failure-log.js';
import { ManualClock } from '../../src/util/clock.js';
import { recordingLogger } from '../helpers/recording-logger.js';

test('aloneMessage: count, then the most recent names', () => {
  assert.equal(aloneMessage(['bob@host']), 'alone: 1 node on the network failed authentication (different cookie?): bob@host');
  assert.equal(aloneMessage(['bob@host', 'carol@host']), 'alone: 2 nodes on the network failed authentication (different cookie?): bob@host, carol@host');
  const many = Array.from({ length: ALONE_NAMES_SHOWN + 3 }, (_, i) => `n${i}@h`);
  assert.match(aloneMessage(many), new RegExp(`^alone: ${many.length} nodes .*: n3@h, .*, n${many.length - 1}@h and 3 more$`));
});

function setup(): { clock: ManualClock; log: ReturnType<typeof recordingLogger>; r: AuthFailureReport } {
  const clock = new ManualClock();
  const log = recordingLogger();
  const r = new AuthFailureReport(log, new FailureLog(log, () => clock.now()), () => clock.now());
  return { clock, log, r };
}

test('one warning per peer per minute; the claimed name when known, else the address', () => {
  const { clock, log, r } = setup();
  r.failed('bob@host', '10.0.0.5', '10.0.0.5:4000', true);
  r.failed('bob@host', '10.0.0.5', '10.0.0.5:4001', true);
  r.failed(undefined, '10.0.0.6', '10.0.0.6:4000', true);
  clock.advance(59_999);
  r.failed('bob@host', '10.0.0.5', '10.0.0.5:4000', true);
  clock.advance(1);
  r.failed('bob@host', '10.0.0.5', '10.0.0.5:4000', true);
  assert.deepEqual(
    log.lines.filter((l) => l.level === 'warn').map((l) => l.message),
    ['authentication failed with bob@host (10.0.0.5): different cookie?', 'authentication failed with 10.0.0.6 (10.0.0.6): different cookie?', 'authentication failed with bob@host (10.0.0.5): different cookie?'],
  );
  assert.deepEqual(log.lines[0]?.meta, { peer: 'bob@host', addr: '10.0.0.5:4000', code: 'ERR_AUTH_FAILED' });
  assert.equal(log.lines.filter((l) => l.message.startsWith('alone')).length, 0, 'not alone: we have members');
});

test('a claimed name that is not a plain name is escaped', () => {
  const { log, r } = setup();
  r.failed('evil\nname', '10.0.0.5', '10.0.0.5:4000', true);
  assert.equal(log.lines[0]?.message, 'authentication failed with "evil\\u000aname" (10.0.0.5): different cookie?');
});

test('alone: at most once a minute while there is no member, naming the peers of the last minute', () => {
  const { clock, log, r } = setup();
  r.failed('bob@host', '10.0.0.5', '10.0.0.5:4000', false);
  r.failed('carol@host', '10.0.0.6', '10.0.0.6:4000', false);
  clock.advance(60_000);
  r.failed('carol@host', '10.0.0.6', '10.0.0.6:4000', false);
  clock.advance(60_000);
  r.failed('dave@host', '10.0.0.7', '10.0.0.7:4000', true);
  assert.deepEqual(
    log.lines.filter((l) => l.message.startsWith('alone')).map((l) => [l.level, l.message]),
    [
      ['info', 'alone: 1 node on the network failed authentication (different cookie?): bob@host'],
      ['info', 'alone: 1 node on the network failed authentication (different cookie?): carol@host'],
    ],
  );
});

test('one address cycling through claimed names is still limited per address', () => {
  const { log, r } = setup();
  for (let i = 0; i < 100; i++) r.failed(`n${i}@host`, '10.0.0.5', '10.0.0.5:4000', true);
  assert.equal(log.lines.filter((l) => l.level === 'warn').length, FAILURE_LOGS_PER_WINDOW);
});
