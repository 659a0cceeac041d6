// Registry simulation tests: property tests (fast-check) over a deterministic cluster
// of RegistrySync replicas (test/helpers/sim.ts), and a few hand-written scenarios.
// Replay a failure with the seed and path it prints: SIM_SEED=<seed> SIM_PATH=<path>.
// More runs: SIM_RUNS=<n> (every property runs n times).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fuzz.js';
import { RegistrySim, fingerprint } from '../helpers/sim.js';
import type { SimReplica } from '../helpers/sim.js';
import { compareClaims, RegistryState } from '../../src/registry/registry.js';
import type { Claim, Delta } from '../../src/registry/registry.js';
import { parseRegistryMessage } from '../../src/registry/messages.js';
import { QUIET_ROUNDS, QUIET_SLOWDOWN } from '../../src/registry/sync.js';
import { decode, encode } from '../../src/wire/codec.js';


/** Run a property with a fixed seed (SIM_SEED, SIM_PATH, SIM_RUNS); a failure names the seed, the path and the counterexample. */
function check<T>(what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void, defaultRuns: number): void {
  checkProperty('SIM', 20_240_611, what, arb, predicate, defaultRuns);
}

// ---- scenario generator ------------------------------------------------------------------------

const NAMES = ['a', 'b', 'c', 'd'];
const MAX_NODES = 6;

type Op =
  | { k: 'claim'; r: number; name: string }
  | { k: 'release'; r: number; name: string }
  | { k: 'partition'; groups: number[] }
  | { k: 'heal' }
  | { k: 'crash'; r: number; downMs: number }
  | { k: 'advance'; ms: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('claim' as const), r: fc.nat(MAX_NODES - 1), name: fc.constantFrom(...NAMES) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('release' as const), r: fc.nat(MAX_NODES - 1), name: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('partition' as const), groups: fc.array(fc.nat(2), { minLength: MAX_NODES, maxLength: MAX_NODES }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'heal' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('crash' as const), r: fc.nat(MAX_NODES - 1), downMs: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
);

interface Scenario {
  simSeed: number;
  nodes: number;
  loss: number;
  dup: number;
  maxDelayMs: number;
  /** In-order links (like TCP) or reordering ones. */
  fifo: boolean;
  ops: Op[];
}

const arbScenario: fc.Arbitrary<Scenario> = fc.record({
  simSeed: fc.integer({ min: 1, max: 0x7fff_ffff }),
  nodes: fc.integer({ min: 2, max: MAX_NODES }),
  loss: fc.constantFrom(0, 0.05, 0.2, 0.5),
  dup: fc.constantFrom(0, 0.1, 0.3),
  maxDelayMs: fc.constantFrom(5, 50, 400),
  fifo: fc.boolean(),
  ops: fc.array(arbOp, { minLength: 1, maxLength: 40, size: 'max' }),
});

function groupsOf(labels: number[], n: number): number[][] {
  const by = new Map<number, number[]>();
  for (let i = 0; i < n; i++) by.set(labels[i]!, [...(by.get(labels[i]!) ?? []), i]);
  return [...by.values()];
}

function newSim(s: Scenario, extra: Partial<ConstructorParameters<typeof RegistrySim>[0]> = {}): RegistrySim {
  return new RegistrySim({
    seed: s.simSeed,
    nodes: s.nodes,
    faults: { loss: s.loss, dup: s.dup, delayMs: [1, s.maxDelayMs], dupDelayMs: [1, s.maxDelayMs * 4] },
    fifo: s.fifo,
    ...extra,
  });
}

/** Apply the operations, then bring crashed replicas back. */
function play(sim: RegistrySim, s: Scenario): void {
  for (const op of s.ops) {
    switch (op.k) {
      case 'claim':
        sim.claim(op.r % s.nodes, op.name);
        break;
      case 'release':
        sim.release(op.r % s.nodes, op.name);
        break;
      case 'partition':
        sim.partition(groupsOf(op.groups, s.nodes));
        break;
      case 'heal':
        sim.heal();
        break;
      case 'crash': {
        const r = op.r % s.nodes;
        sim.crash(r);
        sim.clock.setTimeout(() => sim.restart(r), op.downMs);
        break;
      }
      case 'advance':
        sim.advance(op.ms);
        break;
    }
  }
  for (const r of sim.replicas) sim.restart(r.index);
}

/** What the generated runs exercised, reported as a test diagnostic (a property over trivial runs proves little). */
class Coverage {
  runs = 0;
  messages = 0;
  protocolRefusals = 0;
  readonly kinds = new Map<string, number>();
  add(sim: RegistrySim): void {
    this.runs++;
    this.messages += sim.stats.sent;
    for (const e of sim.events) this.kinds.set(e.kind, (this.kinds.get(e.kind) ?? 0) + 1);
    this.kinds.set('restarts', (this.kinds.get('restarts') ?? 0) + sim.replicas.reduce((n, r) => n + r.gen - 1, 0));
    this.kinds.set('runs with a lost event', (this.kinds.get('runs with a lost event') ?? 0) + (sim.events.some((e) => e.kind === 'lost') ? 1 : 0));
  }
  toString(): string {
    return `${this.runs} runs, ${Math.round(this.messages / Math.max(1, this.runs))} messages/run, ${[...this.kinds].map(([k, n]) => `${k}: ${n}`).join(', ')}`;
  }
}

function holderKey(c: Claim | undefined): string {
  return c ? `${c.owner}/${c.incarnation}@${c.stamp[0]}.${c.stamp[1]}` : '-';
}

/** Invariants of any settled replica: only live owners, no protocol errors, events tracking state. */
function assertSane(sim: RegistrySim): void {
  assert.deepEqual(sim.protocolErrors.slice(0, 3), [], 'no replica refused a message');
  const live = new Set(sim.live().map((r) => `${r.name}/${r.inc}`));
  for (const r of sim.live()) {
    const s = r.sync!;
    for (const o of s.state.ownerIds()) assert.ok(live.has(`${o.owner}/${o.inc}`), `${r.name} holds entries of ${o.owner}/${o.inc}, which is not live`);
    // The last registered/freed event of this incarnation for each name is its current holder.
    const last = new Map<string, string>();
    for (const e of sim.eventsOf(r.name, r.inc)) {
      if (e.kind === 'registered') last.set(e.name, `${e.owner}/${e.ownerInc}@${e.stamp[0]}.${e.stamp[1]}`);
      if (e.kind === 'freed') last.set(e.name, '-');
    }
    for (const name of new Set([...last.keys(), ...s.registered().map((c) => c.name)])) {
      assert.equal(last.get(name) ?? '-', holderKey(s.whereis(name)), `${r.name}: events of ${name} end at its holder`);
    }
  }
}

// ---- 1. convergence ----------------------------------------------------------------------------

test('property 1: after faults stop, every live replica holds the same registry', (t) => {
  const cov = new Coverage();
  check(
    'convergence',
    arbScenario,
    (s) => {
      const sim = newSim(s);
      play(sim, s);
      sim.settle();
      cov.add(sim);
      const [first, ...rest] = sim.live();
      for (const r of rest) {
        assert.equal(r.sync!.state.snapshot(), first!.sync!.state.snapshot(), `${r.name} vs ${first!.name}: snapshot`);
        assert.deepEqual(r.sync!.registered(), first!.sync!.registered(), `${r.name} vs ${first!.name}: registered()`);
      }
      assertSane(sim);
    },
    1500,
  );
  t.diagnostic(cov.toString());
});

// ---- 2. one holder per connected group ---------------------------------------------------------

test('property 2: once settled, each connected group agrees on one holder per name, the earliest claim of its members', (t) => {
  const cov = new Coverage();
  check(
    'one holder per group',
    fc.tuple(arbScenario, fc.array(fc.nat(2), { minLength: MAX_NODES, maxLength: MAX_NODES })),
    ([s, labels]) => {
      const sim = newSim(s);
      play(sim, s);
      sim.partition(groupsOf(labels, s.nodes));
      sim.settle({ keepPartition: true });
      cov.add(sim);
      for (const group of sim.connectedGroups()) {
        const members = new Set(group.map((r) => `${r.name}/${r.inc}`));
        for (const name of NAMES) {
          const holders = new Set(group.map((r) => holderKey(r.sync!.whereis(name))));
          assert.equal(holders.size, 1, `${name}: one holder in group ${[...members]}: ${[...holders]}`);
          // The holder is the earliest claim any member of the group has on the name.
          const own = group.map((r) => r.sync!.ownClaim(name)).filter((c): c is Claim => c !== undefined);
          const earliest = own.sort(compareClaims)[0];
          assert.equal([...holders][0], holderKey(earliest), `${name}: holder is the group's earliest claim`);
        }
      }
      assertSane(sim);
    },
    1000,
  );
  t.diagnostic(cov.toString());
});

// ---- 3. earliest claim wins after a heal --------------------------------------------------------

interface SplitScenario {
  simSeed: number;
  nodes: number;
  labels: boolean[];
  loss: number;
  dup: number;
  maxDelayMs: number;
  waitMs: number;
  gapMs: number;
  firstSide: boolean;
  claimants: [number, number];
  noise: { r: number; name: string }[];
}

const arbSplit: fc.Arbitrary<SplitScenario> = fc.record({
  simSeed: fc.integer({ min: 1, max: 0x7fff_ffff }),
  nodes: fc.integer({ min: 2, max: MAX_NODES }),
  labels: fc.array(fc.boolean(), { minLength: MAX_NODES, maxLength: MAX_NODES }),
  loss: fc.constantFrom(0, 0.1, 0.4),
  dup: fc.constantFrom(0, 0.2),
  maxDelayMs: fc.constantFrom(5, 50, 400),
  waitMs: fc.integer({ min: 0, max: 1500 }),
  gapMs: fc.integer({ min: 1, max: 3000 }),
  firstSide: fc.boolean(),
  claimants: fc.tuple(fc.nat(MAX_NODES - 1), fc.nat(MAX_NODES - 1)),
  noise: fc.array(fc.record({ r: fc.nat(MAX_NODES - 1), name: fc.constantFrom('p', 'q') }), { maxLength: 4 }),
});

test('property 3: claims made on both sides of a partition resolve to the earliest after the heal', () => {
  check(
    'earliest claim wins',
    arbSplit,
    (s) => {
      // Two non-empty sides: node 0 on side A, node 1 on side B, the rest by label.
      const sideA = [0, ...Array.from({ length: s.nodes - 2 }, (_, i) => i + 2).filter((i) => s.labels[i])];
      const sideB = [1, ...Array.from({ length: s.nodes - 2 }, (_, i) => i + 2).filter((i) => !s.labels[i])];
      const sim = new RegistrySim({ seed: s.simSeed, nodes: s.nodes, faults: { loss: s.loss, dup: s.dup, delayMs: [1, s.maxDelayMs], dupDelayMs: [1, s.maxDelayMs] } });
      for (const n of s.noise) sim.claim(n.r % s.nodes, n.name);
      sim.advance(100);
      sim.partition([sideA, sideB]);
      sim.advance(s.waitMs); // claims may come before or after the sides notice each other gone
      const pick = (side: number[], k: number): SimReplica => sim.replica(side[k % side.length]!);
      const [first, second] = s.firstSide ? [pick(sideA, s.claimants[0]), pick(sideB, s.claimants[1])] : [pick(sideB, s.claimants[1]), pick(sideA, s.claimants[0])];
      const t1 = sim.now;
      assert.equal(sim.claim(first.index, 'x'), 'claimed');
      const firstClaim = first.sync!.ownClaim('x')!;
      sim.advance(s.gapMs);
      assert.equal(sim.claim(second.index, 'x'), 'claimed', 'the other side has not heard of the first claim');
      sim.advance(200);
      sim.settle();

      for (const r of sim.live()) assert.equal(holderKey(r.sync!.whereis('x')), holderKey(firstClaim), `${r.name} names the earliest claimant`);
      const lost = sim.eventsOf(second.name, second.inc).filter((e) => e.kind === 'lost' && e.name === 'x');
      assert.equal(lost.length, 1, `${second.name} was told it lost x`);
      assert.equal(lost[0]!.owner, first.name);
      const firstEvents = sim.eventsOf(first.name, first.inc).filter((e) => e.name === 'x');
      assert.ok(firstEvents.every((e) => e.kind === 'registered' && e.owner === first.name && e.t >= t1), `${first.name} never lost x nor saw another holder: ${JSON.stringify(firstEvents)}`);
      assert.equal(firstEvents.length, 1, 'one registered event, at the claim');
      assertSane(sim);
    },
    1000,
  );
});

// ---- 4. merge is a CRDT -------------------------------------------------------------------------

type OwnerOp = { k: 'claim' | 'release'; owner: number; name: string } | { k: 'collect'; owner: number; frac: number } | { k: 'snap'; owner: number; since: number; max: number };

const OWNERS = [{ owner: 'alice@host', inc: 'a1' }, { owner: 'bob@host', inc: 'b2' }] as const;

const arbOwnerOp: fc.Arbitrary<OwnerOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constantFrom('claim' as const, 'release' as const), owner: fc.nat(1), name: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('collect' as const), owner: fc.nat(1), frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('snap' as const), owner: fc.nat(1), since: fc.double({ min: 0, max: 1, noNaN: true }), max: fc.integer({ min: 1, max: 4 }) }) },
);

/** Run owners' histories; return every delta they could have sent (pushes and deltaSince chunks), as the wire carries them. */
function ownerDeltas(ops: OwnerOp[]): { deltas: Delta[]; truth: RegistryState } {
  const truth = new RegistryState();
  const deltas: Delta[] = [];
  let wall = 0;
  for (const op of ops) {
    const { owner, inc } = OWNERS[op.owner]!;
    const d = truth.ownerDigest(owner, inc);
    if (op.k === 'claim' || op.k === 'release') {
      const mine = truth.claimOf(owner, inc, op.name);
      if (op.k === 'claim' && mine) continue;
      if (op.k === 'release' && !mine) continue;
      const e = truth.write(owner, inc, op.name, mine ? mine.stamp : [++wall, 0], op.k === 'release');
      deltas.push({ owner, inc, base: e.version - 1, version: e.version, floor: truth.ownerDigest(owner, inc)!.floor, entries: [e] });
    } else if (op.k === 'collect') {
      if (d) truth.collect({ owner, inc }, Math.floor(d.floor + op.frac * (d.version - d.floor)));
    } else if (op.k === 'snap' && d) {
      deltas.push(...truth.deltaSince(owner, inc, Math.floor(op.since * d.version), op.max));
    }
  }
  const wire = deltas.map((d) => {
    const m = parseRegistryMessage(decode(encode({ k: 'delta', d, h: [1, 0] })));
    assert.equal(m.k, 'delta');
    return (m as { d: Delta }).d;
  });
  return { deltas: wire, truth };
}

function mergeAll(deltas: Delta[], order: number[]): RegistryState {
  const r = new RegistryState();
  for (const i of order) r.merge(deltas[i]!);
  return r;
}

test('property 4: merging any set of deltas in any order, with duplicates, gives the same registry', () => {
  check(
    'merge is a CRDT',
    fc.record({
      ops: fc.array(arbOwnerOp, { minLength: 1, maxLength: 40 }),
      // Indices into the deltas (taken modulo their count): two orders of one multiset.
      pick: fc.array(fc.nat(1000), { minLength: 1, maxLength: 30 }),
      shuffle: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 30, maxLength: 30 }),
      dups: fc.array(fc.nat(1000), { maxLength: 10 }),
    }),
    ({ ops, pick, shuffle, dups }) => {
      const { deltas, truth } = ownerDeltas(ops);
      if (deltas.length === 0) return;
      const subset = [...new Set(pick.map((i) => i % deltas.length))];
      const reordered = subset.map((i, k) => [i, shuffle[k % shuffle.length]!] as const).sort((a, b) => a[1] - b[1]).map(([i]) => i);
      const withDups = [...reordered];
      for (const d of dups) withDups.splice(d % (withDups.length + 1), 0, subset[d % subset.length]!);
      const a = mergeAll(deltas, subset);
      assert.equal(mergeAll(deltas, reordered).snapshot(), a.snapshot(), `order: ${subset} vs ${reordered}`);
      assert.equal(mergeAll(deltas, withDups).snapshot(), a.snapshot(), `duplicates: ${withDups}`);
      // Every delta, in any order: the owners' own state.
      const all = deltas.map((_, i) => i);
      const allShuffled = all.map((i) => [i, shuffle[i % shuffle.length]! + i / 1e6] as const).sort((x, y) => x[1] - y[1]).map(([i]) => i);
      assert.equal(mergeAll(deltas, allShuffled).snapshot(), truth.snapshot(), 'all deltas give the owners state');
    },
    3000,
  );
});

// ---- 5. down owners' claims go everywhere -------------------------------------------------------

test('property 5a: a crashed replica\'s claims leave every live replica, and stale re-sends do not bring them back', () => {
  check(
    'crashed owner claims go',
    fc.record({
      simSeed: fc.integer({ min: 1, max: 0x7fff_ffff }),
      nodes: fc.integer({ min: 3, max: MAX_NODES }),
      victim: fc.nat(MAX_NODES - 1),
      claims: fc.array(fc.record({ r: fc.nat(MAX_NODES - 1), name: fc.constantFrom(...NAMES) }), { minLength: 1, maxLength: 8 }),
      loss: fc.constantFrom(0, 0.2),
      restart: fc.boolean(),
    }),
    (s) => {
      const sim = new RegistrySim({ seed: s.simSeed, nodes: s.nodes, recordDeltas: true, faults: { loss: s.loss, dup: 0.3, delayMs: [1, 50], dupDelayMs: [1, 3000] } });
      const v = s.victim % s.nodes;
      sim.claim(v, 'mine'); // the victim holds at least one name
      for (const c of s.claims) {
        sim.claim(c.r % s.nodes, c.name);
        sim.advance(50);
      }
      sim.settle();
      const victim = sim.replica(v);
      const oldInc = victim.inc;
      assert.ok(victim.sync!.registered().some((c) => c.owner === victim.name), 'the victim held a name before crashing');
      sim.setFaults({ loss: s.loss, dup: 0.3 });
      sim.crash(v);
      sim.advance(sim.detectMs[1] + 1);
      const noVictim = (when: string): void => {
        for (const r of sim.live()) {
          if (r.index === v) continue;
          assert.ok(!r.sync!.registered().some((c) => c.owner === victim.name && c.incarnation === oldInc), `${when}: ${r.name} still lists ${victim.name}'s claims`);
          assert.equal(r.sync!.state.ownerDigest(victim.name, oldInc), undefined, `${when}: ${r.name} still holds ${victim.name}/${oldInc}`);
        }
      };
      noVictim('after nodeDown');
      // Every delta of the victim ever delivered is re-sent by a third party to every live replica.
      const stale = sim.deltas.filter((d) => d.owner === victim.name && d.inc === oldInc);
      assert.ok(stale.length > 0);
      const others = sim.live().filter((r) => r.index !== v);
      for (const [k, d] of stale.entries()) {
        const from = others[k % others.length]!;
        for (const to of others) if (to !== from) sim.replay(d, from.index, to.index);
      }
      noVictim('after stale re-sends');
      if (s.restart) sim.restart(v);
      sim.settle();
      noVictim('after settling');
      assertSane(sim);
    },
    500,
  );
});

test('property 5b: an owner back from a partition is not haunted by stale re-sends of claims it released meanwhile', () => {
  check(
    'stale deltas after a heal',
    fc.record({
      simSeed: fc.integer({ min: 1, max: 0x7fff_ffff }),
      nodes: fc.integer({ min: 3, max: MAX_NODES }),
      victim: fc.nat(MAX_NODES - 1),
      before: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1 }),
      release: fc.array(fc.boolean(), { minLength: NAMES.length, maxLength: NAMES.length }),
      after: fc.array(fc.constantFrom('e', 'f'), { maxLength: 2 }),
    }),
    (s) => {
      const sim = new RegistrySim({ seed: s.simSeed, nodes: s.nodes, recordDeltas: true });
      const v = s.victim % s.nodes;
      for (const name of s.before) sim.claim(v, name);
      sim.settle();
      const victim = sim.replica(v);
      // Alone, the victim releases some names, and collects their tombstones (it has no members).
      sim.partition([[v], sim.replicas.map((r) => r.index).filter((i) => i !== v)]);
      sim.advance(sim.detectMs[1] + 1);
      s.before.forEach((name, i) => s.release[i] && sim.release(v, name));
      for (const name of s.after) sim.claim(v, name);
      sim.advance(3 * sim.antiEntropyIntervalMs);
      assert.equal(victim.sync!.state.tombstones(), 0, 'the victim collected its tombstones');
      // At reconnect, a third party re-sends every old delta of the victim before its fresh push arrives.
      const stale = sim.deltas.filter((d) => d.owner === victim.name);
      sim.onLinkUp = (a, b) => {
        const peer = a.index === v ? b : b.index === v ? a : undefined;
        if (!peer) return;
        const third = sim.live().find((r) => r.index !== v && r !== peer);
        if (third) for (const d of stale) sim.replay(d, third.index, peer.index);
      };
      sim.heal();
      sim.settle();
      const expected = victim.sync!.registered().filter((c) => c.owner === victim.name).map((c) => c.name);
      for (const r of sim.live()) {
        assert.deepEqual(r.sync!.registered().filter((c) => c.owner === victim.name).map((c) => c.name), expected, `${r.name} lists exactly the victim's current claims`);
      }
      assertSane(sim);
    },
    500,
  );
});

// ---- scenarios ------------------------------------------------------------------------------------

test('scenario: the demo — bob claims, alice joins and sees bob, her claim attempt loses; carol races and is told she lost; bob leaves and the name is freed', () => {
  const sim = new RegistrySim({ seed: 7, nodes: ['bob@demo', 'alice@demo', 'carol@demo'], notStarted: [1, 2], fifo: true });
  const [alice, carol] = [sim.replica('alice@demo'), sim.replica('carol@demo')];
  assert.equal(sim.claim('bob@demo', 'roar'), 'claimed');
  sim.advance(1000);

  sim.restart('alice@demo');
  for (let i = 0; i < 100 && !(alice.sync!.isSynced() && sim.membershipSettled()); i++) sim.advance(10);
  assert.ok(alice.sync!.isSynced(), 'alice synced with bob');
  assert.equal(alice.sync!.whereis('roar')?.owner, 'bob@demo', 'alice sees bob as holder');
  assert.equal(sim.claim('alice@demo', 'roar'), 'taken', "alice's claim attempt loses to bob");
  assert.equal(alice.sync!.ownClaim('roar'), undefined, 'and leaves no claim behind');

  // Carol claims the moment she starts, before anyone's entries reach her.
  sim.restart('carol@demo');
  assert.equal(sim.claim('carol@demo', 'roar'), 'claimed');
  sim.settle();
  assert.equal(carol.sync!.whereis('roar')?.owner, 'bob@demo');
  assert.deepEqual(sim.eventsOf('carol@demo').map((e) => [e.kind, e.owner]), [['registered', 'carol@demo'], ['lost', 'bob@demo'], ['registered', 'bob@demo']]);
  sim.release('carol@demo', 'roar'); // what the node does with a claim it lost

  const tLeave = sim.now;
  sim.crash('bob@demo');
  sim.advance(sim.detectMs[1] + 100);
  for (const r of sim.live()) assert.equal(r.sync!.whereis('roar'), undefined, `${r.name}: roar is free`);
  assert.deepEqual(sim.eventsOf('alice@demo').map((e) => [e.kind, e.owner]), [['registered', 'bob@demo'], ['freed', 'bob@demo']]);
  assert.deepEqual(sim.eventsOf('bob@demo').map((e) => [e.kind, e.owner]), [['registered', 'bob@demo']]);
  sim.advance(10 * sim.antiEntropyIntervalMs);
  assert.deepEqual(sim.events.filter((e) => e.t > tLeave && e.kind !== 'freed'), [], 'nobody else claims');
  for (const r of sim.live()) assert.deepEqual(r.sync!.registered(), []);
  assertSane(sim);
});

test('scenario: an update dropped on its way to one member is repaired by anti-entropy within 2 intervals', () => {
  for (let seed = 1; seed <= 25; seed++) {
    const sim = new RegistrySim({ seed, nodes: 3, faults: { delayMs: [1, 20] } });
    const interval = sim.antiEntropyIntervalMs;
    sim.advance(seed * 37); // a different phase of the anti-entropy timers each time
    sim.dropRule = (from, to, m) => to === 'n1@sim' && m.k === 'delta' && m.d.owner === 'n0@sim';
    const t0 = sim.now;
    assert.equal(sim.claim(0, 'x'), 'claimed');
    sim.advance(100);
    assert.equal(sim.sync(2).whereis('x')?.owner, 'n0@sim', `seed ${seed}: n2 got the push`);
    assert.equal(sim.sync(1).whereis('x'), undefined, `seed ${seed}: n1 missed it (push and forwards dropped)`);
    sim.dropRule = undefined;
    // n1's own next digest (at most 1.5 intervals away) reaches a member that has x.
    let repairedAt: number | undefined;
    while (sim.now - t0 <= 2 * interval) {
      sim.advance(10);
      if (sim.sync(1).whereis('x')?.owner === 'n0@sim') {
        repairedAt = sim.now - t0;
        break;
      }
    }
    assert.ok(repairedAt !== undefined, `seed ${seed}: n1 still lacks x after 2 intervals\n${sim.describe()}`);
    assertSane(sim);
  }
});

test('scenario: a quiet registry slows its anti-entropy rounds to a quarter; a change brings the interval back at once', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const n = 5;
    const sim = new RegistrySim({ seed, nodes: n, faults: { delayMs: [1, 20] } });
    const interval = sim.antiEntropyIntervalMs;
    let digests = 0;
    sim.dropRule = (_from, _to, m) => {
      if (m.k === 'digest' && !m.reply) digests++;
      return false;
    };
    const rate = (ms: number): number => {
      digests = 0;
      sim.advance(ms);
      return digests / n / (ms / interval);
    };
    assert.ok(rate(QUIET_ROUNDS * interval) > 0.7, `seed ${seed}: rounds at the interval while the cluster is new`);
    sim.advance(20 * interval);
    const quiet = rate(60 * interval);
    assert.ok(quiet > 0.2 && quiet < 0.3, `seed ${seed}: quiet rate ${quiet.toFixed(2)} rounds per node per interval, about 1 / ${QUIET_SLOWDOWN}`);
    assert.equal(sim.claim(2, 'x'), 'claimed');
    const busy = rate(QUIET_ROUNDS * interval);
    assert.ok(busy > 0.7, `seed ${seed}: ${busy.toFixed(2)} rounds per node per interval after a change`);
    sim.dropRule = undefined;
    assertSane(sim);
  }
});

test('scenario: after a long quiet spell, an update dropped on its way to one member is still repaired by the members that saw it', () => {
  const repairs: number[] = [];
  for (let seed = 1; seed <= 25; seed++) {
    const sim = new RegistrySim({ seed, nodes: 5, faults: { delayMs: [1, 20] } });
    const interval = sim.antiEntropyIntervalMs;
    sim.advance(60 * interval + seed * 37); // every replica quiet, rounds QUIET_SLOWDOWN intervals apart
    sim.dropRule = (_from, to, m) => to === 'n1@sim' && m.k === 'delta' && m.d.owner === 'n0@sim';
    const t0 = sim.now;
    assert.equal(sim.claim(0, 'x'), 'claimed');
    sim.advance(100);
    assert.equal(sim.sync(1).whereis('x'), undefined, `seed ${seed}: n1 missed it`);
    sim.dropRule = undefined;
    let repairedAt: number | undefined;
    // The victim itself saw nothing and may wait QUIET_SLOWDOWN x 1.5 intervals for its own
    // round; the members that saw the change send theirs at the interval, to random members.
    while (sim.now - t0 <= 1.5 * QUIET_SLOWDOWN * interval + 100) {
      sim.advance(10);
      if (sim.sync(1).whereis('x')?.owner === 'n0@sim') {
        repairedAt = sim.now - t0;
        break;
      }
    }
    assert.ok(repairedAt !== undefined, `seed ${seed}: n1 still lacks x\n${sim.describe()}`);
    repairs.push(repairedAt);
    assertSane(sim);
  }
  repairs.sort((a, b) => a - b);
  const median = repairs[Math.floor(repairs.length / 2)]!;
  assert.ok(median <= 2 * 1000, `median repair ${median} ms (all: ${repairs.join(', ')})`);
});

test('scenario: without anti-entropy, push and forwarding alone bring a claim to nearly every member within a few hops', () => {
  // 10 members, fanout 3: the owner's push reaches 3 of 9; forwarding must do the rest.
  let reached = 0;
  let total = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const sim = new RegistrySim({ seed, nodes: 10, fanout: 3, antiEntropyIntervalMs: 1e9, faults: { delayMs: [1, 20] } });
    sim.advance(100); // join sync done: only pushes and forwards carry the claim
    sim.claim(0, 'x');
    sim.advance(200); // ten hops of at most 20 ms
    for (const r of sim.live()) {
      if (r.index === 0) continue;
      total++;
      if (r.sync!.whereis('x')?.owner === 'n0@sim') reached++;
    }
    assertSane(sim);
  }
  assert.ok(reached / total >= 0.9, `reached ${reached} of ${total}`);
});

test('scenario: join sync of 100 names, in chunks, with collected tombstones; synced means complete', () => {
  const sim = new RegistrySim({ seed: 3, nodes: 2, notStarted: [1], antiEntropyIntervalMs: 10_000, maxDeltaEntries: 7, fifo: true });
  const a = sim.replica(0);
  for (let i = 0; i < 100; i++) assert.equal(sim.claim(0, `name-${String(i).padStart(3, '0')}`), 'claimed');
  for (let i = 0; i < 10; i++) {
    sim.claim(0, `gone-${i}`);
    sim.release(0, `gone-${i}`);
  }
  sim.advance(16_000); // a tick: alone, a collects its tombstones
  assert.equal(a.sync!.state.tombstones(), 0);
  assert.deepEqual(a.sync!.state.ownerDigest(a.name, a.inc), { owner: a.name, inc: a.inc, version: 120, floor: 120 });

  const t0 = sim.now;
  sim.restart(1);
  const b = sim.replica(1);
  let syncedAt: number | undefined;
  while (sim.now - t0 < 2000) {
    sim.advance(1);
    if (syncedAt === undefined && b.sync!.isSynced() && sim.membershipSettled()) {
      syncedAt = sim.now - t0;
      // 'synced' comes after every entry on the same link: complete the moment it says so.
      assert.equal(b.sync!.registered().length, 100, 'b has every name when it reports synced');
    }
  }
  assert.ok(syncedAt !== undefined, 'b synced');
  assert.equal(fingerprint(b.sync!), fingerprint(a.sync!));
  assert.deepEqual(b.sync!.state.ownerDigest(a.name, a.inc), { owner: a.name, inc: a.inc, version: 120, floor: 120 });
  assertSane(sim);
});

test('the simulation is deterministic: same seed and operations, same events', () => {
  const s: Scenario = {
    simSeed: 99,
    nodes: 4,
    loss: 0.2,
    dup: 0.3,
    maxDelayMs: 50,
    fifo: false,
    ops: [
      { k: 'claim', r: 0, name: 'a' },
      { k: 'partition', groups: [0, 0, 1, 1, 0] },
      { k: 'advance', ms: 800 },
      { k: 'claim', r: 2, name: 'a' },
      { k: 'crash', r: 1, downMs: 500 },
      { k: 'advance', ms: 700 },
      { k: 'heal' },
    ],
  };
  const run = (): string => {
    const sim = newSim(s);
    play(sim, s);
    sim.settle();
    return JSON.stringify([sim.events, sim.stats, sim.now]);
  };
  assert.equal(run(), run());
});
