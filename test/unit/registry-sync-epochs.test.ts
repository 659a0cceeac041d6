// The fencing epoch map inside RegistrySync: capped, pruned, and sent in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistrySync, EPOCHS_PER_MESSAGE } from '../../src/registry/sync.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import { encode } from '../../src/wire/codec.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { SigningKey } from '../../src/util/signing.js';
import { recordingLogger } from '../helpers/recording-logger.js';

const A = 'alice@h';
const M = 'mallory@h';

function node(opts: { maxEpochNames?: number; epochPruneAfterMs?: number; inUse?: Set<string> } = {}) {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const sent: { to: string; msg: RegistryMessage }[] = [];
  let epochEvents = 0;
  let pruneEvents = 0;
  const sync = new RegistrySync({
    self: { name: A, inc: 'aa' },
    signer: SigningKey.fromSeed(Buffer.alloc(32, 1)),
    clock,
    random: seededRandom(1),
    logger,
    port: { send: (to, msg) => void sent.push({ to, msg }) !== undefined },
    events: { registered() {}, lost() {}, freed() {}, message() {}, reply() {}, epoch: () => void epochEvents++, epochsPruned: () => void pruneEvents++ },
    ...(opts.maxEpochNames ? { maxEpochNames: opts.maxEpochNames } : {}),
    ...(opts.epochPruneAfterMs ? { epochPruneAfterMs: opts.epochPruneAfterMs } : {}),
    epochInUse: (name) => opts.inUse?.has(name) ?? false,
  });
  sync.nodeUp(M, 'bb', SigningKey.fromSeed(Buffer.alloc(32, 2)).publicKey);
  sync.start();
  return { sync, sent, logger, clock, events: () => ({ epochEvents, pruneEvents }) };
}

const flood = (from: number, n: number): RegistryMessage => ({ k: 'epochs', e: Array.from({ length: n }, (_, i): [string, number] => [`flood-${'x'.repeat(200)}-${from + i}`, 1]) });

test('an epoch flood fills the map up to its cap and no further; names in use are still admitted; one warning', () => {
  const inUse = new Set(['Billing']);
  const { sync, logger } = node({ maxEpochNames: 1000, inUse });
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) sync.receive(M, flood(i * 5000, 5000));
  const ms = performance.now() - t0;
  assert.equal(sync.allEpochs().length, 1000);
  assert.ok(ms < 2000, `100,000 flooded names took ${ms.toFixed(0)} ms`);
  sync.receive(M, { k: 'epochs', e: [['Billing', 4]] });
  assert.equal(sync.epochOf('Billing'), 4, 'a name with candidates is admitted even when the map is full');
  // A known name can still rise.
  sync.receive(M, { k: 'epochs', e: [[`flood-${'x'.repeat(200)}-0`, 2]] });
  assert.equal(sync.epochOf(`flood-${'x'.repeat(200)}-0`), 2);
  const warns = logger.lines.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1);
  assert.match(warns[0]!.message, /from mallory@h: the map is full \(1000 names/);
});

test('names nobody holds or stands for are forgotten after the prune window, and not taken back from a member that still sends them', () => {
  const inUse = new Set(['S']);
  const { sync, clock, logger, events } = node({ epochPruneAfterMs: 60_000, inUse });
  sync.receive(M, { k: 'epochs', e: [['S', 3], ['old', 5]] });
  clock.advance(30_000);
  sync.receive(M, { k: 'epochs', e: [['newer', 2]] });
  clock.advance(35_000);
  assert.deepEqual(sync.allEpochs().map(([n]) => n).sort(), ['S', 'newer'], 'old went after 60 s; newer (35 s) and S (in use) stay');
  assert.equal(events().pruneEvents, 1);
  assert.ok(logger.lines.some((l) => l.message === 'forgot the fencing epochs of 1 names nobody has held or stood for in 60 s'));
  sync.receive(M, { k: 'epochs', e: [['old', 5]] });
  assert.equal(sync.epochOf('old'), 0, 'a forgotten epoch is not taken back at the same value');
  sync.receive(M, { k: 'epochs', e: [['old', 6]] });
  assert.equal(sync.epochOf('old'), 6, 'a higher one is news');
  clock.advance(200_000);
  assert.deepEqual(sync.allEpochs().map(([n]) => n), ['S'], 'the name in use is never forgotten');
});

test('epochs go out in chunks under the frame limit: all of them on join, one rotating chunk per anti-entropy round', () => {
  const { sync, sent, clock } = node({ maxEpochNames: 5000 });
  const names = 4 * EPOCHS_PER_MESSAGE + 7;
  // Worst case: names of 255 characters of 3 UTF-8 bytes each.
  sync.receive(M, { k: 'epochs', e: Array.from({ length: names }, (_, i): [string, number] => [`${i}`.padEnd(255, '\u20ac'), 1]) });
  sent.length = 0;
  sync.nodeUp('bob@h', 'cc', SigningKey.fromSeed(Buffer.alloc(32, 2)).publicKey);
  for (let i = 0; i < 5; i++) clock.advance(0);
  const join = sent.filter((s) => s.to === 'bob@h' && s.msg.k === 'epochs').map((s) => s.msg as { e: unknown[] });
  assert.equal(join.length, 5);
  assert.equal(join.reduce((n, m) => n + m.e.length, 0), names);
  for (const m of join) assert.ok(encode(m).length < 1024 * 1024 * 0.5, `${encode(m).length} bytes`);
  assert.equal(sent.at(-1)!.msg.k, 'synced', 'synced comes after every epoch chunk');
  sent.length = 0;
  const seen = new Set<string>();
  for (let round = 0; round < 5; round++) {
    clock.advance(1500);
    for (const s of sent.splice(0)) if (s.msg.k === 'epochs') {
      assert.ok(s.msg.e.length <= EPOCHS_PER_MESSAGE);
      for (const [n] of s.msg.e) seen.add(n);
    }
  }
  assert.equal(seen.size, names, 'every name went out within five rounds');
});
