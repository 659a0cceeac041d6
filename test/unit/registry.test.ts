// Table tests of the registry's pure rules: the hybrid logical clock, the claim order,
// RegistryState's write/merge/deltaSince/collect/dropOwner/winner, and the validation
// of registry messages. Everything here is plain data; no timers, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareStamps, HybridClock, isStamp, MAX_HLC_DRIFT_MS } from '../../src/registry/hlc.js';
import type { Stamp } from '../../src/registry/hlc.js';
import { compareClaims, RegistryState } from '../../src/registry/registry.js';
import type { Claim, Delta } from '../../src/registry/registry.js';
import { MAX_DELTA_ENTRIES, MAX_REGISTERED_NAME, parseRegistryMessage } from '../../src/registry/messages.js';
import type { RegistryMessage } from '../../src/registry/messages.js';
import type { Clock } from '../../src/util/clock.js';
import { decode, encode } from '../../src/wire/codec.js';
import { isClusterError } from '../../src/errors.js';
import { antiEntropyDelayMs, QUIET_ROUNDS, QUIET_SLOWDOWN } from '../../src/registry/sync.js';

/** A clock whose wall time is set by hand, and may go backwards. */
class WallClock implements Clock {
  constructor(public wall: number) {}
  now(): number {
    return this.wall;
  }
  wallNow(): number {
    return this.wall;
  }
  setTimeout(): { id: number } {
    throw new Error('WallClock has no timers');
  }
  clearTimeout(): void {}
}

const A = 'alice@host';
const B = 'bob@host';
const INC = 'a1';

/** A delta message for owner A as the wire would carry it, validated like an incoming one. */
function wire(d: Delta): Delta {
  const m = parseRegistryMessage(decode(encode({ k: 'delta', d, h: [1, 0] }))) as Extract<RegistryMessage, { k: 'delta' }>;
  return m.d;
}

function activeNames(s: RegistryState): string[] {
  return [...s.holders().keys()].sort();
}

// ---- HLC ------------------------------------------------------------------------------

test('hlc: now() is strictly increasing even when the wall clock goes backwards', () => {
  const clock = new WallClock(1000);
  const hlc = new HybridClock(clock);
  const table: [wall: number, expected: Stamp][] = [
    [1000, [1000, 0]],
    [1000, [1000, 1]],
    [999, [1000, 2]],
    [500, [1000, 3]],
    [1000, [1000, 4]],
    [1001, [1001, 0]],
    [0, [1001, 1]],
  ];
  let prev: Stamp | undefined;
  for (const [wall, expected] of table) {
    clock.wall = wall;
    const s = hlc.now();
    assert.deepEqual(s, expected, `wall ${wall}`);
    if (prev) assert.ok(compareStamps(s, prev) > 0, `${s} after ${prev}`);
    prev = s;
  }
});

test('hlc: observe() advances past a remote stamp; now() is then later than it', () => {
  const cases: { what: string; wall: number; before?: number; remote: Stamp; after: Stamp }[] = [
    { what: 'remote ahead within drift', wall: 1000, remote: [1500, 3], after: [1500, 4] },
    { what: 'remote at the same ms', wall: 1000, remote: [1000, 7], after: [1000, 8] },
    { what: 'remote behind wall', wall: 1000, remote: [900, 9], after: [1000, 0] },
    { what: 'remote behind our last stamp', wall: 1000, before: 1200, remote: [1100, 50], after: [1200, 1] },
    { what: 'remote exactly at the drift limit', wall: 1000, remote: [1000 + MAX_HLC_DRIFT_MS, 0], after: [1000 + MAX_HLC_DRIFT_MS, 1] },
  ];
  for (const c of cases) {
    const clock = new WallClock(c.before ?? c.wall);
    const hlc = new HybridClock(clock);
    if (c.before !== undefined) hlc.now(); // last = [before, 0]
    clock.wall = c.wall;
    hlc.observe(c.remote);
    assert.deepEqual(hlc.peek(), c.after, c.what);
    const next = hlc.now();
    assert.ok(compareStamps(next, c.remote) > 0, `${c.what}: now() ${next} after remote ${c.remote}`);
  }
});

test('hlc: an absurd future stamp (beyond MAX_HLC_DRIFT_MS) is ignored', () => {
  const clock = new WallClock(1000);
  const hlc = new HybridClock(clock);
  const before = hlc.now();
  for (const remote of [[1001 + MAX_HLC_DRIFT_MS, 0], [Number.MAX_SAFE_INTEGER, 0], [10 ** 15, 5]] as Stamp[]) {
    hlc.observe(remote);
    assert.deepEqual(hlc.peek(), before, `remote ${remote}`);
  }
  assert.deepEqual(hlc.now(), [1000, 1]);
});

test('hlc: isStamp accepts only pairs of non-negative safe integers', () => {
  const good: unknown[] = [[0, 0], [1_700_000_000_000, 3], [Number.MAX_SAFE_INTEGER, 0]];
  const bad: unknown[] = [[], [1], [1, 2, 3], [-1, 0], [0, -1], [1.5, 0], [0, NaN], ['1', 0], [2 ** 53, 0], { 0: 1, 1: 2, length: 2 }, null, 'x'];
  for (const v of good) assert.ok(isStamp(v), JSON.stringify(v));
  for (const v of bad) assert.ok(!isStamp(v), JSON.stringify(v));
});

// ---- claim order ------------------------------------------------------------------------

function claim(owner: string, incarnation: string, stamp: Stamp): Claim {
  return { name: 'n', owner, incarnation, stamp, version: 1 };
}

test('compareClaims: earliest stamp, then owner name, then incarnation', () => {
  const table: [a: Claim, b: Claim, sign: -1 | 0 | 1][] = [
    [claim(B, '1', [10, 0]), claim(A, '1', [11, 0]), -1], // stamp beats name
    [claim(B, '1', [10, 0]), claim(A, '1', [10, 1]), -1], // logical counter counts
    [claim(A, '2', [10, 0]), claim(B, '1', [10, 0]), -1], // same stamp: owner name
    [claim(A, '1', [10, 0]), claim(A, '2', [10, 0]), -1], // same owner: incarnation
    [claim(A, 'ff', [10, 0]), claim(A, 'ff', [10, 0]), 0],
    [claim(A, '1', [12, 0]), claim(A, '2', [10, 9]), 1],
  ];
  for (const [a, b, sign] of table) {
    assert.equal(Math.sign(compareClaims(a, b)), sign, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.equal(Math.sign(compareClaims(b, a)), -sign || 0, 'antisymmetric');
  }
});

test('compareClaims is a total order (property)', () => {
  const arbClaim = fc
    .record({
      owner: fc.constantFrom(A, B, 'carol@host'),
      incarnation: fc.constantFrom('1', '2', 'a'),
      wall: fc.integer({ min: 0, max: 3 }),
      logical: fc.integer({ min: 0, max: 2 }),
    })
    .map((r) => claim(r.owner, r.incarnation, [r.wall, r.logical]));
  fc.assert(
    fc.property(arbClaim, arbClaim, arbClaim, (a, b, c) => {
      assert.equal(Math.sign(compareClaims(a, b)), -Math.sign(compareClaims(b, a)) || 0);
      if (compareClaims(a, b) === 0) assert.deepEqual([a.owner, a.incarnation, a.stamp], [b.owner, b.incarnation, b.stamp]);
      if (compareClaims(a, b) <= 0 && compareClaims(b, c) <= 0) assert.ok(compareClaims(a, c) <= 0, 'transitive');
    }),
    { seed: 1, numRuns: 500 },
  );
});

// ---- RegistryState: write, winner, dropOwner -----------------------------------------------

test('write bumps the owner version by one per change; released entries leave a tombstone', () => {
  const s = new RegistryState();
  assert.equal(s.write(A, INC, 'x', [10, 0], false).version, 1);
  assert.equal(s.write(A, INC, 'y', [11, 0], false).version, 2);
  assert.equal(s.write(A, INC, 'x', [10, 0], true).version, 3);
  assert.deepEqual(s.ownerDigest(A, INC), { owner: A, inc: INC, version: 3, floor: 0 });
  assert.deepEqual(activeNames(s), ['y']);
  assert.equal(s.claimOf(A, INC, 'x'), undefined);
  assert.equal(s.tombstones(), 1);
  assert.equal(s.size, 1);
});

test('winner: earliest claim among owners; the next one takes over when it is dropped', () => {
  const s = new RegistryState();
  s.write(B, '1', 'x', [20, 0], false);
  s.write(A, '1', 'x', [20, 0], false); // same stamp: alice < bob
  s.write('carol@host', '1', 'x', [10, 0], false);
  assert.equal(s.winner('x')?.owner, 'carol@host');
  assert.deepEqual(s.dropOwner('carol@host', '1'), ['x']);
  assert.equal(s.winner('x')?.owner, A);
  s.write(A, '1', 'x', [20, 0], true);
  assert.equal(s.winner('x')?.owner, B);
  assert.deepEqual(s.dropOwner(A, '1'), [], 'only active names are returned');
  assert.deepEqual(s.dropOwner(B, '1'), ['x']);
  assert.equal(s.winner('x'), undefined);
  assert.equal(s.size, 0);
  assert.deepEqual(s.ownerIds(), []);
  assert.deepEqual(s.dropOwner(B, '1'), [], 'unknown owner');
});

test('dropOwner forgets one incarnation only', () => {
  const s = new RegistryState();
  s.write(A, '1', 'x', [10, 0], false);
  s.write(A, '2', 'y', [11, 0], false);
  assert.deepEqual(s.dropOwner(A, '1'), ['x']);
  assert.deepEqual(activeNames(s), ['y']);
  assert.deepEqual(s.ownerIds(), [{ owner: A, inc: '2' }]);
});

// ---- RegistryState: deltaSince -----------------------------------------------------------------

/** Owner A with names n1..n5 claimed (v1..v5), n2 and n4 released (v6, v7). */
function history(): RegistryState {
  const s = new RegistryState();
  for (let i = 1; i <= 5; i++) s.write(A, INC, `n${i}`, [100 + i, 0], false);
  s.write(A, INC, 'n2', [102, 0], true);
  s.write(A, INC, 'n4', [104, 0], true);
  return s;
}

test('deltaSince: chunks are contiguous, cover (since, version], and carry only the latest entry per name', () => {
  const table: { since: number; max: number; chunks: [base: number, version: number, names: string[]][] }[] = [
    { since: 0, max: Infinity, chunks: [[0, 7, ['n1', 'n3', 'n5', 'n2', 'n4']]] },
    { since: 0, max: 2, chunks: [[0, 3, ['n1', 'n3']], [3, 6, ['n5', 'n2']], [6, 7, ['n4']]] },
    { since: 0, max: 5, chunks: [[0, 7, ['n1', 'n3', 'n5', 'n2', 'n4']]] },
    { since: 0, max: 4, chunks: [[0, 6, ['n1', 'n3', 'n5', 'n2']], [6, 7, ['n4']]] },
    { since: 3, max: 1, chunks: [[3, 5, ['n5']], [5, 6, ['n2']], [6, 7, ['n4']]] },
    { since: 6, max: 10, chunks: [[6, 7, ['n4']]] },
    { since: 7, max: 10, chunks: [] },
    { since: 9, max: 10, chunks: [] },
  ];
  const s = history();
  for (const { since, max, chunks } of table) {
    const out = s.deltaSince(A, INC, since, max);
    assert.deepEqual(
      out.map((d) => [d.base, d.version, d.entries.map((e) => e.name)]),
      chunks,
      `since ${since} max ${max}`,
    );
    for (const d of out) wire(d); // each chunk is a valid message
  }
  assert.deepEqual(s.deltaSince(B, INC, 0), [], 'unknown owner');
});

test('deltaSince: when the newest changes were superseded, the single chunk still closes at the owner version', () => {
  const s = new RegistryState();
  s.write(A, INC, 'x', [1, 0], false); // v1
  s.write(A, INC, 'x', [1, 0], true); // v2
  s.collect({ owner: A, inc: INC }, 2);
  const [d, ...rest] = s.deltaSince(A, INC, 0, 3);
  assert.deepEqual(rest, []);
  assert.deepEqual(d, { owner: A, inc: INC, base: 0, version: 2, floor: 2, entries: [] });
});

test('deltaSince: every chunk is a valid message when the floor is above an early chunk', () => {
  // 4 live names (v1..v4), then 3 names claimed and released (v5..v10), collected: floor 10.
  const s = new RegistryState();
  for (let i = 1; i <= 4; i++) s.write(A, INC, `live${i}`, [i, 0], false);
  for (let i = 1; i <= 3; i++) {
    s.write(A, INC, `gone${i}`, [10 + i, 0], false);
    s.write(A, INC, `gone${i}`, [10 + i, 0], true);
  }
  s.collect({ owner: A, inc: INC }, 10);
  const chunks = s.deltaSince(A, INC, 0, 2);
  assert.deepEqual(chunks.map((d) => [d.base, d.version]), [[0, 2], [2, 10]]);
  for (const d of chunks) assert.doesNotThrow(() => wire(d), `chunk (${d.base}, ${d.version}] floor ${d.floor}`);
  const r = new RegistryState();
  for (const d of chunks) r.merge(wire(d));
  assert.equal(r.snapshot(), s.snapshot());
  assert.deepEqual(r.ownerDigest(A, INC), { owner: A, inc: INC, version: 10, floor: 10 });
});

test('deltaSince of a third party that holds out-of-order entries is a valid message and claims no gap it has', () => {
  const owner = history(); // version 7
  const [d1, d2] = owner.deltaSince(A, INC, 0, 3); // (0,5] n1 n3 n5 ; (5,7] n2 n4
  const third = new RegistryState();
  third.merge(d2!); // out of order: third holds v6, v7 but its contiguous version is 0
  assert.equal(third.ownerDigest(A, INC)?.version, 0);
  assert.deepEqual(third.deltaSince(A, INC, 0), [], 'nothing contiguous to offer');
  third.merge(owner.deltaSince(A, INC, 0, 1)[0]!); // (0,1] n1
  assert.equal(third.ownerDigest(A, INC)?.version, 1);
  for (const d of third.deltaSince(A, INC, 0)) {
    assert.doesNotThrow(() => wire(d), `(${d.base}, ${d.version}] ${JSON.stringify(d.entries.map((e) => e.version))}`);
    assert.ok(d.version <= 1, 'a third party never claims versions it has not got contiguously');
  }
  const fourth = new RegistryState();
  for (const d of third.deltaSince(A, INC, 0)) fourth.merge(d);
  fourth.merge(d1!);
  fourth.merge(d2!);
  assert.equal(fourth.snapshot(), owner.snapshot());
});

// ---- RegistryState: merge -----------------------------------------------------------------------

test('merge: in order, out of order and with duplicates gives the same state', () => {
  const owner = new RegistryState();
  const pushes: Delta[] = [];
  const push = (name: string, released: boolean): void => {
    const e = owner.write(A, INC, name, [e0(name), 0], released);
    pushes.push({ owner: A, inc: INC, base: e.version - 1, version: e.version, floor: 0, entries: [e] });
  };
  const e0 = (name: string): number => name.charCodeAt(0);
  push('x', false); // v1
  push('y', false); // v2
  push('x', true); // v3
  push('z', false); // v4
  const orders = [
    [0, 1, 2, 3],
    [3, 2, 1, 0],
    [2, 0, 3, 1],
    [1, 1, 3, 0, 2, 2, 0],
  ];
  for (const order of orders) {
    const r = new RegistryState();
    for (const i of order) r.merge(pushes[i]!);
    assert.equal(r.snapshot(), owner.snapshot(), `order ${order}`);
    assert.deepEqual(activeNames(r), ['y', 'z'], `order ${order}`);
  }
  // In order, the contiguous version follows; out of order it waits for anti-entropy.
  const r = new RegistryState();
  for (const d of pushes) r.merge(d);
  assert.equal(r.ownerDigest(A, INC)?.version, 4);
});

test('merge: the contiguous version advances only when a delta starts at or below it', () => {
  const owner = history();
  const r = new RegistryState();
  const steps: [base: number, max: number, expectVersion: number][] = [
    [5, 10, 0], // (5,7]: a gap, entries kept but version stays
    [2, 10, 0], // (2,7]: still a gap at (0,2]
    [0, 1, 1], // (0,1]: closes to 1
    [1, 1, 3], // (1,3]: n3 (n2 is later) -> 3
    [0, 100, 7], // everything
  ];
  for (const [since, max, expected] of steps) {
    r.merge(owner.deltaSince(A, INC, since, max)[0]!);
    assert.equal(r.ownerDigest(A, INC)?.version, expected, `after delta since ${since}`);
  }
  assert.equal(r.snapshot(), owner.snapshot());
});

test('merge: returns the changed names, and nothing for a duplicate', () => {
  const owner = history();
  const r = new RegistryState();
  const d = owner.deltaSince(A, INC, 0)[0]!;
  assert.deepEqual(r.merge(d).sort(), ['n1', 'n2', 'n3', 'n4', 'n5']);
  assert.deepEqual(r.merge(d), []);
  assert.deepEqual(r.merge(owner.deltaSince(A, INC, 3)[0]!), []);
});

test('merge: a tombstone beats the active entry it replaces, whichever arrives first', () => {
  const active: Delta = { owner: A, inc: INC, base: 0, version: 1, floor: 0, entries: [{ name: 'x', stamp: [5, 0], version: 1, released: false }] };
  const tomb: Delta = { owner: A, inc: INC, base: 1, version: 2, floor: 0, entries: [{ name: 'x', stamp: [5, 0], version: 2, released: true }] };
  for (const order of [[active, tomb], [tomb, active]]) {
    const r = new RegistryState();
    for (const d of order) r.merge(d);
    assert.equal(r.winner('x'), undefined);
    assert.equal(r.tombstones(), 1);
  }
});

test('collect: tombstones at or below the floor go; a delta floor collects only up to the contiguous version', () => {
  const owner = history(); // tombstones n2 (v6), n4 (v7)
  owner.collect({ owner: A, inc: INC }, 6);
  assert.equal(owner.tombstones(), 1, 'n4 (v7) above the floor stays');
  owner.collect({ owner: A, inc: INC }, 5);
  assert.equal(owner.ownerDigest(A, INC)?.floor, 6, 'the floor never goes down');
  const r = new RegistryState();
  // Tombstones arrive out of order with floor 6, but r has nothing contiguous yet: keep them.
  r.merge({ owner: A, inc: INC, base: 5, version: 7, floor: 6, entries: [{ name: 'n2', stamp: [102, 0], version: 6, released: true }, { name: 'n4', stamp: [104, 0], version: 7, released: true }] });
  assert.equal(r.tombstones(), 2);
  assert.equal(r.ownerDigest(A, INC)?.floor, 0);
  r.merge(owner.deltaSince(A, INC, 0, 100)[0]!); // (0,7] floor 6: closes the gap and collects n2
  assert.deepEqual(r.ownerDigest(A, INC), { owner: A, inc: INC, version: 7, floor: 6 });
  assert.equal(r.tombstones(), 1);
  assert.equal(r.snapshot(), owner.snapshot());
});

/** Owner A claimed x (v1) then released it (v2) and collected the tombstone: the stale push of v1, and the full delta (0,2] without x. */
function collectedRelease(): { owner: RegistryState; stale: Delta; full: Delta } {
  const owner = new RegistryState();
  const e1 = owner.write(A, INC, 'x', [5, 0], false);
  const stale: Delta = { owner: A, inc: INC, base: 0, version: 1, floor: 0, entries: [e1] };
  owner.write(A, INC, 'x', [5, 0], true);
  owner.collect({ owner: A, inc: INC }, 2);
  const full = owner.deltaSince(A, INC, 0)[0]!;
  assert.deepEqual(full.entries, []);
  return { owner, stale, full };
}

test('a stale active entry at or below the contiguous version does not resurrect a collected tombstone', () => {
  const { owner, stale, full } = collectedRelease();
  const r = new RegistryState();
  r.merge(full);
  assert.deepEqual(r.merge(stale), []);
  assert.equal(r.winner('x'), undefined);
  assert.equal(r.snapshot(), owner.snapshot());
});

test('a stale active entry received before a delta that covers its version without listing it is dropped', () => {
  const { owner, stale, full } = collectedRelease();
  const r = new RegistryState();
  r.merge(stale);
  assert.equal(r.winner('x')?.owner, A);
  assert.deepEqual(r.merge(full), ['x'], 'x changed: its claim is gone');
  assert.equal(r.winner('x'), undefined);
  assert.equal(r.snapshot(), owner.snapshot());
});

test('an entry superseded inside a delta range is dropped even without a tombstone collection', () => {
  // x v1 active, y v2, x v3 released: a chunk (0,2] lists only y; x's current entry (v3) lies above it.
  const owner = new RegistryState();
  const e1 = owner.write(A, INC, 'x', [1, 0], false);
  owner.write(A, INC, 'y', [2, 0], false);
  owner.write(A, INC, 'x', [1, 0], true);
  const [chunk] = owner.deltaSince(A, INC, 0, 1);
  assert.deepEqual([chunk!.base, chunk!.version, chunk!.entries.map((e) => e.name)], [0, 2, ['y']]);
  const orders: Delta[][] = [
    [{ owner: A, inc: INC, base: 0, version: 1, floor: 0, entries: [e1] }, chunk!],
    [chunk!, { owner: A, inc: INC, base: 0, version: 1, floor: 0, entries: [e1] }],
  ];
  for (const order of orders) {
    const r = new RegistryState();
    for (const d of order) r.merge(d);
    assert.deepEqual(activeNames(r), ['y'], `order ${order.map((d) => `(${d.base},${d.version}]`)}`);
  }
});

test('a re-claim after a collected release is accepted (versions above the contiguous one)', () => {
  const owner = new RegistryState();
  owner.write(A, INC, 'x', [5, 0], false);
  owner.write(A, INC, 'x', [5, 0], true);
  owner.collect({ owner: A, inc: INC }, 2);
  const r = new RegistryState();
  r.merge(owner.deltaSince(A, INC, 0)[0]!);
  const e = owner.write(A, INC, 'x', [9, 0], false); // v3
  r.merge({ owner: A, inc: INC, base: 2, version: 3, floor: 2, entries: [e] });
  assert.deepEqual(r.winner('x')?.stamp, [9, 0]);
  assert.equal(r.snapshot(), owner.snapshot());
});

test('snapshot: equal for equal content regardless of insertion order, and ignores tombstones', () => {
  const a = new RegistryState();
  const b = new RegistryState();
  a.write(A, '1', 'x', [1, 0], false);
  a.write(B, '1', 'y', [2, 0], false);
  b.write(B, '1', 'y', [2, 0], false);
  b.write(A, '1', 'x', [1, 0], false);
  assert.equal(a.snapshot(), b.snapshot());
  a.write(A, '1', 'z', [3, 0], false);
  assert.notEqual(a.snapshot(), b.snapshot());
});

// ---- messages ----------------------------------------------------------------------------------

const goodDelta: Delta = { owner: A, inc: 'ab', base: 1, version: 3, floor: 1, entries: [{ name: 'x', stamp: [5, 0], version: 2, released: false }] };

test('parseRegistryMessage accepts every kind, after an encode/decode round trip', () => {
  const good: RegistryMessage[] = [
    { k: 'delta', d: goodDelta, h: [5, 1] },
    { k: 'delta', d: { ...goodDelta, entries: [] }, h: [0, 0] },
    { k: 'digest', owners: [{ owner: A, inc: 'ab', version: 3, floor: 1 }], reply: true, h: [5, 1] },
    { k: 'digest', owners: [], reply: false, h: [5, 1] },
    { k: 'synced', h: [5, 1] },
    { k: 'msg', name: 'x', body: { any: ['thing'] } },
    { k: 'msg', name: 'x'.repeat(MAX_REGISTERED_NAME), body: null, id: 7 },
    { k: 'reply', id: 7, ok: false, body: 'no' },
    { k: 'cfm', id: 3, name: 'x', owner: A, inc: 'ab' },
    { k: 'cfr', id: 3, holder: { owner: A, inc: 'ab', stamp: [5, 1], epoch: 2 } },
    { k: 'cfr', id: 3, holder: { owner: A, inc: 'ab', stamp: [5, 1] } },
    { k: 'cfr', id: 3 },
  ];
  for (const m of good) assert.deepEqual(parseRegistryMessage(decode(encode(m))), m, m.k);
});

const entry = goodDelta.entries[0]!;
const badMessages: [string, unknown][] = [
  ['null', null],
  ['array', [1, 2]],
  ['byte string', new Uint8Array(3)],
  ['unknown kind', { k: 'nope' }],
  ['missing kind', { d: goodDelta }],
  ['delta: d missing', { k: 'delta', h: [1, 0] }],
  ['delta: d an array', { k: 'delta', d: [], h: [1, 0] }],
  ['delta: bad owner', { k: 'delta', d: { ...goodDelta, owner: 'no-at-sign' }, h: [1, 0] }],
  ['delta: uppercase inc', { k: 'delta', d: { ...goodDelta, inc: 'AB' }, h: [1, 0] }],
  ['delta: empty inc', { k: 'delta', d: { ...goodDelta, inc: '' }, h: [1, 0] }],
  ['delta: inc too long', { k: 'delta', d: { ...goodDelta, inc: 'a'.repeat(65) }, h: [1, 0] }],
  ['delta: string floor', { k: 'delta', d: { ...goodDelta, floor: '1' }, h: [1, 0] }],
  ['delta: base above version', { k: 'delta', d: { ...goodDelta, base: 4 }, h: [1, 0] }],
  ['delta: floor above version', { k: 'delta', d: { ...goodDelta, floor: 4 }, h: [1, 0] }],
  ['delta: entries not an array', { k: 'delta', d: { ...goodDelta, entries: {} }, h: [1, 0] }],
  ['delta: too many entries', { k: 'delta', d: { ...goodDelta, base: 0, version: MAX_DELTA_ENTRIES + 1, entries: Array.from({ length: MAX_DELTA_ENTRIES + 1 }, (_, i) => ({ ...entry, name: `n${i}`, version: i + 1 })) }, h: [1, 0] }],
  ['delta: entry version at base', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, version: 1 }] }, h: [1, 0] }],
  ['delta: entry version above delta', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, version: 4 }] }, h: [1, 0] }],
  ['delta: entry empty name', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, name: '' }] }, h: [1, 0] }],
  ['delta: entry name too long', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, name: 'x'.repeat(MAX_REGISTERED_NAME + 1) }] }, h: [1, 0] }],
  ['delta: entry name not a string', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, name: 5 }] }, h: [1, 0] }],
  ['delta: entry released not boolean', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, released: 0 }] }, h: [1, 0] }],
  ['delta: entry a string', { k: 'delta', d: { ...goodDelta, entries: ['x'] }, h: [1, 0] }],
  ['digest: owners not an array', { k: 'digest', owners: {}, reply: false, h: [1, 0] }],
  ['digest: too many owners', { k: 'digest', owners: Array.from({ length: 4097 }, () => ({ owner: A, inc: 'a', version: 0, floor: 0 })), reply: false, h: [1, 0] }],
  ['digest: reply not boolean', { k: 'digest', owners: [], reply: 'yes', h: [1, 0] }],
  ['digest: bad owner', { k: 'digest', owners: [{ owner: 'x', inc: 'a', version: 0, floor: 0 }], reply: false, h: [1, 0] }],
  ['digest: bad inc', { k: 'digest', owners: [{ owner: A, inc: 'zz', version: 0, floor: 0 }], reply: false, h: [1, 0] }],
  ['digest: missing floor', { k: 'digest', owners: [{ owner: A, inc: 'a', version: 0 }], reply: false, h: [1, 0] }],
  ['digest: owner entry null', { k: 'digest', owners: [null], reply: false, h: [1, 0] }],
  ['msg: empty name', { k: 'msg', name: '', body: 1 }],
  ['msg: name too long', { k: 'msg', name: 'x'.repeat(MAX_REGISTERED_NAME + 1), body: 1 }],
  ['msg: negative id', { k: 'msg', name: 'x', body: 1, id: -1 }],
  ['msg: null id', { k: 'msg', name: 'x', body: 1, id: null }],
  ['reply: ok not boolean', { k: 'reply', id: 1, ok: 1, body: null }],
  ['reply: id missing', { k: 'reply', ok: true, body: null }],
  ['cfm: id missing', { k: 'cfm', name: 'x', owner: A, inc: 'ab' }],
  ['cfm: id fractional', { k: 'cfm', id: 1.5, name: 'x', owner: A, inc: 'ab' }],
  ['cfm: name too long', { k: 'cfm', id: 1, name: 'x'.repeat(MAX_REGISTERED_NAME + 1), owner: A, inc: 'ab' }],
  ['cfm: name not a string', { k: 'cfm', id: 1, name: ['x'], owner: A, inc: 'ab' }],
  ['cfm: bad owner', { k: 'cfm', id: 1, name: 'x', owner: 'no-at-sign', inc: 'ab' }],
  ['cfm: bad inc', { k: 'cfm', id: 1, name: 'x', owner: A, inc: 'XY' }],
  ['cfr: id negative', { k: 'cfr', id: -1 }],
  ['cfr: holder null', { k: 'cfr', id: 1, holder: null }],
  ['cfr: holder an array', { k: 'cfr', id: 1, holder: [A, 'ab', [1, 0]] }],
  ['cfr: holder owner bad', { k: 'cfr', id: 1, holder: { owner: 'x'.repeat(300), inc: 'ab', stamp: [1, 0] } }],
  ['cfr: holder inc missing', { k: 'cfr', id: 1, holder: { owner: A, stamp: [1, 0] } }],
  ['cfr: holder epoch a string', { k: 'cfr', id: 1, holder: { owner: A, inc: 'ab', stamp: [1, 0], epoch: '1' } }],
];
// Out-of-range counters are not a protocol error: they parse, and the registry drops
// them with a log line (bounds.ts), never the connection (see registry-sync-bounds.test.ts).
for (const [what, value] of [
  ['delta: negative base', { k: 'delta', d: { ...goodDelta, base: -1 }, h: [1, 0] }],
  ['delta: fractional version', { k: 'delta', d: { ...goodDelta, version: 2.5 }, h: [1, 0] }],
  ['digest: negative version', { k: 'digest', owners: [{ owner: A, inc: 'a', version: -1, floor: 0 }], reply: false, h: [1, 0] }],
  ['epochs: 2^53', { k: 'epochs', e: [['Singleton', 2 ** 53]] }],
  ['qreq: negative epoch', { k: 'qreq', id: 1, name: 'x', epoch: -1 }],
] as [string, unknown][]) {
  test(`parseRegistryMessage leaves out-of-range counters to the bound rule: ${what}`, () => {
    assert.doesNotThrow(() => parseRegistryMessage(value));
  });
}
// Stamps are values, like counters: a malformed one does not fail the message (it would
// close the connection); it becomes [NaN, NaN] for the registry to drop (sync tests).
const nanStamps: [string, unknown][] = [
  ['delta: entry stamp negative', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, stamp: [-1, 0] }] }, h: [1, 0] }],
  ['delta: entry stamp too short', { k: 'delta', d: { ...goodDelta, entries: [{ ...entry, stamp: [1] }] }, h: [1, 0] }],
  ['delta: hlc missing', { k: 'delta', d: goodDelta }],
  ['delta: hlc fractional', { k: 'delta', d: goodDelta, h: [1.5, 0] }],
  ['synced: no hlc', { k: 'synced' }],
  ['synced: hlc a string', { k: 'synced', h: 'now' }],
  ['cfr: holder stamp bad', { k: 'cfr', id: 1, holder: { owner: A, inc: 'ab', stamp: [1, -1] } }],
];
for (const [what, value] of nanStamps) {
  test(`parseRegistryMessage lets a malformed stamp through as NaN: ${what}`, () => {
    const m = parseRegistryMessage(value) as unknown as Record<string, unknown>;
    const stamps = JSON.stringify(m, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v));
    assert.match(stamps, /\["NaN","NaN"\]/);
  });
}

for (const [what, value] of badMessages) {
  test(`parseRegistryMessage rejects: ${what}`, () => {
    assert.throws(() => parseRegistryMessage(value), (e: unknown) => isClusterError(e, 'ERR_PROTOCOL'));
  });
}

test('antiEntropyDelayMs: the interval while active, doubling after QUIET_ROUNDS quiet rounds up to QUIET_SLOWDOWN x', () => {
  const rows: Array<[quietRounds: number, random01: number, delayMs: number]> = [
    [0, 0, 500],
    [0, 0.5, 1000],
    [0, 0.999, 1499],
    [QUIET_ROUNDS - 1, 0.5, 1000],
    [QUIET_ROUNDS, 0, 1000],
    [QUIET_ROUNDS, 0.5, 2000],
    [QUIET_ROUNDS + 1, 0.5, 4000],
    [QUIET_ROUNDS + 2, 0.5, 4000],
    [1e9, 0, 2000],
    [1e9, 0.999, 5996],
  ];
  for (const [quiet, r, want] of rows) assert.equal(Math.round(antiEntropyDelayMs(1000, quiet, r)), want, `quiet ${quiet}, random ${r}`);
  assert.equal(QUIET_SLOWDOWN, 4);
});
