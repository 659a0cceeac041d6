// The monitoring ring (src/membership/ring.ts) as tables: whom a node watches for
// N = 1..8, wrapping round the end of the sorted names, and who watches a member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RING_WATCH_K, ringPredecessors, ringSuccessors } from '../../src/membership/ring.js';

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i}`);

test('ringSuccessors: the K names after ours, wrapping; everyone when N - 1 <= K', () => {
  assert.equal(RING_WATCH_K, 3);
  // [N, self, expected]
  const cases: [number, string, string[]][] = [
    [1, 'n0', []],
    [2, 'n0', ['n1']],
    [2, 'n1', ['n0']],
    [3, 'n1', ['n2', 'n0']],
    [4, 'n0', ['n1', 'n2', 'n3']],
    [4, 'n3', ['n0', 'n1', 'n2']],
    [5, 'n0', ['n1', 'n2', 'n3']],
    [5, 'n3', ['n4', 'n0', 'n1']],
    [5, 'n4', ['n0', 'n1', 'n2']],
    [6, 'n2', ['n3', 'n4', 'n5']],
    [6, 'n5', ['n0', 'n1', 'n2']],
    [7, 'n5', ['n6', 'n0', 'n1']],
    [8, 'n0', ['n1', 'n2', 'n3']],
    [8, 'n6', ['n7', 'n0', 'n1']],
    [8, 'n7', ['n0', 'n1', 'n2']],
  ];
  for (const [n, self, want] of cases) {
    const members = names(n).filter((m) => m !== self);
    assert.deepEqual(ringSuccessors(self, members), want, `N=${n} self=${self}`);
    // The order members come in, and our own name among them, change nothing.
    assert.deepEqual(ringSuccessors(self, [...members].reverse().concat(self)), want, `N=${n} self=${self}, shuffled`);
  }
});

test('ringSuccessors: every member is watched by exactly min(K, N - 1) others, for N = 1..8', () => {
  for (let n = 1; n <= 8; n++) {
    const all = names(n);
    const watchers = new Map(all.map((m) => [m, 0]));
    for (const self of all) {
      const watched = ringSuccessors(self, all.filter((m) => m !== self));
      assert.equal(watched.length, Math.min(RING_WATCH_K, n - 1), `N=${n} self=${self} watches`);
      assert.ok(!watched.includes(self));
      assert.equal(new Set(watched).size, watched.length);
      for (const w of watched) watchers.set(w, watchers.get(w)! + 1);
    }
    for (const [m, count] of watchers) assert.equal(count, Math.min(RING_WATCH_K, n - 1), `N=${n}: ${m} is watched by ${count}`);
  }
});

test('ringPredecessors: the members that watch a target in our view, ourselves and the target left out', () => {
  // [N, self, target, expected]
  const cases: [number, string, string, string[]][] = [
    [2, 'n0', 'n1', []],
    [3, 'n0', 'n1', ['n2']],
    [5, 'n0', 'n1', ['n4', 'n3']],
    [5, 'n2', 'n0', ['n4', 'n3']],
    [5, 'n1', 'n4', ['n3', 'n2']],
    [6, 'n0', 'n1', ['n5', 'n4']],
    [8, 'n0', 'n5', ['n4', 'n3', 'n2']],
    [8, 'n3', 'n5', ['n4', 'n2']],
    [8, 'n4', 'n1', ['n0', 'n7', 'n6']],
  ];
  for (const [n, self, target, want] of cases) {
    const members = names(n).filter((m) => m !== self);
    assert.deepEqual(ringPredecessors(self, members, target), want, `N=${n} self=${self} target=${target}`);
    // Consistent with ringSuccessors: each of them watches the target.
    for (const p of want) assert.ok(ringSuccessors(p, names(n).filter((m) => m !== p)).includes(target));
  }
  assert.deepEqual(ringPredecessors('n0', ['n1'], 'zed'), [], 'not a member: nobody');
});
