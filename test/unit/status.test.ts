// What members tell an observer, and how the observer reads and prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildView, combineViews, MAX_VIEW_NAMES, parseStatusMessage } from '../../src/status.js';
import type { MemberView } from '../../src/status.js';
import { formatStatus, holdersOf, noClusterMessage, statusJson } from '../../src/cli/observe.js';
import { isClusterError } from '../../src/errors.js';

const view = (node: string, members: string[], registry: [string, string, number][] = [], over: Partial<MemberView> = {}): MemberView => ({
  node,
  inc: 'ab',
  upMs: 65_000,
  members: members.map((name) => ({ name, inc: 'cd', host: '10.0.0.9', port: 4000, heardMsAgo: 120 })),
  registry: registry.map(([name, owner, epoch]) => ({ name, owner, inc: 'ef', epoch, stamp: [Date.UTC(2026, 11, 1, 12), 0] })),
  more: 0,
  ...over,
});

test('a view is bounded and can be narrowed to one name', () => {
  const registered = Array.from({ length: MAX_VIEW_NAMES + 5 }, (_, i) => ({ name: `n${i}`, owner: 'a@h', incarnation: 'ab', stamp: [1, 0] as const, epoch: 0 }));
  const v = buildView({ node: 'a@h', inc: 'ab', upMs: 10.7, members: [], heardMsAgo: () => 0, registered });
  assert.equal(v.registry.length, MAX_VIEW_NAMES);
  assert.equal(v.more, 5);
  assert.equal(v.upMs, 10);
  const one = buildView({ node: 'a@h', inc: 'ab', upMs: 1, members: [], heardMsAgo: () => 0, registered, only: 'n1003' });
  assert.deepEqual([one.registry.map((c) => c.name), one.more], [['n1003'], 0]);
  // What a member sends is what the observer accepts.
  assert.deepEqual(parseStatusMessage({ k: 'a', id: 1, view: v }), { k: 'a', id: 1, view: v });
});

test('a view carries the member\'s traffic counters when given; a view without them (an older member) still parses', () => {
  const traffic = { meshBytesIn: 10, meshBytesOut: 20, meshFramesIn: 1, meshFramesOut: 2, mdnsPacketsIn: 3, mdnsPacketsOut: 4, mdnsBytesIn: 300, mdnsBytesOut: 400 };
  const v = buildView({ node: 'a@h', inc: 'ab', upMs: 1, members: [], heardMsAgo: () => 0, registered: [], traffic });
  assert.deepEqual(v.traffic, traffic);
  assert.deepEqual(parseStatusMessage({ k: 'a', id: 1, view: v }), { k: 'a', id: 1, view: v });
  const old = buildView({ node: 'a@h', inc: 'ab', upMs: 1, members: [], heardMsAgo: () => 0, registered: [] });
  assert.equal('traffic' in old, false);
  assert.deepEqual(parseStatusMessage({ k: 'a', id: 1, view: old }), { k: 'a', id: 1, view: old });
  // Unknown keys in the counters are not carried over.
  const parsed = parseStatusMessage({ k: 'a', id: 1, view: { ...v, traffic: { ...traffic, extra: 'x'.repeat(100) } } });
  assert.deepEqual(parsed.k === 'a' && parsed.view.traffic, traffic);
});

const bad: [string, unknown][] = [
  ['traffic that is not a map', { k: 'a', id: 1, view: { ...view('a@h', []), traffic: 'lots' } }],
  ['a negative traffic counter', { k: 'a', id: 1, view: { ...view('a@h', []), traffic: { meshBytesIn: -1, meshBytesOut: 0, meshFramesIn: 0, meshFramesOut: 0, mdnsPacketsIn: 0, mdnsPacketsOut: 0, mdnsBytesIn: 0, mdnsBytesOut: 0 } } }],
  ['a missing traffic counter', { k: 'a', id: 1, view: { ...view('a@h', []), traffic: { meshBytesIn: 1 } } }],
  ['not a map', [1]],
  ['unknown kind', { k: 'x', id: 1 }],
  ['query with a bad id', { k: 'q', id: -1 }],
  ['query with an empty name', { k: 'q', id: 1, name: '' }],
  ['answer without a view', { k: 'a', id: 1 }],
  ['a bad node name', { k: 'a', id: 1, view: { ...view('a@h', []), node: 'no at' } }],
  ['a fractional uptime', { k: 'a', id: 1, view: { ...view('a@h', []), upMs: 1.5 } }],
  ['a member host with spaces', { k: 'a', id: 1, view: { ...view('a@h', ['b@h']), members: [{ name: 'b@h', inc: 'cd', host: 'x y', port: 1, heardMsAgo: 0 }] } }],
  ['too many names', { k: 'a', id: 1, view: { ...view('a@h', []), registry: Array.from({ length: MAX_VIEW_NAMES + 1 }, () => ({ name: 'x', owner: 'a@h', inc: 'ab', epoch: 0, stamp: [1, 0] })) } }],
  ['a stamp that is not a pair', { k: 'a', id: 1, view: view('a@h', [], [['x', 'a@h', 0]], { registry: [{ name: 'x', owner: 'a@h', inc: 'ab', epoch: 0, stamp: [1] as unknown as [number, number] }] }) }],
];
for (const [what, raw] of bad) {
  test(`parseStatusMessage rejects: ${what}`, () => {
    assert.throws(() => parseStatusMessage(raw), (e: unknown) => isClusterError(e, 'ERR_PROTOCOL'));
  });
}

test('views agree only when every member sees the same members and holders, and all answered', () => {
  const a = view('a@h', ['b@h'], [['Singleton', 'a@h', 3]]);
  const b = view('b@h', ['a@h'], [['Singleton', 'a@h', 3]]);
  assert.equal(combineViews([b, a], []).agree, true);
  assert.deepEqual(combineViews([b, a], []).views.map((v) => v.node), ['a@h', 'b@h']);
  assert.equal(combineViews([a, view('b@h', ['a@h'], [['Singleton', 'b@h', 4]])], []).agree, false);
  assert.equal(combineViews([a, view('b@h', ['a@h', 'c@h'], [['Singleton', 'a@h', 3]])], []).agree, false);
  assert.equal(combineViews([a], ['b@h']).agree, false);
  assert.equal(combineViews([], []).agree, false);
});

test('formatStatus: members, names, the Singleton, who did not answer, and each view when they differ', () => {
  const a = view('a@h', ['b@h'], [['Singleton', 'a@h', 3], ['jobs', 'b@h', 0]]);
  const b = view('b@h', ['a@h', 'c@h'], [['Singleton', 'c@h', 4]]);
  const text = formatStatus(combineViews([a, b], ['c@h']), [{ name: 'a@h', incarnation: 'ab', host: '10.0.0.1', port: 4001, key: new Uint8Array(32) }], 'lab');
  assert.equal(
    text,
    [
      'cluster "lab": 3 members, views differ (see below)',
      '',
      'MEMBER  ADDRESS        UPTIME  INCARNATION  LAST HEARD',
      'a@h     10.0.0.1:4001  1m 05s  ab           0.1 s ago',
      'b@h     -              1m 05s  ab           0.1 s ago',
      'c@h     -              -       cd           0.1 s ago',
      '',
      'NAME       HOLDER  EPOCH  CLAIMED',
      'Singleton  a@h     3      2026-12-01 12:00:00.000 UTC',
      'jobs       b@h     0      2026-12-01 12:00:00.000 UTC',
      '',
      'Singleton: a@h, epoch 3',
      'did not answer: c@h',
      '',
      'views:',
      '  a@h sees [b@h]; holders: Singleton=a@h (epoch 3), jobs=b@h',
      '  b@h sees [a@h, c@h]; holders: Singleton=c@h (epoch 4)',
      '',
    ].join('\n'),
  );
  const json = statusJson(combineViews([a, b], []), [], 'lab') as { singleton: unknown; registry: { claimedAt: string }[] };
  assert.deepEqual(json.singleton, { holder: 'a@h', epoch: 3 });
  assert.equal(json.registry[0]!.claimedAt, '2026-12-01T12:00:00.000Z');
  assert.deepEqual(holdersOf(combineViews([a, b], []), 'Singleton'), [{ holder: 'a@h', epoch: 3 }, { holder: 'c@h', epoch: 4 }]);
  assert.deepEqual(holdersOf(combineViews([a, b], []), 'none'), []);
});

test('the no-cluster message says where the observer looked', () => {
  assert.equal(noClusterMessage({ timeoutMs: 5000, cluster: 'default', mdns: true, seeds: [] }), 'no cluster answered within 5.0 s, looking through mDNS (cluster label "default"); is a node running with this cookie and --cluster label, on this network?');
  assert.equal(noClusterMessage({ timeoutMs: 800, cluster: 'x', mdns: false, seeds: [] }), 'no cluster answered within 0.8 s, looking through nothing (--no-mdns and no --seed); is a node running with this cookie?');
});
