// The fencing-epoch book (src/singleton/epochs.ts), inside the node's replica: poisoned
// epochs dropped and logged (rate-limited), the map capped, pruned, and sent in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigningKey } from '../../src/util/signing.js';
import { EPOCHS_PER_MESSAGE } from '../../src/singleton/epochs.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import { MAX_COUNTER_JUMP } from '../../src/registry/bounds.js';
import { encode } from '../../src/wire/codec.js';
import { M, replicaProbe } from '../helpers/replica-probe.js';

function node(opts: { maxEpochNames?: number; epochPruneAfterMs?: number; inUse?: Set<string> } = {}) {
  let epochEvents = 0;
  let pruneEvents = 0;
  const probe = replicaProbe({
    events: { registered() {}, lost() {}, freed() {}, epoch: () => void epochEvents++, epochsPruned: () => void pruneEvents++ },
    ...(opts.maxEpochNames ? { maxEpochNames: opts.maxEpochNames } : {}),
    ...(opts.epochPruneAfterMs ? { epochPruneAfterMs: opts.epochPruneAfterMs } : {}),
    epochInUse: (name) => opts.inUse?.has(name) ?? false,
  });
  return { ...probe, book: probe.replica.epochs, events: () => ({ epochEvents, pruneEvents }) };
}

const flood = (from: number, n: number): RegistryMessage => ({ k: 'epochs', e: Array.from({ length: n }, (_, i): [string, number] => [`flood-${'x'.repeat(200)}-${from + i}`, 1]) });

test('the huge-epoch poison is dropped and logged once, and the epoch stays sane', () => {
  const { replica, book, warns } = node();
  replica.receive(M, { k: 'epochs', e: [['Singleton', 3]] });
  for (const poison of [2 ** 53 - 1, 2 ** 53, 2 ** 60, -1, 1.5, Number.NaN, 3 + MAX_COUNTER_JUMP + 1]) {
    assert.doesNotThrow(() => replica.receive(M, { k: 'epochs', e: [['Singleton', poison]] }));
  }
  assert.equal(book.epochOf('Singleton'), 3);
  const w = warns();
  assert.equal(w.length, 1, w.join('\n'));
  assert.match(w[0]!, /^dropped epoch 9007199254740991 for "Singleton" from mallory@h: too-high$/);
  // A step within the bound is believed.
  replica.receive(M, { k: 'epochs', e: [['Singleton', 3 + MAX_COUNTER_JUMP]] });
  assert.equal(book.epochOf('Singleton'), 3 + MAX_COUNTER_JUMP);
});

test('the drop log is rate-limited and then reports how many it held back', () => {
  const { replica, book, warns, clock } = node();
  for (let i = 0; i < 50; i++) replica.receive(M, { k: 'epochs', e: [[`n${i}`, 2 ** 53 - 1]] });
  assert.equal(warns().length, 1);
  clock.advance(10_000);
  replica.receive(M, { k: 'epochs', e: [['x', 2 ** 53 - 1]] });
  assert.equal(warns().length, 2);
  assert.match(warns()[1]!, /and 49 more dropped/);
  assert.deepEqual(book.all(), []);
});

test('an epoch flood fills the map up to its cap and no further; names in use are still admitted; one warning', () => {
  const inUse = new Set(['Billing']);
  const { replica, book, warns } = node({ maxEpochNames: 1000, inUse });
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) replica.receive(M, flood(i * 5000, 5000));
  const ms = performance.now() - t0;
  assert.equal(book.all().length, 1000);
  assert.ok(ms < 2000, `100,000 flooded names took ${ms.toFixed(0)} ms`);
  replica.receive(M, { k: 'epochs', e: [['Billing', 4]] });
  assert.equal(book.epochOf('Billing'), 4, 'a name with candidates is admitted even when the map is full');
  // A known name can still rise.
  replica.receive(M, { k: 'epochs', e: [[`flood-${'x'.repeat(200)}-0`, 2]] });
  assert.equal(book.epochOf(`flood-${'x'.repeat(200)}-0`), 2);
  assert.equal(warns().length, 1);
  assert.match(warns()[0]!, /from mallory@h: the map is full \(1000 names/);
});

test('names nobody holds or stands for are forgotten after the prune window, and not taken back from a member that still sends them', () => {
  const inUse = new Set(['S']);
  const { replica, book, clock, logger, events } = node({ epochPruneAfterMs: 60_000, inUse });
  replica.receive(M, { k: 'epochs', e: [['S', 3], ['old', 5]] });
  clock.advance(30_000);
  replica.receive(M, { k: 'epochs', e: [['newer', 2]] });
  clock.advance(35_000);
  assert.deepEqual(book.all().map(([n]) => n).sort(), ['S', 'newer'], 'old went after 60 s; newer (35 s) and S (in use) stay');
  assert.equal(events().pruneEvents, 1);
  assert.ok(logger.lines.some((l) => l.message === 'forgot the fencing epochs of 1 names nobody has held or stood for in 60 s'));
  replica.receive(M, { k: 'epochs', e: [['old', 5]] });
  assert.equal(book.epochOf('old'), 0, 'a forgotten epoch is not taken back at the same value');
  replica.receive(M, { k: 'epochs', e: [['old', 6]] });
  assert.equal(book.epochOf('old'), 6, 'a higher one is news');
  clock.advance(200_000);
  assert.deepEqual(book.all().map(([n]) => n), ['S'], 'the name in use is never forgotten');
});

test('a held name keeps its epoch from pruning; each rise is reported once for saving', () => {
  const { replica, book, clock, events } = node({ epochPruneAfterMs: 60_000 });
  replica.receive(M, { k: 'delta', d: { owner: M, inc: 'bb', base: 0, version: 1, floor: 0, entries: [{ name: 'held', stamp: [1, 0], version: 1, released: false, epoch: 7 }] }, h: [1, 0] });
  replica.receive(M, { k: 'epochs', e: [['held', 7], ['held', 6]] });
  assert.equal(events().epochEvents, 1);
  clock.advance(300_000);
  assert.equal(book.epochOf('held'), 7);
});

test('epochs go out in chunks under the frame limit: all of them on join, one rotating chunk per anti-entropy round', () => {
  const { replica, sent, clock } = node({ maxEpochNames: 5000 });
  const names = 4 * EPOCHS_PER_MESSAGE + 7;
  // Worst case: names of 255 characters of 3 UTF-8 bytes each.
  replica.receive(M, { k: 'epochs', e: Array.from({ length: names }, (_, i): [string, number] => [`${i}`.padEnd(255, '\u20ac'), 1]) });
  sent.length = 0;
  replica.nodeUp('bob@h', 'cc', SigningKey.fromSeed(Buffer.alloc(32, 9)).publicKey);
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
