// Unit tests of the mDNS suppression rules (RFC 6762 §6, §7.1, §7.3): known-answer
// lists bounded by bytes and by the half-TTL rule, the responder's known-answer
// decision as a table, the per-interface response pacing, duplicate question
// suppression, and hostile queries with thousands of known answers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  MAX_RECORDS_PER_PACKET,
  MDNS_MAX_QUERY_BYTES,
  MDNS_SERVICE_TYPE,
  browseQuery,
  buildQuery,
  dnsNameBytes,
  mdnsIdentity,
  ptrRecordBytes,
  queryAsksForUs,
  serviceRecords,
} from '../../src/discovery/mdns-records.js';
import type { KnownAnswer } from '../../src/discovery/mdns-records.js';
import { MdnsPeerTable } from '../../src/discovery/mdns-peers.js';
import {
  MDNS_MAX_SUPPRESSED_INTERVALS,
  MDNS_MIN_RESPONSE_INTERVAL_MS,
  judgeSeenQuery,
  mayStandIn,
  nextResponseAt,
  responseDelayMs,
} from '../../src/discovery/mdns-suppression.js';
import type { SeenQueryVerdict } from '../../src/discovery/mdns-suppression.js';
import { parseResponse } from '../../src/discovery/mdns-records.js';

interface DnsPacket {
  encode(packet: unknown): Buffer;
  decode(buf: Buffer): Record<string, unknown>;
  encodingLength(packet: unknown): number;
}
const require = createRequire(import.meta.url);
const dnsPacket = require(require.resolve('dns-packet', { paths: [require.resolve('multicast-dns')] })) as DnsPacket;

const CLUSTER = 'blue';
const me = mdnsIdentity('alice@host', 'aaaa1111', 4000, CLUSTER);
const peer = (i: number, name = `node${i}@host-${i}`): ReturnType<typeof mdnsIdentity> => mdnsIdentity(name, (0x1000 + i).toString(16), 4000 + i, CLUSTER);
const known = (n: number, ttl = 100, name?: (i: number) => string): KnownAnswer[] =>
  Array.from({ length: n }, (_, i) => ({ instance: peer(i, name?.(i)).instance.toLowerCase(), ttl }));
type Rec = Record<string, unknown>;
const wire = (q: { questions: unknown[]; answers: unknown[] }): Rec => dnsPacket.decode(dnsPacket.encode({ type: 'query', ...q }));

// ---------------------------------------------------------------- known-answer lists

test('dnsNameBytes and ptrRecordBytes match what dns-packet encodes', () => {
  for (const name of [MDNS_SERVICE_TYPE, me.instance, me.target, 'a.b', `${'x'.repeat(63)}.${MDNS_SERVICE_TYPE}`]) {
    const rec = { name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: 120, data: name };
    const withRec = dnsPacket.encodingLength({ type: 'query', answers: [rec] });
    const without = dnsPacket.encodingLength({ type: 'query', answers: [] });
    assert.equal(ptrRecordBytes(name), withRec - without, name);
    assert.equal(dnsNameBytes(name), ptrRecordBytes(name) - ptrRecordBytes('') + 1, name);
  }
});

test('a browse query carries as many known answers as fit in MDNS_MAX_QUERY_BYTES, in the order given', () => {
  for (const [what, name, least] of [
    ['short names', undefined, 13],
    ['63-byte labels', (i: number) => `${'n'.repeat(40)}${i}@${'h'.repeat(8)}`, 10],
  ] as const) {
    const list = known(100, 100, name);
    const q = browseQuery(me, list);
    const bytes = dnsPacket.encodingLength({ type: 'query', ...q });
    assert.ok(bytes <= MDNS_MAX_QUERY_BYTES, `${what}: ${bytes} bytes`);
    const carried = q.answers.length - 1;
    assert.ok(carried >= least, `${what}: at least ${least} fit (${carried})`);
    const next = list[carried]!;
    assert.ok(bytes + ptrRecordBytes(next.instance) > MDNS_MAX_QUERY_BYTES, `${what}: the next one would not have fitted`);
    assert.equal(q.omitted, list.length - carried, what);
    assert.deepEqual(
      q.answers.slice(1).map((a) => a.data),
      list.slice(0, carried).map((k) => k.instance),
      `${what}: the first ones (most TTL left) go`,
    );
    assert.equal(q.answers[0]!.data, me.instance, 'our own PTR first');
  }
  const few = browseQuery(me, known(5));
  assert.equal(few.omitted, 0);
  assert.equal(few.answers.length, 6);
  const tiny = buildQuery(me, [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }], known(5), 200);
  assert.equal(tiny.answers.length, 1, 'a small budget leaves only our own PTR');
  assert.equal(tiny.omitted, 5);
});

test('known answers: only reported peers with more than half their TTL left, most left first; knows() says the same', () => {
  const t = new MdnsPeerTable();
  const recs = (id: ReturnType<typeof mdnsIdentity>, ip: string, ttl = 120): Rec =>
    ({ type: 'response', answers: serviceRecords(id, [ip], ttl) }) as unknown as Rec;
  const a = peer(1);
  const b = peer(2);
  t.apply(parseResponse(recs(a, '10.0.0.1'), me), 0, '10.0.0.1');
  t.apply(parseResponse(recs(b, '10.0.0.2'), me), 10_000, '10.0.0.2');
  // A partial instance (PTR only) is not offered.
  const c = peer(3);
  t.apply(parseResponse({ answers: [serviceRecords(c, ['10.0.0.3'])[0]] }, me), 0, '10.0.0.3');
  const ids = (now: number): string[] => t.knownAnswers(now).map((k) => k.instance);
  const cases: [number, string[]][] = [
    [0, [b.instance, a.instance].map((s) => s.toLowerCase())],
    [59_999, [b.instance, a.instance].map((s) => s.toLowerCase())],
    [60_000, [b.instance.toLowerCase()]],
    [69_999, [b.instance.toLowerCase()]],
    [70_000, []],
  ];
  for (const [now, want] of cases) {
    assert.deepEqual(ids(now), want, `at ${now} ms`);
    for (const id of [a, b, c]) assert.equal(t.knows(id.instance.toLowerCase(), now), want.includes(id.instance.toLowerCase()), `knows ${id.name} at ${now}`);
  }
  for (const k of t.knownAnswers(30_000)) assert.ok(k.ttl >= 60, 'every offered TTL silences its owner (>= half of 120 s)');
});

// ---------------------------------------------------------------- the responder

test('the responder: silent when the query knows our PTR with at least half its TTL', () => {
  const browse = { name: MDNS_SERVICE_TYPE, type: 'PTR' };
  const ptr = (instance: string, ttl: number): Rec => ({ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl, data: instance });
  const other = mdnsIdentity('carol@host', 'cccc', 4002, 'red'); // another cluster
  const cases: [string, Rec, boolean][] = [
    ['browse, nothing known', { questions: [browse], answers: [] }, true],
    ['our PTR known, TTL 120', { questions: [browse], answers: [ptr(me.instance, 120)] }, false],
    ['our PTR known, TTL 60 (half)', { questions: [browse], answers: [ptr(me.instance, 60)] }, false],
    ['our PTR known, TTL 59 (below half)', { questions: [browse], answers: [ptr(me.instance, 59)] }, true],
    ['our PTR in upper case', { questions: [browse], answers: [ptr(me.instance.toUpperCase(), 120)] }, false],
    ['only others known', { questions: [browse], answers: [ptr(peer(1).instance, 120), ptr(other.instance, 120)] }, true],
    ['our name as a PTR of another service', { questions: [browse], answers: [{ name: '_http._tcp.local', type: 'PTR', ttl: 120, data: me.instance }] }, true],
    ['our PTR with a TTL that is no number', { questions: [browse], answers: [{ ...ptr(me.instance, 0), ttl: '120' }] }, true],
    ['SRV question for us, our PTR known', { questions: [{ name: me.instance, type: 'SRV' }], answers: [ptr(me.instance, 120)] }, true],
    ['a query of another cluster (their browse, same service)', { questions: [browse], answers: [ptr(other.instance, 120)] }, true],
    ['another service only', { questions: [{ name: '_http._tcp.local', type: 'PTR' }], answers: [] }, false],
    [
      'our PTR only after MAX_RECORDS_PER_PACKET others (not read)',
      { questions: [browse], answers: [...Array.from({ length: MAX_RECORDS_PER_PACKET }, (_, i) => ptr(peer(i).instance, 120)), ptr(me.instance, 120)] },
      true,
    ],
  ];
  for (const [what, packet, want] of cases) {
    assert.equal(queryAsksForUs(me, packet), want, what);
    if (typeof (packet.answers as Rec[])[0]?.ttl !== 'number') continue; // the encoder would make it one
    assert.equal(queryAsksForUs(me, wire(packet as { questions: unknown[]; answers: unknown[] })), want, `${what} (through the wire)`);
  }
});

test('response pacing: 20-120 ms of delay, and never twice within 1 s on one interface', () => {
  assert.equal(responseDelayMs(0), 20);
  assert.equal(responseDelayMs(0.5), 70);
  assert.ok(responseDelayMs(0.999999) < 120);
  const cases: [string, number, number, number, number][] = [
    // what, now, delay, last multicast, due
    ['never sent: after the delay', 5000, 20, -Infinity, 5020],
    ['sent long ago: after the delay', 5000, 120, 1000, 5120],
    ['sent 300 ms ago: 1 s after that', 5000, 20, 4700, 5700],
    ['sent just now: 1 s from now', 5000, 60, 5000, 6000],
    ['announcement (no delay), sent 999 ms ago', 5000, 0, 4001, 5001],
  ];
  for (const [what, now, delay, last, due] of cases) assert.equal(nextResponseAt(now, delay, last), due, what);
  assert.equal(MDNS_MIN_RESPONSE_INTERVAL_MS, 1000);
  // A burst of queries on one interface: one response per second, whatever the rate of queries.
  let last = -Infinity;
  let pending: number | undefined;
  const sent: number[] = [];
  for (let now = 0; now <= 5000; now += 10) {
    if (pending !== undefined && pending <= now) {
      sent.push(now);
      last = now;
      pending = undefined;
    }
    if (pending === undefined) pending = nextResponseAt(now, 20, last); // a query every 10 ms
  }
  assert.deepEqual(sent, [20, 1020, 2020, 3020, 4020]);
});

// ---------------------------------------------------------------- duplicate question suppression

test('duplicate question suppression: which seen queries stand in for our browse query', () => {
  const a = peer(1).instance.toLowerCase();
  const b = peer(2).instance.toLowerCase();
  const stranger = peer(9).instance.toLowerCase();
  const weKnow = new Set([a, b]);
  const knows = (i: string): boolean => weKnow.has(i);
  const browse = { name: MDNS_SERVICE_TYPE, type: 'PTR', class: 'IN' };
  const ptr = (instance: string, ttl = 120): Rec => ({ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl, data: instance });
  const cases: [string, unknown, SeenQueryVerdict][] = [
    ['a peer we know asks, listing itself and a peer we know', { questions: [browse], answers: [ptr(a), ptr(b, 90)] }, 'suppress'],
    ['a peer asks, listing us too', { questions: [browse], answers: [ptr(a), ptr(me.instance)] }, 'suppress'],
    ['nothing known at all (a newcomer)', { questions: [browse], answers: [] }, 'suppress'],
    ['a querier we do not know (its own PTR first)', { questions: [browse], answers: [ptr(stranger), ptr(a)] }, 'knows-more'],
    ['it lists a peer we do not know', { questions: [browse], answers: [ptr(a), ptr(stranger)] }, 'knows-more'],
    ['it lists a peer we do not know, TTL below half (that peer answers it)', { questions: [browse], answers: [ptr(a), ptr(stranger, 59)] }, 'suppress'],
    ['our own query come back', browseQuery(me, [{ instance: a, ttl: 100 }]), 'own'],
    ['truncated: more known answers follow', { flag_tc: true, questions: [browse], answers: [ptr(a)] }, 'incomplete'],
    ['more known answers than we read', { questions: [browse], answers: Array.from({ length: MAX_RECORDS_PER_PACKET + 1 }, () => ptr(a)) }, 'incomplete'],
    ['a QU question (answers may be unicast)', { questions: [{ ...browse, class: 'UNKNOWN_32769' }], answers: [ptr(a)] }, 'not-browse'],
    ['ANY for the service type', { questions: [{ name: MDNS_SERVICE_TYPE.toUpperCase(), type: 'ANY' }], answers: [ptr(a)] }, 'suppress'],
    ['an SRV refresh question', { questions: [{ name: a, type: 'SRV' }], answers: [] }, 'not-browse'],
    ['another service', { questions: [{ name: '_http._tcp.local', type: 'PTR' }], answers: [] }, 'not-browse'],
    ['garbage answers are skipped', { questions: [browse], answers: [null, 7, 'x', { type: 'PTR', name: 3 }, ptr(a)] }, 'suppress'],
    ['no questions', { questions: [], answers: [] }, 'not-browse'],
    ['not an object', 'query', 'not-browse'],
  ];
  for (const [what, packet, want] of cases) assert.equal(judgeSeenQuery(me, packet, knows), want, what);
  // Through the wire (dns-packet), the shapes multicast-dns hands us.
  assert.equal(judgeSeenQuery(me, wire({ questions: [browse], answers: [ptr(a), ptr(b)] }), knows), 'suppress');
  assert.equal(judgeSeenQuery(me, wire({ questions: [browse], answers: [ptr(stranger)] }), knows), 'knows-more');
  const qu = dnsPacket.decode(dnsPacket.encode({ type: 'query', questions: [{ ...browse, class: 'IN' }] }));
  assert.equal(judgeSeenQuery(me, qu, knows), 'suppress');
});

test('another query stands in for ours only after our first own one, in the second half of the wait, and for at most 4 longest intervals', () => {
  const max = 60_000;
  const cases: [string, number, { lastOwnAtMs: number; lastAtMs: number; dueAtMs: number }, boolean][] = [
    ['before our first own browse query', 50, { lastOwnAtMs: -Infinity, lastAtMs: -Infinity, dueAtMs: 70 }, false],
    ['first half of the wait for the next (1 s after 0.1 s)', 500, { lastOwnAtMs: 100, lastAtMs: 100, dueAtMs: 1100 }, false],
    ['second half of the wait', 600, { lastOwnAtMs: 100, lastAtMs: 100, dueAtMs: 1100 }, true],
    ['just treated as sent: a second query of the same burst moves nothing', 610, { lastOwnAtMs: 100, lastAtMs: 600, dueAtMs: 2600 }, false],
    ['second half after one treated as sent', 1700, { lastOwnAtMs: 100, lastAtMs: 600, dueAtMs: 2600 }, true],
    ['almost 4 intervals after our own', 900 + 4 * max - 1, { lastOwnAtMs: 900, lastAtMs: 4 * max - 50_000, dueAtMs: 4 * max + 10_000 }, true],
    ['4 intervals after our own: we ask ourselves', 900 + 4 * max, { lastOwnAtMs: 900, lastAtMs: 4 * max - 50_000, dueAtMs: 4 * max + 10_000 }, false],
  ];
  for (const [what, now, schedule, want] of cases) assert.equal(mayStandIn(now, schedule, max), want, what);
  assert.equal(MDNS_MAX_SUPPRESSED_INTERVALS, 4);
});

// ---------------------------------------------------------------- hostile queries

test('a hostile query with thousands of known answers is read in bounded work and never throws', () => {
  let touched = 0;
  const counting = (i: number): Rec => {
    const r: Rec = {};
    for (const k of ['name', 'type', 'ttl', 'data']) {
      Object.defineProperty(r, k, {
        get() {
          touched++;
          return k === 'name' ? MDNS_SERVICE_TYPE : k === 'type' ? 'PTR' : k === 'ttl' ? 120 : `x${i}.${MDNS_SERVICE_TYPE}`;
        },
      });
    }
    return r;
  };
  const answers = Array.from({ length: 20_000 }, (_, i) => counting(i));
  const packet = { type: 'query', questions: Array.from({ length: 5000 }, () => ({ name: MDNS_SERVICE_TYPE, type: 'PTR' })), answers };
  const started = performance.now();
  assert.equal(queryAsksForUs(me, packet), true, 'we are not among them: answer');
  const asksTouched = touched;
  assert.ok(asksTouched <= 4 * MAX_RECORDS_PER_PACKET, `queryAsksForUs read ${asksTouched} fields of 20 000 records`);
  touched = 0;
  assert.equal(judgeSeenQuery(me, packet, () => true), 'incomplete');
  assert.equal(touched, 0, 'judgeSeenQuery gives up on a list longer than it reads, without reading it');
  const within = { type: 'query', questions: packet.questions, answers: answers.slice(0, MAX_RECORDS_PER_PACKET) };
  touched = 0;
  assert.equal(judgeSeenQuery(me, within, () => false), 'knows-more');
  assert.equal(judgeSeenQuery(me, within, () => true), 'suppress');
  assert.ok(touched <= 2 * 4 * MAX_RECORDS_PER_PACKET, `judgeSeenQuery read ${touched} fields`);
  // The biggest query the wire can carry, decoded as multicast-dns would.
  const big = dnsPacket.encode({
    type: 'query',
    questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }],
    answers: Array.from({ length: 700 }, (_, i) => ({ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: 120, data: peer(i).instance })),
  });
  assert.ok(big.length > 9000 && big.length < 65_507);
  const decoded = dnsPacket.decode(big);
  for (let i = 0; i < 100; i++) {
    queryAsksForUs(me, decoded);
    judgeSeenQuery(me, decoded, () => true);
  }
  // Bounded work above is the guarantee; this catches an accidental quadratic loop, with room for a loaded machine.
  assert.ok(performance.now() - started < 5000, `took ${Math.round(performance.now() - started)} ms`);
});
