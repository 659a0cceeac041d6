// mDNS discovery tests: table tests of the pure parts (record building, response
// parsing and validation, query matching, the peer table with its TTLs, interface
// selection, timing), then one real-socket test that runs two nodes (and a node of
// another cluster) in a child process inside a private network namespace, so no mDNS
// packet ever leaves through this machine's real interfaces.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NetworkInterfaceInfo } from 'node:os';
import {
  MAX_ACCEPTED_TTL_S,
  MDNS_RECORD_TTL_S,
  MDNS_SERVICE_TYPE,
  browseQuery,
  buildQuery,
  instanceLabel,
  isUsableIPv4,
  isValidClusterLabel,
  mdnsIdentity,
  parseResponse,
  parseTxt,
  queryAsksForUs,
  queryDelayMs,
  serviceRecords,
} from '../../src/discovery/mdns-records.js';
import { MdnsPeerTable, acceptRecord } from '../../src/discovery/mdns-peers.js';
import type { PeerChange } from '../../src/discovery/mdns-peers.js';
import { mdnsDiscovery } from '../../src/discovery/mdns.js';
import { classifySource, onInterfaceSubnet, selectMdnsInterfaces } from '../../src/discovery/mdns-interfaces.js';
import type { SourceLink } from '../../src/discovery/mdns-interfaces.js';
import type { MdnsOptions } from '../../src/discovery/mdns.js';
import { isClusterError } from '../../src/errors.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { silentLogger } from '../../src/util/log.js';
import type { MdnsPairResult } from '../helpers/mdns-pair.js';

const CLUSTER = 'blue';
const me = mdnsIdentity('alice@host', 'aaaa1111', 4000, CLUSTER);
const bob = mdnsIdentity('bob@host.example', 'bbbb2222', 4001, CLUSTER);
const ctx = { instance: me.instance, target: me.target, cluster: CLUSTER };
/** The address Bob's packets come from. */
const BOB_IP = '10.0.0.2';
/** Another host on the link, which did not send Bob's records. */
const MALLORY_IP = '10.0.0.66';

type Rec = Record<string, unknown>;

/** A response as the mDNS library (dns-packet) decodes it: answers + additionals, TXT as Buffers. */
function response(answers: unknown[], additionals: unknown[] = []): Rec {
  return { id: 0, type: 'response', flags: 1024, questions: [], answers, authorities: [], additionals };
}

/** Bob's announcement, as plain objects (what dns-packet decodes). */
function bobRecords(ttl = MDNS_RECORD_TTL_S, addresses = ['10.0.0.2']): Rec[] {
  return serviceRecords(bob, addresses, ttl).map((r) => ({ ...r, class: 'IN' }) as Rec);
}

function txt(...entries: string[]): Buffer[] {
  return entries.map((e) => Buffer.from(e));
}

function withRecord(type: string, patch: Rec, base: Rec[] = bobRecords()): Rec[] {
  return base.map((r) => (r.type === type ? { ...r, ...patch } : r));
}

function table(): MdnsPeerTable {
  return new MdnsPeerTable();
}

function found(changes: PeerChange[]): string[] {
  return changes.filter((c) => c.kind === 'found').map((c) => (c.kind === 'found' ? c.peer.id : ''));
}

// ---------------------------------------------------------------- records we send

test('instance labels: node name + incarnation, DNS-safe, at most 63 bytes', () => {
  const cases: [string, string, string][] = [
    ['alice@host', '1a2b3c4d', 'alice@host-1a2b3c4d'],
    ['alice@host.example.com', '1a2b3c4d', 'alice@host-example-com-1a2b3c4d'],
    ['a_b-c@h', 'ABCDEF', 'a_b-c@h-abcdef'],
    ['n@h', 'f'.repeat(64), `n@h-${'f'.repeat(16)}`],
  ];
  for (const [name, inc, want] of cases) assert.equal(instanceLabel(name, inc), want, `${name} ${inc}`);
  const long = instanceLabel(`${'x'.repeat(200)}@${'y'.repeat(54)}`, '0123456789abcdef0123');
  assert.ok(Buffer.byteLength(long) <= 63, `label of ${Buffer.byteLength(long)} bytes`);
  assert.ok(long.endsWith('-0123456789abcdef'), long);
  assert.notEqual(instanceLabel('a@h', '01'), instanceLabel('a@h', '02'), 'a restarted node gets a new instance');
});

test('identity: instance under _cluster-node._tcp.local, per-boot target host', () => {
  assert.equal(me.instance, 'alice@host-aaaa1111._cluster-node._tcp.local');
  assert.equal(me.target, 'cn-aaaa1111.local');
  assert.equal(me.port, 4000);
});

test('serviceRecords builds PTR, SRV, TXT and one A per address, TTL 120 (0 for goodbye)', () => {
  const recs = serviceRecords(me, ['10.0.0.1', '192.168.1.5']);
  assert.deepEqual(
    recs.map((r) => [r.type, r.name, r.ttl]),
    [
      ['PTR', MDNS_SERVICE_TYPE, 120],
      ['SRV', me.instance, 120],
      ['TXT', me.instance, 120],
      ['A', me.target, 120],
      ['A', me.target, 120],
    ],
  );
  const [ptr, srv, t, a1, a2] = recs;
  assert.equal(ptr!.data, me.instance);
  assert.deepEqual(srv!.data, { priority: 0, weight: 0, port: 4000, target: 'cn-aaaa1111.local' });
  assert.deepEqual(
    (t!.data as Buffer[]).map((b) => b.toString()),
    ['v=2', 'name=alice@host', `cluster=${CLUSTER}`],
  );
  assert.equal(a1!.data, '10.0.0.1');
  assert.equal(a2!.data, '192.168.1.5');
  const bye = serviceRecords(me, ['10.0.0.1'], 0);
  assert.ok(bye.every((r) => r.ttl === 0));
  assert.deepEqual(
    bye.map((r) => r.data),
    serviceRecords(me, ['10.0.0.1']).map((r) => r.data),
    'a goodbye is the same records with TTL 0',
  );
});

test('nothing derived from the cookie is advertised: TXT holds only v, name and the public cluster label', () => {
  // The identity takes no key: every byte of every record is a function of the name,
  // incarnation, port, cluster label and addresses, all of them public.
  const recs = serviceRecords(me, ['10.0.0.1']);
  const txtRec = recs.find((r) => r.type === 'TXT');
  const keys = (txtRec!.data as Buffer[]).map((b) => b.toString().split('=')[0]);
  assert.deepEqual(keys, ['v', 'name', 'cluster']);
  const wire = JSON.stringify(recs);
  assert.doesNotMatch(wire, /tag=/);
  const publicParts = [me.instance, me.target, MDNS_SERVICE_TYPE, 'v=2', 'name=alice@host', `cluster=${CLUSTER}`, '10.0.0.1', '4000'];
  let rest = recs.map((r) => (typeof r.data === 'string' ? r.data : r.type === 'SRV' ? `${r.data.port} ${r.data.target}` : (r.data as Buffer[]).map(String).join(' '))).join(' ');
  for (const p of publicParts) rest = rest.split(p).join('');
  assert.equal(rest.trim().replace(/\s+/g, ''), '', 'every record is made of public inputs only');
  // Two identities that differ only in what a cookie would have changed do not exist any more:
  assert.equal(mdnsIdentity.length, 4, 'mdnsIdentity(name, incarnation, port, cluster): no key parameter');
});

test('cluster labels: 1 to 63 characters of A-Za-z0-9_-', () => {
  const cases: [unknown, boolean][] = [
    ['default', true],
    ['a', true],
    ['Lab_2-east', true],
    ['x'.repeat(63), true],
    ['', false],
    ['x'.repeat(64), false],
    ['a.b', false],
    ['a b', false],
    ['é', false],
    ['a\n', false],
    [42, false],
    [undefined, false],
  ];
  for (const [label, want] of cases) assert.equal(isValidClusterLabel(label), want, JSON.stringify(label));
});

// ---------------------------------------------------------------- parsing responses

test('a valid announcement parses and becomes one DiscoveredPeer', () => {
  const parsed = parseResponse(response(bobRecords()), ctx);
  assert.deepEqual(parsed.rejected, []);
  assert.deepEqual(parsed.ptrs, [{ instance: bob.instance, ttl: 120 }]);
  assert.deepEqual(parsed.srvs, [{ instance: bob.instance, ttl: 120, port: 4001, target: bob.target }]);
  assert.deepEqual(parsed.txts, [{ instance: bob.instance, ttl: 120, name: 'bob@host.example' }]);
  assert.deepEqual(parsed.addresses, [{ target: bob.target, ttl: 120, address: '10.0.0.2' }]);
  const res = table().apply(parsed, 0, BOB_IP);
  assert.deepEqual(res.changes, [
    { kind: 'found', peer: { id: bob.instance, name: 'bob@host.example', addresses: ['10.0.0.2'], port: 4001, source: 'mdns', sourceAddress: BOB_IP } },
  ]);
});

test('records split between answers and additionals, in any order and case, still combine', () => {
  const [ptr, srv, t, a] = bobRecords();
  const shout = (r: Rec): Rec => ({ ...r, name: String(r.name).toUpperCase() });
  const parsed = parseResponse(response([a!, shout(t!)], [srv!, ptr!]), ctx);
  const res = table().apply(parsed, 0, BOB_IP);
  assert.deepEqual(found(res.changes), [bob.instance]);
});

/** Cases that must never produce a peer. Each is a full packet's answers. */
const NO_PEER: [string, Rec[]][] = [
  ['own instance (our own announcement looped back)', serviceRecords(me, ['10.0.0.1']) as unknown as Rec[]],
  ['label of another cluster', withRecord('TXT', { data: txt('v=2', 'name=bob@host', 'cluster=red') })],
  ['label differing only in case', withRecord('TXT', { data: txt('v=2', 'name=bob@host', 'cluster=Blue') })],
  ['record version 1 (cookie-derived tag)', withRecord('TXT', { data: txt('v=1', 'name=bob@host', 'tag=0123abcd') })],
  ['record version 3', withRecord('TXT', { data: txt('v=3', 'name=bob@host', `cluster=${CLUSTER}`) })],
  ['no version', withRecord('TXT', { data: txt('name=bob@host', `cluster=${CLUSTER}`) })],
  ['port 0', withRecord('SRV', { data: { port: 0, target: bob.target } })],
  ['port 70000', withRecord('SRV', { data: { port: 70000, target: bob.target } })],
  ['port 1.5', withRecord('SRV', { data: { port: 1.5, target: bob.target } })],
  ['port as a string', withRecord('SRV', { data: { port: '4001', target: bob.target } })],
  ['SRV without data', withRecord('SRV', { data: undefined })],
  ['SRV target not a string', withRecord('SRV', { data: { port: 4001, target: 42 } })],
  ['no A record', bobRecords().filter((r) => r.type !== 'A')],
  ['A not an IP', withRecord('A', { data: 'not-an-ip' })],
  ['A out of range', withRecord('A', { data: '256.1.1.1' })],
  ['A with three octets', withRecord('A', { data: '10.0.0' })],
  ['A 0.0.0.0', withRecord('A', { data: '0.0.0.0' })],
  ['A multicast', withRecord('A', { data: '224.0.0.251' })],
  ['A as a number', withRecord('A', { data: 167772162 })],
  ['A for another host name', withRecord('A', { name: 'someone-else.local' })],
  ['instance name over 255 chars', bobRecords().map((r) => (r.type === 'PTR' ? r : { ...r, name: `${'x'.repeat(250)}.${MDNS_SERVICE_TYPE}` }))],
  ['instance label over 63 bytes', bobRecords().map((r) => (r.type === 'SRV' || r.type === 'TXT' ? { ...r, name: `${'x'.repeat(64)}.${MDNS_SERVICE_TYPE}` } : r))],
  ['instance with two labels', bobRecords().map((r) => (r.type === 'SRV' || r.type === 'TXT' ? { ...r, name: `a.b.${MDNS_SERVICE_TYPE}` } : r))],
  ['target over 255 chars', withRecord('SRV', { data: { port: 4001, target: `${'t'.repeat(256)}.local` } })],
  ['TXT data a string', withRecord('TXT', { data: `v=2 name=bob@host cluster=${CLUSTER}` })],
  ['TXT entries strings, not bytes', withRecord('TXT', { data: ['v=2', 'name=bob@host', `cluster=${CLUSTER}`] })],
  ['TXT name not a node name', withRecord('TXT', { data: txt('v=2', 'name=no-at-sign', `cluster=${CLUSTER}`) })],
  ['TXT name with a space', withRecord('TXT', { data: txt('v=2', 'name=bob @host', `cluster=${CLUSTER}`) })],
  ['TXT without name', withRecord('TXT', { data: txt('v=2', `cluster=${CLUSTER}`) })],
  ['TXT without cluster label', withRecord('TXT', { data: txt('v=2', 'name=bob@host') })],
  ['TXT with an empty cluster label', withRecord('TXT', { data: txt('v=2', 'name=bob@host', 'cluster=') })],
  ['TXT cluster label with a dot', withRecord('TXT', { data: txt('v=2', 'name=bob@host', 'cluster=a.b') })],
  ['TXT entry over 255 bytes', withRecord('TXT', { data: [...txt('v=2', `cluster=${CLUSTER}`), Buffer.from(`name=${'n'.repeat(300)}@h`)] })],
  ['TXT cluster label over 63 chars', withRecord('TXT', { data: txt('v=2', 'name=bob@host', `cluster=${'a'.repeat(64)}`) })],
  ['negative TTL', withRecord('SRV', { ttl: -1 })],
  ['fractional TTL', withRecord('TXT', { ttl: 1.5 })],
  ['TTL as a string', withRecord('SRV', { ttl: '120' })],
  ['records of other types only', bobRecords().map((r) => ({ ...r, type: r.type === 'A' ? 'AAAA' : 'NSEC' }))],
  ['records that are not objects', [null, 1, 'PTR', [], true] as unknown as Rec[]],
];

for (const [what, answers] of NO_PEER) {
  test(`no peer: ${what}`, () => {
    const t = table();
    const res = t.apply(parseResponse(response(answers), ctx), 0, BOB_IP);
    assert.deepEqual(res.changes, [], what);
    // The same packet again, and later, never produces one either.
    assert.deepEqual(t.apply(parseResponse(response(answers), ctx), 1000, BOB_IP).changes, []);
    assert.deepEqual(t.tick(200_000).changes, []);
  });
}

test('malformed records of our service are named in `rejected`; other-cluster and other-version instances in `foreign`', () => {
  assert.match(parseResponse(response(withRecord('SRV', { data: { port: 0, target: bob.target } })), ctx).rejected.join(), /bad port/);
  assert.match(parseResponse(response(withRecord('TXT', { data: txt('v=2', 'name=x', `cluster=${CLUSTER}`) })), ctx).rejected.join(), /not a node name/);
  assert.deepEqual(parseResponse(response(withRecord('TXT', { data: txt('v=2', 'name=bob@host', 'cluster=red') })), ctx).foreign, [
    { instance: bob.instance, ttl: 120, reason: 'cluster' },
  ]);
  assert.deepEqual(parseResponse(response(withRecord('TXT', { data: txt('v=7', 'whatever') })), ctx).foreign, [
    { instance: bob.instance, ttl: 120, reason: 'version' },
  ]);
  const own = parseResponse(response(serviceRecords(me, ['10.0.0.1']) as unknown[]), ctx);
  assert.deepEqual([own.ptrs, own.srvs, own.txts, own.addresses, own.rejected], [[], [], [], [], []], 'own records vanish without a trace');
});

test('cluster label matching: the same label is ours, another label (or a v1 tag record) is foreign', () => {
  const cases: [string, string[], string, 'ok' | 'cluster' | 'version' | 'rejected'][] = [
    ['same label', ['v=2', 'name=bob@host', 'cluster=blue'], 'blue', 'ok'],
    ['same label, keys in any order', ['cluster=blue', 'name=bob@host', 'v=2'], 'blue', 'ok'],
    ['keys in any case', ['V=2', 'NAME=bob@host', 'Cluster=blue'], 'blue', 'ok'],
    ['look-alike keys are not ours', ['v=2', 'name=bob@host', 'clustr=blue', 'cluster_=blue', 'cluste=blue'], 'blue', 'rejected'],
    ['other label', ['v=2', 'name=bob@host', 'cluster=red'], 'blue', 'cluster'],
    ['other label, same cookie or not: mDNS cannot tell', ['v=2', 'name=bob@host', 'cluster=default'], 'blue', 'cluster'],
    ['case matters', ['v=2', 'name=bob@host', 'cluster=BLUE'], 'blue', 'cluster'],
    ['first cluster key wins', ['v=2', 'name=bob@host', 'cluster=red', 'cluster=blue'], 'blue', 'cluster'],
    ['old layout with a tag', ['v=1', 'name=bob@host', 'tag=0123456789abcdef'], 'blue', 'version'],
    ['no label', ['v=2', 'name=bob@host'], 'blue', 'rejected'],
    ['label with a dot', ['v=2', 'name=bob@host', 'cluster=blue.x'], 'blue', 'rejected'],
  ];
  for (const [what, entries, label, want] of cases) {
    const r = parseTxt(txt(...entries), label);
    const got = r.ok ? 'ok' : (r.foreign ?? 'rejected');
    assert.equal(got, want, what);
  }
});

test('TTLs from the network are clamped to MAX_ACCEPTED_TTL_S (240 s)', () => {
  assert.equal(MAX_ACCEPTED_TTL_S, 240);
  const cases: [number, number][] = [
    [0, 0],
    [1, 1],
    [120, 120],
    [240, 240],
    [241, 240],
    [4500, 240],
    [86_400, 240],
    [0xffff_ffff, 240],
  ];
  for (const [sent, kept] of cases) {
    const p = parseResponse(response(bobRecords(sent)), ctx);
    assert.deepEqual(
      [p.ptrs[0]?.ttl, p.srvs[0]?.ttl, p.txts[0]?.ttl, p.addresses[0]?.ttl],
      [kept, kept, kept, kept],
      `TTL ${sent}`,
    );
  }
  // A forged day-long TTL keeps the candidate for 240 s, not a day.
  const t = table();
  assert.deepEqual(found(apply(t, bobRecords(86_400), 0).changes), [bob.instance]);
  assert.deepEqual(t.tick(239_999).changes, []);
  assert.deepEqual(t.tick(240_000).changes, [{ kind: 'lost', id: bob.instance }]);
});

test('TXT: unknown keys and boolean attributes are ignored; the first of a duplicated key wins', () => {
  const answers = withRecord('TXT', { data: txt('flag', 'extra=1', 'V=2', `cluster=${CLUSTER}`, 'name=bob@host', 'name=mallory@host', '=x', 'cluster=red') });
  assert.deepEqual(parseResponse(response(answers), ctx).txts, [{ instance: bob.instance, ttl: 120, name: 'bob@host' }]);
});

test('garbage packets parse to nothing and never throw', () => {
  const garbage: unknown[] = [
    null,
    undefined,
    42,
    'response',
    [],
    {},
    { answers: 'x', additionals: 7 },
    { answers: [{ type: 'PTR' }, { type: 'SRV', name: bob.instance }, { name: {}, type: 'TXT', data: [] }] },
    { answers: [{ type: 'PTR', name: MDNS_SERVICE_TYPE, ttl: 120, data: 'not-an-instance.local' }] },
    { answers: [{ type: 'TXT', name: bob.instance, ttl: 120, data: [null, 5, {}] }] },
    { answers: Array.from({ length: 10_000 }, () => ({ type: 'A', name: 'x.local', ttl: 1, data: '1.2.3.4' })) },
  ];
  for (const g of garbage) {
    const p = parseResponse(g, ctx);
    assert.deepEqual([p.ptrs.length, p.srvs.length, p.txts.length, p.foreign.length], [0, 0, 0, 0], JSON.stringify(g)?.slice(0, 80));
    assert.ok(p.addresses.length <= 256, 'records read per packet are bounded');
    assert.deepEqual(table().apply(p, 0, BOB_IP).changes, []);
  }
});

test('isUsableIPv4', () => {
  for (const ok of ['10.0.0.1', '127.0.0.1', '192.168.255.254', '223.255.255.255', '1.0.0.0']) assert.equal(isUsableIPv4(ok), true, ok);
  for (const bad of ['0.1.2.3', '224.0.0.1', '255.255.255.255', '01.2.3.4', '1.2.3.4 ', '1.2.3', '1.2.3.4.5', '::1', '', 5, null]) {
    assert.equal(isUsableIPv4(bad), false, String(bad));
  }
});

// ---------------------------------------------------------------- the peer table

function apply(t: MdnsPeerTable, answers: Rec[], now: number, from = BOB_IP): ReturnType<MdnsPeerTable['apply']> {
  return t.apply(parseResponse(response(answers), ctx), now, from);
}

test('repeated and duplicated packets report a peer once; a change of addresses or port reports it again', () => {
  const t = table();
  assert.deepEqual(found(apply(t, bobRecords(), 0).changes), [bob.instance]);
  for (let i = 1; i <= 5; i++) assert.deepEqual(apply(t, bobRecords(), i).changes, [], `copy ${i}`);
  const two = apply(t, bobRecords(120, ['10.0.0.2', '192.168.1.2']), 10);
  assert.deepEqual(two.changes.map((c) => (c.kind === 'found' ? c.peer.addresses : c)), [['10.0.0.2', '192.168.1.2']]);
  assert.deepEqual(apply(t, bobRecords(120, ['192.168.1.2']), 11).changes, [], 'a known address again is no change');
  const moved = apply(t, withRecord('SRV', { data: { port: 5000, target: bob.target } }), 12);
  assert.deepEqual(moved.changes.map((c) => (c.kind === 'found' ? c.peer.port : c)), [5000]);
});

test('goodbye (TTL 0) loses the peer at once; a goodbye for an unknown instance does nothing', () => {
  for (const type of ['PTR', 'SRV', 'TXT']) {
    const t = table();
    apply(t, bobRecords(), 0);
    const bye = apply(t, bobRecords().filter((r) => r.type === type).map((r) => ({ ...r, ttl: 0 })), 5);
    assert.deepEqual(bye.changes, [{ kind: 'lost', id: bob.instance }], type);
    assert.equal(t.size, 0);
    assert.deepEqual(apply(t, bobRecords(0), 6).changes, [], 'a second goodbye is no change');
  }
  const t = table();
  assert.deepEqual(apply(t, bobRecords(0), 0).changes, []);
  assert.equal(t.size, 0);
});

test('a goodbye counts only from the address the records came from', () => {
  // [what, records of the goodbye (TTL 0), sent from, peer lost?]
  const only = (type: string): Rec[] => bobRecords(0).filter((r) => r.type === type);
  const cases: [string, Rec[], string, boolean][] = [
    ['full goodbye from Bob', bobRecords(0), BOB_IP, true],
    ['full goodbye from Mallory', bobRecords(0), MALLORY_IP, false],
    ['PTR goodbye from Bob', only('PTR'), BOB_IP, true],
    ['PTR goodbye from Mallory', only('PTR'), MALLORY_IP, false],
    ['SRV goodbye from Bob', only('SRV'), BOB_IP, true],
    ['SRV goodbye from Mallory', only('SRV'), MALLORY_IP, false],
    ['TXT goodbye from Bob', only('TXT'), BOB_IP, true],
    ['TXT goodbye from Mallory', only('TXT'), MALLORY_IP, false],
    ['A goodbye from Bob', only('A'), BOB_IP, true],
    ['A goodbye from Mallory', only('A'), MALLORY_IP, false],
    ['goodbye from Bob on another of his addresses', bobRecords(0), '10.0.0.3', false],
  ];
  for (const [what, records, from, lost] of cases) {
    const t = table();
    apply(t, bobRecords(), 0);
    const res = apply(t, records, 1000, from);
    assert.deepEqual(res.changes, lost ? [{ kind: 'lost', id: bob.instance }] : [], what);
    assert.equal(res.ignoredGoodbyes.length > 0, !lost, `${what}: listed as ignored`);
    if (!lost) {
      assert.deepEqual(t.tick(100_000).changes, [], `${what}: the peer is still there later`);
      assert.deepEqual(apply(t, bobRecords(0), 100_001, BOB_IP).changes, [{ kind: 'lost', id: bob.instance }], `${what}: Bob's own goodbye still works`);
    }
  }
});

test('a multi-homed peer: a goodbye from the address that last refreshed a record is honoured', () => {
  const t = table();
  apply(t, bobRecords(), 0, BOB_IP);
  apply(t, bobRecords(), 10, '192.168.1.2'); // the same records through his second interface
  assert.deepEqual(apply(t, bobRecords(0), 20, '192.168.1.2').changes, [{ kind: 'lost', id: bob.instance }]);
});

test('a stranger cannot shorten a record (a short TTL is a goodbye in disguise), only refresh or extend it', () => {
  // acceptRecord(held, now, ttl, source): the record to hold, or undefined to ignore the new one.
  const held = { expiresAt: 120_000, source: BOB_IP };
  const cases: [string, string, number, number, number | undefined][] = [
    // what, source, now, ttl, expected expiresAt (undefined = ignored)
    ['owner, same TTL', BOB_IP, 1000, 120, 121_000],
    ['owner, shorter (1 s flush)', BOB_IP, 1000, 1, 2000],
    ['stranger, 1 s', MALLORY_IP, 1000, 1, undefined],
    ['stranger, ends earlier', MALLORY_IP, 1000, 100, undefined],
    ['stranger, ends at the same time', MALLORY_IP, 0, 120, 120_000],
    ['stranger, extends', MALLORY_IP, 1000, 120, 121_000],
  ];
  for (const [what, source, now, ttl, want] of cases) assert.equal(acceptRecord(held, now, ttl, source)?.expiresAt, want, what);
  assert.equal(acceptRecord(undefined, 0, 1, MALLORY_IP)?.expiresAt, 1000, 'a new record is taken as it comes');

  const t = table();
  apply(t, bobRecords(), 0);
  apply(t, withRecord('SRV', { ttl: 1 }), 10, MALLORY_IP);
  assert.deepEqual(t.tick(5000).changes, [], 'the forged 1 s SRV did not expire Bob');
});

test('a stranger cannot turn a known peer into another cluster (which would drop it)', () => {
  const foreignTxt = withRecord('TXT', { data: txt('v=2', 'name=bob@host', 'cluster=red') });
  const t = table();
  apply(t, bobRecords(), 0);
  const res = apply(t, foreignTxt, 1000, MALLORY_IP);
  assert.deepEqual(res.changes, []);
  assert.deepEqual(res.ignoredGoodbyes, [bob.instance]);
  assert.deepEqual(t.tick(60_000).changes, []);
  const u = table();
  apply(u, bobRecords(), 0);
  assert.deepEqual(apply(u, foreignTxt, 1000, BOB_IP).changes, [{ kind: 'lost', id: bob.instance }], 'but the instance itself may say so');
});

test('a full goodbye (every record TTL 0, as stop() sends it) loses the peer exactly once', () => {
  const t = table();
  apply(t, bobRecords(), 0);
  assert.deepEqual(apply(t, bobRecords(0), 1).changes, [{ kind: 'lost', id: bob.instance }]);
});

test('records expire by TTL: peerLost when the TTL runs out without refresh, not before', () => {
  const t = table();
  apply(t, bobRecords(), 0);
  assert.ok((t.nextDeadline() ?? Infinity) < 120_000, 'a refresh or expiry is scheduled');
  assert.deepEqual(t.tick(119_999).changes, []);
  assert.deepEqual(t.tick(120_000).changes, [{ kind: 'lost', id: bob.instance }]);
  assert.equal(t.size, 0);
  assert.equal(t.nextDeadline(), undefined, 'nothing left to wake up for');
});

test('a refresh moves expiry forward; losing only the addresses loses the peer', () => {
  const t = table();
  apply(t, bobRecords(), 0);
  apply(t, bobRecords(), 100_000);
  assert.deepEqual(t.tick(150_000).changes, [], 'refreshed at 100 s, so alive at 150 s');
  assert.deepEqual(t.tick(220_000).changes, [{ kind: 'lost', id: bob.instance }]);

  const u = table();
  apply(u, withRecord('A', { ttl: 10 }), 0);
  assert.deepEqual(u.tick(10_000).changes, [{ kind: 'lost', id: bob.instance }], 'A expired, SRV/TXT still valid');
  assert.deepEqual(found(apply(u, bobRecords(), 11_000).changes), [bob.instance], 'and found again when an A returns');
});

test('refresh queries at 80, 85, 90 and 95 % of the TTL (RFC 6762 §5.2), then expiry', () => {
  const t = table();
  apply(t, bobRecords(), 0);
  const asked: number[] = [];
  for (let now = 0; now <= 120_000; now += 500) if (t.tick(now).refresh.includes(bob.instance)) asked.push(now);
  assert.deepEqual(asked, [96_000, 102_000, 108_000, 114_000]);
});

test('SRV + TXT without an A record asks for the A record once, then reports when it comes', () => {
  const t = table();
  const noA = bobRecords().filter((r) => r.type !== 'A');
  const first = apply(t, noA, 0);
  assert.deepEqual(first.changes, []);
  assert.deepEqual(first.resolve, [bob.target]);
  assert.deepEqual(apply(t, noA, 1).resolve, [], 'asked only once');
  const a = bobRecords().filter((r) => r.type === 'A');
  assert.deepEqual(found(apply(t, a, 2).changes), [bob.instance]);
});

test('A records of host names no instance points at are not kept', () => {
  const t = table();
  apply(t, [{ name: 'printer.local', type: 'A', ttl: 120, data: '10.0.0.9' }], 0);
  assert.equal(t.nextDeadline(), undefined);
});

test('the number of tracked instances is capped', () => {
  const t = new MdnsPeerTable({ maxInstances: 2 });
  const peer = (i: number): Rec[] => serviceRecords(mdnsIdentity(`n${i}@h`, `${i}`, 4000 + i, CLUSTER), [`10.0.0.${i}`]) as unknown as Rec[];
  assert.equal(found(apply(t, peer(1), 0).changes).length, 1);
  assert.equal(found(apply(t, peer(2), 0).changes).length, 1);
  const third = apply(t, peer(3), 0);
  assert.deepEqual(third.changes, []);
  assert.ok(third.dropped > 0);
  assert.equal(t.size, 2);
  apply(t, serviceRecords(mdnsIdentity('n1@h', '1', 4001, CLUSTER), ['10.0.0.1'], 0) as unknown as Rec[], 1);
  assert.equal(found(apply(t, peer(3), 2).changes).length, 1, 'room again after a goodbye');
});

test('addresses on our own subnets come first', () => {
  const t = new MdnsPeerTable({ isPreferredAddress: (a) => a.startsWith('192.168.') });
  const res = apply(t, bobRecords(120, ['10.0.0.2', '192.168.1.2']), 0);
  assert.deepEqual(res.changes.map((c) => (c.kind === 'found' ? c.peer.addresses : c)), [['192.168.1.2', '10.0.0.2']]);
});

test('a packet settles only what it names: among 50 peers, one peer\'s change reports that peer alone, and the rest stays', () => {
  const t = table();
  const ids = Array.from({ length: 50 }, (_, i) => mdnsIdentity(`p${i}@h`, (0x500 + i).toString(16), 5000 + i, CLUSTER));
  const ip = (i: number, alt = 0): string => `10.0.${alt}.${i + 10}`;
  for (let i = 0; i < ids.length; i++) apply(t, serviceRecords(ids[i]!, [ip(i)]) as unknown as Rec[], 0, ip(i));
  const p7 = ids[7]!;
  // p7 moves to another address; its old one says goodbye; nobody else is reported.
  const moved = apply(t, serviceRecords(p7, [ip(7), ip(7, 1)]) as unknown as Rec[], 1000, ip(7));
  assert.deepEqual(moved.changes.map((c) => (c.kind === 'found' ? [c.peer.id, c.peer.addresses] : c)), [[p7.instance.toLowerCase(), [ip(7), ip(7, 1)]]]);
  const bye = apply(t, [{ name: p7.target, type: 'A', ttl: 0, flush: true, data: ip(7) }], 1100, ip(7));
  assert.deepEqual(bye.changes.map((c) => (c.kind === 'found' ? c.peer.addresses : c)), [[ip(7, 1)]]);
  // p8 points its SRV at a new host name: the old name's addresses are not kept, and p8 is lost until the new one resolves.
  const p8 = ids[8]!;
  const retarget = apply(t, [{ name: p8.instance, type: 'SRV', ttl: 120, flush: true, data: { priority: 0, weight: 0, port: p8.port, target: 'cn-new.local' } }], 1200, ip(8));
  assert.deepEqual(retarget.changes, [{ kind: 'lost', id: p8.instance.toLowerCase() }]);
  assert.deepEqual(retarget.resolve, ['cn-new.local']);
  const oldAddress = apply(t, [{ name: p8.target, type: 'A', ttl: 120, flush: true, data: ip(8, 2) }], 1300, ip(8));
  assert.deepEqual(oldAddress.changes, [], 'the old host name is nobody\'s now');
  const resolved = apply(t, [{ name: 'cn-new.local', type: 'A', ttl: 120, flush: true, data: ip(8, 3) }], 1400, ip(8));
  assert.deepEqual(resolved.changes.map((c) => (c.kind === 'found' ? c.peer.addresses : c)), [[ip(8, 3)]]);
  // A full goodbye of p9 loses p9 alone; expiry still reaches every untouched peer.
  const gone = apply(t, serviceRecords(ids[9]!, [ip(9)], 0) as unknown as Rec[], 1500, ip(9));
  assert.deepEqual(gone.changes, [{ kind: 'lost', id: ids[9]!.instance.toLowerCase() }]);
  assert.equal(t.size, 49);
  const expired = t.tick(120_500);
  assert.deepEqual(
    expired.changes.filter((c) => c.kind === 'found'),
    [],
  );
  assert.equal(expired.changes.filter((c) => c.kind === 'lost').length, 48, 'all but p7 (wholly refreshed at 1 s) expire at 120 s; p8 with its TXT');
});

test('known answers: reported peers and foreign instances with more than half their TTL left', () => {
  const t = table();
  apply(t, bobRecords(), 0);
  const carol = mdnsIdentity('carol@h', 'cccc', 4002, 'ffff');
  apply(t, serviceRecords(carol, ['10.0.0.3']) as unknown as Rec[], 1000);
  assert.deepEqual(t.knownAnswers(30_000), [
    { instance: carol.instance, ttl: 91 },
    { instance: bob.instance, ttl: 90 },
  ]);
  assert.deepEqual(t.knownAnswers(60_500), [{ instance: carol.instance, ttl: 60 }]);
  assert.deepEqual(t.knownAnswers(61_000), []);
});

// ---------------------------------------------------------------- queries

test('which queries we answer', () => {
  const q = (questions: Rec[], answers: Rec[] = []): Rec => ({ type: 'query', questions, answers });
  const ourPtr = (ttl: number): Rec => ({ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl, data: me.instance });
  const cases: [string, unknown, boolean][] = [
    ['browse (PTR for the service type)', q([{ name: MDNS_SERVICE_TYPE, type: 'PTR' }]), true],
    ['browse, any case', q([{ name: MDNS_SERVICE_TYPE.toUpperCase(), type: 'PTR' }]), true],
    ['ANY for the service type', q([{ name: MDNS_SERVICE_TYPE, type: 'ANY' }]), true],
    ['browse, querier knows us (TTL 120)', q([{ name: MDNS_SERVICE_TYPE, type: 'PTR' }], [ourPtr(120)]), false],
    ['browse, querier knows us (TTL 60 = half)', q([{ name: MDNS_SERVICE_TYPE, type: 'PTR' }], [ourPtr(60)]), false],
    ['browse, querier knows us but TTL below half', q([{ name: MDNS_SERVICE_TYPE, type: 'PTR' }], [ourPtr(59)]), true],
    ['SRV for our instance', q([{ name: me.instance, type: 'SRV' }]), true],
    ['TXT for our instance', q([{ name: me.instance, type: 'TXT' }]), true],
    ['A for our target', q([{ name: me.target, type: 'A' }]), true],
    ['A for someone else', q([{ name: bob.target, type: 'A' }]), false],
    ['SRV for someone else', q([{ name: bob.instance, type: 'SRV' }]), false],
    ['another service', q([{ name: '_http._tcp.local', type: 'PTR' }]), false],
    ['AAAA for our target', q([{ name: me.target, type: 'AAAA' }]), false],
    ['no questions', q([]), false],
    ['garbage', { questions: [null, 3, { name: 7, type: 'PTR' }] }, false],
    ['not an object', 'query', false],
  ];
  for (const [what, packet, want] of cases) assert.equal(queryAsksForUs(me, packet), want, what);
});

test('our own queries carry our PTR, so our own responder (on any interface) stays quiet', () => {
  assert.equal(queryAsksForUs(me, browseQuery(me)), false);
  assert.equal(queryAsksForUs(bob, browseQuery(me)), true, 'but others answer it');
  const known = browseQuery(me, [{ instance: bob.instance.toLowerCase(), ttl: 100 }]);
  assert.equal(queryAsksForUs(bob, known), false, 'known-answer suppression');
  assert.equal(queryAsksForUs(bob, browseQuery(me, [{ instance: bob.instance.toLowerCase(), ttl: 30 }])), true);
  const resolve = buildQuery(me, [{ name: bob.target, type: 'A' }]);
  assert.equal(queryAsksForUs(bob, resolve), true);
  assert.deepEqual(resolve.answers, [{ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: 120, data: me.instance }]);
});

test('query timing: at start, then 1 s, 2 s, 4 s ... capped, with at most 10 % jitter', () => {
  const cases: [number, number, number, number][] = [
    // attempt, max, jitter, expected
    [0, 60_000, 0, 20],
    [0, 60_000, 0.999, 120],
    [1, 60_000, 0, 1000],
    [2, 60_000, 0, 2000],
    [3, 60_000, 0, 4000],
    [6, 60_000, 0, 32_000],
    [7, 60_000, 0, 60_000],
    [50, 60_000, 0, 60_000],
    [4, 4000, 0, 4000],
    [9, 4000, 0.5, 3800],
    [1, 60_000, 0.999, 900],
  ];
  for (const [attempt, max, j, want] of cases) assert.equal(queryDelayMs(attempt, max, j), want, `attempt ${attempt}, max ${max}, jitter ${j}`);
});

// ---------------------------------------------------------------- interfaces and options

function ifc(address: string, internal = false, netmask = '255.255.255.0'): NetworkInterfaceInfo {
  return { address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: null };
}
const ipv6: NetworkInterfaceInfo = { address: 'fe80::1', netmask: 'ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr: null, scopeid: 2 };

test('interface selection', () => {
  const ifaces = {
    lo: [ifc('127.0.0.1', true, '255.0.0.0')],
    eth0: [ifc('10.0.0.5'), ipv6],
    'eth0:1': [ifc('10.0.1.5')],
    wlan0: [ifc('192.168.1.7')],
    down0: [ifc('172.16.0.1')],
    v6only: [ipv6],
  };
  const flags: Record<string, number> = { lo: 0x9, eth0: 0x1003, wlan0: 0x1043, down0: 0x1002 };
  const pick = (f: (n: string) => number | undefined, wanted?: string, input: typeof ifaces | Record<string, NetworkInterfaceInfo[]> = ifaces) => {
    const s = selectMdnsInterfaces(input, f, wanted);
    return { names: s.chosen.map((c) => `${c.name}=${c.address}`), warnings: s.warnings };
  };
  assert.deepEqual(pick((n) => flags[n]).names, ['eth0=10.0.0.5', 'wlan0=192.168.1.7'], 'UP+MULTICAST only; lo without MULTICAST is out');
  assert.deepEqual(
    selectMdnsInterfaces(ifaces, (n) => flags[n]).chosen[0]!.addresses.map((a) => a.address),
    ['10.0.0.5', '10.0.1.5'],
    'an alias joins its interface',
  );
  assert.deepEqual(pick((n) => ({ ...flags, lo: 0x1009 })[n]).names, ['lo=127.0.0.1', 'eth0=10.0.0.5', 'wlan0=192.168.1.7'], 'lo with MULTICAST is in');
  assert.deepEqual(pick(() => undefined).names, ['eth0=10.0.0.5', 'wlan0=192.168.1.7', 'down0=172.16.0.1'], 'flags unknown: every non-internal one');
  assert.deepEqual(pick(() => undefined, undefined, { lo: [ifc('127.0.0.1', true, '255.0.0.0')] }).names, ['lo=127.0.0.1'], 'flags unknown and only loopback: loopback');
  assert.deepEqual(pick((n) => flags[n], '10.0.1.5').names, ['eth0=10.0.1.5'], '--interface picks the one interface holding it');
  const missing = pick((n) => flags[n], '10.9.9.9');
  assert.deepEqual(missing.names, []);
  assert.match(missing.warnings.join(), /no local interface has the address 10\.9\.9\.9.*--seed/);
  assert.match(pick((n) => flags[n], '172.16.0.1').warnings.join(), /down0 .* is down/);
  const none = pick((n) => flags[n], undefined, { lo: [ifc('127.0.0.1', true, '255.0.0.0')] });
  assert.deepEqual(none.names, []);
  assert.match(none.warnings.join(), /no multicast-capable IPv4 interface.*--seed still works/);
});

test('responses are acted on only from the local link (RFC 6762 §11)', () => {
  const eth0 = { name: 'eth0', address: '10.0.0.5', addresses: [{ address: '10.0.0.5', netmask: '255.255.255.0' }, { address: '10.9.0.5', netmask: '255.255.0.0' }] };
  const wlan0 = { name: 'wlan0', address: '192.168.1.7', addresses: [{ address: '192.168.1.7', netmask: '255.255.255.0' }] };
  const lo = { name: 'lo', address: '127.0.0.1', addresses: [{ address: '127.0.0.1', netmask: '255.0.0.0' }] };
  const cases: [string, typeof eth0, (typeof eth0)[], string, SourceLink][] = [
    ['same subnet', eth0, [wlan0], '10.0.0.200', 'this-link'],
    ['our own address (looped back)', eth0, [wlan0], '10.0.0.5', 'this-link'],
    ['second subnet of the interface', eth0, [wlan0], '10.9.200.1', 'this-link'],
    ['subnet of another of our interfaces', eth0, [wlan0], '192.168.1.20', 'other-link'],
    ['that same packet on the right socket', wlan0, [eth0], '192.168.1.20', 'this-link'],
    ['off-link: routed from elsewhere', eth0, [wlan0], '10.0.1.1', 'off-link'],
    ['off-link: public address', eth0, [wlan0], '8.8.8.8', 'off-link'],
    ['off-link: loopback seen on eth0', eth0, [wlan0], '127.0.0.1', 'off-link'],
    ['loopback on lo', lo, [], '127.0.0.1', 'this-link'],
    ['off-link with no other interface', eth0, [], '172.16.0.1', 'off-link'],
    ['not an address', eth0, [wlan0], 'garbage', 'off-link'],
  ];
  for (const [what, arrivedOn, others, src, want] of cases) assert.equal(classifySource(arrivedOn, others, src), want, what);
});

test('subnet matching', () => {
  const eth0 = { name: 'eth0', address: '10.0.0.5', addresses: [{ address: '10.0.0.5', netmask: '255.255.255.0' }] };
  assert.equal(onInterfaceSubnet(eth0, '10.0.0.200'), true);
  assert.equal(onInterfaceSubnet(eth0, '10.0.1.1'), false);
  assert.equal(onInterfaceSubnet(eth0, 'garbage'), false);
});

test('mdnsDiscovery rejects bad options with ERR_CONFIG (and opens nothing)', () => {
  const good: MdnsOptions = {
    name: 'alice@host',
    incarnation: 'abcd',
    port: 4000,
    cluster: CLUSTER,
    queryMaxIntervalMs: 60_000,
    clock: new ManualClock(),
    random: seededRandom(1),
    logger: silentLogger,
  };
  assert.ok(mdnsDiscovery(good));
  const bad: [string, Partial<MdnsOptions>][] = [
    ['name', { name: 'no-at' }],
    ['incarnation', { incarnation: 'xyz' }],
    ['port 0', { port: 0 }],
    ['port 70000', { port: 70000 }],
    ['cluster empty', { cluster: '' }],
    ['cluster too long', { cluster: 'a'.repeat(64) }],
    ['cluster with a dot', { cluster: 'a.b' }],
    ['interface', { interface: 'eth0' }],
    ['interval', { queryMaxIntervalMs: 0 }],
  ];
  for (const [what, patch] of bad) {
    assert.throws(() => mdnsDiscovery({ ...good, ...patch }), (err: unknown) => isClusterError(err, 'ERR_CONFIG'), what);
  }
});

test('stop() before start() resolves and is idempotent', async () => {
  const d = mdnsDiscovery({
    name: 'alice@host',
    incarnation: 'abcd',
    port: 4000,
    cluster: CLUSTER,
    queryMaxIntervalMs: 60_000,
    clock: new ManualClock(),
    random: seededRandom(1),
    logger: silentLogger,
  });
  await d.stop();
  await d.stop();
  await assert.rejects(d.start({ peerFound() {}, peerLost() {} }), (err: unknown) => isClusterError(err, 'ERR_CONFIG'));
});

// ---------------------------------------------------------------- real sockets, private namespace

const NS_SETUP = 'ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo';

function namespaceSkipReason(): string | undefined {
  const probe = spawnSync('unshare', ['-rn', 'sh', '-c', NS_SETUP], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `cannot run unshare (${probe.error.message}); the real mDNS test needs a private network namespace`;
  if (probe.status !== 0) {
    return `unshare -rn (user + network namespace) is not permitted here or ip(8) is missing: ${(probe.stderr || `exit ${probe.status}`).trim()}`;
  }
  return undefined;
}

function hasSetpriv(): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(`${dir}/setpriv`, constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

test('two real nodes find each other in a private namespace, ignore another cluster, and stop() loses the peer', { timeout: 90_000 }, async (t) => {
  const reason = namespaceSkipReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const script = fileURLToPath(new URL('../helpers/mdns-pair.ts', import.meta.url));
  // Every mDNS packet stays inside this namespace: it has only lo, with multicast routed to it.
  const inner = `${NS_SETUP} && exec "$MDNS_NODE" --import tsx "$MDNS_SCRIPT"`;
  const guard = hasSetpriv() ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
  const argv = [...guard, 'unshare', '-rn', 'sh', '-c', inner];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    env: { ...process.env, MDNS_NODE: process.execPath, MDNS_SCRIPT: script },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  try {
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000).unref());
    const code = await Promise.race([exited, deadline]);
    assert.notEqual(code, 'timeout', `the mDNS pair did not exit within 60 s (lingering handles after stop()?)\nstdout: ${stdout}\nstderr: ${stderr}`);
    const line = stdout.trim().split('\n').pop() ?? '';
    let result: MdnsPairResult;
    try {
      result = JSON.parse(line) as MdnsPairResult;
    } catch {
      assert.fail(`no JSON result from the mDNS pair (exit ${String(code)})\nstdout: ${stdout}\nstderr: ${stderr}`);
    }
    assert.equal(result.ok, true, `mDNS pair failed: ${result.error}\nstderr: ${stderr}\nalice debug: ${result.alice.debug.join('\n')}`);
    assert.equal(code, 0);

    assert.deepEqual(result.alice.found, [
      { id: result.bob.instance, name: 'bob@pair.test', addresses: ['127.0.0.1'], port: 4002, source: 'mdns', sourceAddress: '127.0.0.1' },
    ], 'alice found bob exactly once, with his port and address');
    assert.deepEqual(result.bob.found, [
      { id: result.alice.instance, name: 'alice@pair.test', addresses: ['127.0.0.1'], port: 4001, source: 'mdns', sourceAddress: '127.0.0.1' },
    ], 'bob found alice exactly once');
    assert.deepEqual(result.carol.found, [], 'a node of another cluster reports nobody');
    assert.deepEqual(result.alice.lost, [result.bob.instance], "bob's stop() made alice lose him (goodbye, not TTL expiry)");
    assert.ok(result.lostAfterMs !== null && result.lostAfterMs < 5000);
    assert.deepEqual(result.bob.lost, [], 'alice was still running when bob stopped');
    assert.ok(result.alice.debug.some((l) => l.includes('undecodable')), 'the garbage packet was dropped with a debug line');
    assert.deepEqual([...result.alice.warnings, ...result.bob.warnings, ...result.carol.warnings], [], 'no warnings on a working loopback network');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});
