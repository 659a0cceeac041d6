// mDNS parsing fuzz tests (fast-check): random and mutated dns-packet-shaped objects,
// random bytes and bit-flipped real packets through dns-packet's decoder (what
// multicast-dns hands us), fed to parseResponse, queryAsksForUs and the peer table.
// None may throw, each packet must cost under a few milliseconds, and the table keeps
// its invariants (bounded size, `lost` only for a peer reported found).
// Seeded through test/helpers/fuzz.ts: the seed is printed; replay with FUZZ_SEED=<seed>
// (and FUZZ_PATH=<path> for the counterexample). Short by default; longer with
// FUZZ_RUNS=<n> per property.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { fuzz, fuzzRuns, fuzzSeed } from '../helpers/fuzz.js';
import { MDNS_SERVICE_TYPE, mdnsIdentity, parseResponse, queryAsksForUs, serviceRecords } from '../../src/discovery/mdns-records.js';
import { MdnsPeerTable } from '../../src/discovery/mdns-peers.js';

const RUNS = fuzzRuns(200);
/** Most time one packet may take through parsing and the table, in ms (the best of five tries counts, so a GC pause does not fail the test). */
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 5);
const MAX_INSTANCES = 64;

const me = mdnsIdentity('alice@host', 'aaaa1111', 4000, 'blue');
const bob = mdnsIdentity('bob@host', 'bbbb2222', 4001, 'blue');
const carol = mdnsIdentity('carol@host', 'cccc3333', 4002, 'red');
const ctx = { instance: me.instance, target: me.target, cluster: 'blue' };

/** Minimal view of dns-packet (a dependency of multicast-dns), loaded if it can be resolved. */
interface DnsPacket {
  encode(packet: unknown): Buffer;
  decode(buf: Buffer): unknown;
}
function loadDnsPacket(): DnsPacket | undefined {
  try {
    const require = createRequire(import.meta.url);
    return require(require.resolve('dns-packet', { paths: [require.resolve('multicast-dns')] })) as DnsPacket;
  } catch {
    return undefined;
  }
}
const dnsPacket = loadDnsPacket();

/** Run a property (helpers/fuzz.ts), saying which seed and how many runs. */
function check<T>(t: TestContext, what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void): void {
  t.diagnostic(`${what}: seed ${fuzzSeed()}, ${RUNS} runs (replay: FUZZ_SEED=${fuzzSeed()})`);
  fuzz(what, arb, predicate, RUNS);
}

/** Time fn in ms; when over budget, the best of five tries counts (a GC pause is not the packet's fault). */
/**
 * The CPU time fn takes, ms: the best of up to 10 tries (stopping once under budget),
 * counted in this process's CPU time rather than on the wall clock, so other processes
 * busy on the machine (the other test files run in parallel) do not count against it.
 */
function timed(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 10 && best >= BUDGET_MS; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return best;
}

/** A peer table plus a record of what it reported, checking its invariants on every call. */
class CheckedTable {
  readonly table = new MdnsPeerTable({ maxInstances: MAX_INSTANCES, maxAddressesPerTarget: 4 });
  readonly reported = new Set<string>();
  now = 0;

  feed(packet: unknown, source: string, advanceMs: number): void {
    this.now += advanceMs;
    const parsed = parseResponse(packet, ctx);
    for (const list of [parsed.ptrs, parsed.srvs, parsed.txts, parsed.addresses, parsed.foreign]) {
      for (const r of list) assert.ok(Number.isInteger(r.ttl) && r.ttl >= 0 && r.ttl <= 240, `TTL ${r.ttl} out of range`);
    }
    this.check(this.table.apply(parsed, this.now, source));
    this.check(this.table.tick(this.now));
  }

  private check(res: ReturnType<MdnsPeerTable['apply']>): void {
    for (const c of res.changes) {
      if (c.kind === 'found') {
        assert.ok(c.peer.addresses.length > 0 && c.peer.port >= 1 && c.peer.port <= 65535, 'a found peer has an address and a port');
        assert.notEqual(c.peer.id, me.instance.toLowerCase(), 'never ourselves');
        this.reported.add(c.peer.id);
      } else {
        assert.ok(this.reported.delete(c.id), `lost ${c.id} that was never found`);
      }
    }
    assert.ok(this.table.size <= MAX_INSTANCES, `table holds ${this.table.size} instances`);
  }
}

// ---- arbitraries -------------------------------------------------------------------------------

const nameArb = fc.oneof(
  fc.constantFrom(MDNS_SERVICE_TYPE, MDNS_SERVICE_TYPE.toUpperCase(), bob.instance, carol.instance, me.instance, bob.target, me.target, 'x.local', ''),
  fc.string({ maxLength: 40 }).map((s) => `${s}.${MDNS_SERVICE_TYPE}`),
  fc.string({ maxLength: 300 }),
  fc.constant('a'.repeat(70_000)),
  fc.anything(),
);
const ttlArb = fc.oneof(
  fc.constantFrom(0, 1, 120, 240, 4500, 0xffff_ffff, -1, 1.5, Number.NaN, Infinity, '120'),
  fc.integer(),
  fc.anything(),
);
const txtEntryArb = fc.oneof(
  fc.constantFrom('v=2', 'v=1', 'name=bob@host', 'name=x', 'cluster=blue', 'cluster=red', 'cluster=', 'tag=00ff', '=', 'v'),
  fc.string({ maxLength: 300 }),
);
const dataArb = fc.oneof(
  fc.constantFrom(bob.instance, '10.0.0.2', '224.0.0.251', '0.0.0.0', '1.2.3', '::1'),
  fc.ipV4(),
  fc.record({ port: fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.anything()), target: nameArb }, { requiredKeys: [] }),
  fc.array(txtEntryArb.map((s) => Buffer.from(s)), { maxLength: 70 }),
  fc.array(fc.oneof(txtEntryArb.map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 300 }), fc.anything()), { maxLength: 10 }),
  fc.anything(),
);
const recordArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constantFrom('PTR', 'SRV', 'TXT', 'A', 'AAAA', 'NSEC', 'ANY'), name: nameArb, ttl: ttlArb, data: dataArb, class: fc.constant('IN'), flush: fc.boolean() }, { requiredKeys: ['type'] }) },
  { weight: 1, arbitrary: fc.anything() },
);
const packetArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constantFrom('response', 'query'), answers: fc.array(recordArb, { maxLength: 30 }), additionals: fc.oneof(fc.array(recordArb, { maxLength: 30 }), fc.anything()), questions: fc.array(fc.record({ name: nameArb, type: fc.oneof(fc.constantFrom('PTR', 'SRV', 'TXT', 'A', 'ANY'), fc.anything()) }, { requiredKeys: [] }), { maxLength: 5 }) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.anything() },
);
const sourceArb = fc.constantFrom('10.0.0.2', '10.0.0.66', '10.0.0.3');

/** A real announcement (bob, or carol of another cluster), with a few fields replaced by random values. */
const mutation = fc.record({ index: fc.nat(), key: fc.constantFrom('type', 'name', 'ttl', 'data', 'class', 'flush'), value: fc.oneof(nameArb, ttlArb, dataArb), drop: fc.boolean() });
const mutatedArb = fc
  .record({ who: fc.constantFrom(bob, carol), ttl: fc.constantFrom(0, 120, 4500), addresses: fc.array(fc.ipV4(), { minLength: 1, maxLength: 3 }), mutations: fc.array(mutation, { maxLength: 4 }) })
  .map(({ who, ttl, addresses, mutations }) => {
    const records = serviceRecords(who, addresses, ttl).map((r) => ({ ...r, class: 'IN' }) as Record<string, unknown>);
    for (const m of mutations) {
      const r = records[m.index % records.length]!;
      if (m.drop) delete r[m.key];
      else r[m.key] = m.value;
    }
    return { type: 'response', answers: records, additionals: [] };
  });

// ---- properties --------------------------------------------------------------------------------

test('random dns-packet-shaped objects never throw, cost little, and keep the table consistent', (t) => {
  const times: number[] = [];
  check(t, 'random packets', fc.array(fc.tuple(packetArb, sourceArb, fc.nat({ max: 200_000 })), { minLength: 1, maxLength: 20 }), (steps) => {
    const table = new CheckedTable();
    for (const [packet, source, advance] of steps) {
      const ms = timed(() => {
        queryAsksForUs(me, packet);
        table.feed(packet, source, advance);
      });
      times.push(ms);
      assert.ok(ms < BUDGET_MS, `a packet took ${ms.toFixed(2)} ms (budget ${BUDGET_MS} ms)`);
    }
  });
  times.sort((a, b) => a - b);
  const at = (q: number): string => (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(3);
  t.diagnostic(`${times.length} packets: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
});

test('mutated real announcements never throw, cost little, and keep the table consistent', (t) => {
  check(t, 'mutated packets', fc.array(fc.tuple(mutatedArb, sourceArb, fc.nat({ max: 200_000 })), { minLength: 1, maxLength: 20 }), (steps) => {
    const table = new CheckedTable();
    for (const [packet, source, advance] of steps) {
      const ms = timed(() => table.feed(packet, source, advance));
      assert.ok(ms < BUDGET_MS, `a packet took ${ms.toFixed(2)} ms (budget ${BUDGET_MS} ms)`);
    }
  });
});

test('random bytes and bit-flipped real packets through dns-packet decode never make parsing throw', { skip: dnsPacket ? false : 'dns-packet (a dependency of multicast-dns) cannot be resolved' }, (t) => {
  const codec = dnsPacket!;
  const real = codec.encode({
    type: 'response',
    flags: 1024,
    answers: [...serviceRecords(bob, ['10.0.0.2', '192.168.1.2']), ...serviceRecords(carol, ['10.0.0.3'])],
  });
  // The decoder's own output for a real packet: the starting point of every flip.
  assert.equal(parseResponse(codec.decode(real), ctx).txts.length, 1, 'the unflipped packet parses to bob');
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((flips) => {
      const b = Buffer.from(real);
      for (const [at, v] of flips) b[at % b.length] = v;
      return b;
    }),
    fc.nat({ max: real.length }).map((n) => real.subarray(0, n)),
  );
  let decoded = 0;
  check(t, 'decoded bytes', fc.array(fc.tuple(bytesArb, sourceArb), { minLength: 1, maxLength: 10 }), (steps) => {
    const table = new CheckedTable();
    for (const [bytes, source] of steps) {
      let packet: unknown;
      try {
        packet = codec.decode(bytes); // multicast-dns turns a throw here into a 'warning'
      } catch {
        continue;
      }
      decoded++;
      const ms = timed(() => {
        queryAsksForUs(me, packet);
        table.feed(packet, source, 1000);
      });
      assert.ok(ms < BUDGET_MS, `a packet took ${ms.toFixed(2)} ms (budget ${BUDGET_MS} ms)`);
    }
  });
  t.diagnostic(`${decoded} byte strings decoded and parsed`);
  assert.ok(decoded > 0, 'some inputs must get through the decoder, or this test proves nothing');
});

test('worst cases within one UDP datagram (64 KB) parse in a few ms', (t) => {
  // At most 256 records are read per packet; 65 507 bytes leave ~250 bytes of TXT data
  // per record, e.g. 19 entries of 'cluster=blue' (13 bytes each on the wire).
  const txtHeavy = {
    type: 'response',
    answers: Array.from({ length: 256 }, (_, i) => ({ type: 'TXT', name: `n${i}.${MDNS_SERVICE_TYPE}`, ttl: 120, data: Array.from({ length: 19 }, () => Buffer.from('cluster=blue')) })),
  };
  const manyA = { type: 'response', answers: Array.from({ length: 10_000 }, (_, i) => ({ type: 'A', name: bob.target, ttl: 120, data: `10.0.${i >> 8 & 255}.${i & 255}` })) };
  const fullPeers = {
    type: 'response',
    answers: Array.from({ length: 64 }, (_, i) => serviceRecords(mdnsIdentity(`n${i}@h`, `${i + 1}`, 4000 + i, 'blue'), [`10.0.0.${i + 1}`])).flat(),
  };
  for (const [what, packet] of [['256 TXT records', txtHeavy], ['10 000 A records', manyA], ['64 complete peers', fullPeers]] as const) {
    const ms = timed(() => new CheckedTable().feed(packet, '10.0.0.2', 0));
    t.diagnostic(`${what}: ${ms.toFixed(3)} ms`);
    assert.ok(ms < BUDGET_MS, `${what}: took ${ms.toFixed(2)} ms`);
  }
});
