// Confirmed claims, property-tested over the deterministic registry simulation with
// the node's own claim rule (src/registry/claims.ts, through RegistrySim.claimConfirmed).
// Schedules: several replicas claiming in the same instant, random delays that reorder
// messages between links (each link in order, like TCP), crashes, partitions and
// heals, handovers; in default mode (claims only when told) and failover mode (every
// replica claims with epoch 'next' whenever it is synced and sees no holder).
// Properties:
//   1. two tenures never run at the same instant when their nodes were connected all
//      along, from the first of the two claims to the later start;
//   2. (failover) a tenure started after another, on a node that was connected to the
//      first one's node through its confirm round (or on the same node), has a higher
//      epoch; without crashes and partitions, epochs strictly increase in start order;
//   3. after the final heal the first claim in the claim order among the tenures then
//      running holds the name everywhere, and only its tenure runs.
// Replay a failure: SIM_SEED=<seed> SIM_PATH=<path>; more runs: SIM_RUNS=<n>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fuzz.js';
import { RegistrySim } from '../helpers/sim.js';
import { compareClaims } from '../../src/registry/registry.js';
import type { Claim } from '../../src/registry/registry.js';
import type { ClaimEpoch } from '../../src/registry/claims.js';
import { confirmTimeoutMs } from '../../src/membership/timing.js';

const NAME = 'S';
const MAX_NODES = 6;
/** The simulation's failure detection takes up to 600 ms: the round deadline follows it. */
const CONFIRM_MS = confirmTimeoutMs(600);
/** How often a failover replica looks for a free name, ms. */
const CHECK_MS = 50;

/** Run a property with a fixed seed (SIM_SEED, SIM_PATH, SIM_RUNS); a failure names the seed, the path and the counterexample. */
function check<T>(what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void, defaultRuns: number): void {
  checkProperty('SIM', 20_261_201, what, arb, predicate, defaultRuns);
}

type Mode = 'default' | 'failover';

type Op =
  /** These replicas claim in the same instant. */
  | { k: 'claims'; who: boolean[] }
  | { k: 'advance'; ms: number }
  /** Running tenures stop and release the name (a handover in failover mode). */
  | { k: 'stop' }
  | { k: 'crash'; r: number; downMs: number }
  | { k: 'partition'; groups: number[] }
  | { k: 'heal' };

interface Scenario {
  simSeed: number;
  nodes: number;
  maxDelayMs: number;
  ops: Op[];
}

const arbOp = (faults: boolean): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('claims' as const), who: fc.array(fc.boolean(), { minLength: MAX_NODES, maxLength: MAX_NODES }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 10 }) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
    { weight: 2, arbitrary: fc.constant({ k: 'stop' as const }) },
    ...(faults
      ? [
          { weight: 1, arbitrary: fc.record({ k: fc.constant('crash' as const), r: fc.nat(MAX_NODES - 1), downMs: fc.integer({ min: 0, max: 3000 }) }) },
          { weight: 1, arbitrary: fc.record({ k: fc.constant('partition' as const), groups: fc.array(fc.nat(2), { minLength: MAX_NODES, maxLength: MAX_NODES }) }) },
          { weight: 1, arbitrary: fc.constant({ k: 'heal' as const }) },
        ]
      : []),
  );

const arbScenario = (faults: boolean): fc.Arbitrary<Scenario> =>
  fc.record({
    simSeed: fc.integer({ min: 1, max: 0x7fff_ffff }),
    nodes: fc.integer({ min: 2, max: MAX_NODES }),
    maxDelayMs: fc.constantFrom(1, 20, 200),
    ops: fc.array(arbOp(faults), { minLength: 1, maxLength: 30 }),
  });

/** One run of the Singleton on one replica incarnation. */
interface Tenure {
  node: number;
  inc: string;
  epoch: number;
  claim: Claim;
  claimAt: number;
  /** Link tokens to every replica (and their incarnations) when the claim was made, and at the start. */
  claimLinks: (string | undefined)[];
  claimIncs: string[];
  startAt: number;
  startLinks: (string | undefined)[];
  endAt: number | undefined;
}

/** A cluster of simulated replicas running the claim rule, with the tenures it allowed. */
class ClaimRun {
  readonly sim: RegistrySim;
  readonly tenures: Tenure[] = [];
  readonly outcomes = new Map<string, number>();
  private readonly claiming = new Set<string>();
  maxConcurrentClaims = 0;

  constructor(
    readonly s: Scenario,
    readonly mode: Mode,
  ) {
    this.sim = new RegistrySim({ seed: s.simSeed, nodes: s.nodes, fifo: true, faults: { delayMs: [1, s.maxDelayMs], loss: 0, dup: 0 }, confirmTimeoutMs: CONFIRM_MS });
    this.sim.onEvent = (e) => {
      // The node stops its code when its claim loses to an earlier one.
      if (e.kind === 'lost' && e.name === NAME) this.end(this.sim.replica(e.node).index, e.inc);
    };
    if (mode === 'failover') this.tick();
  }

  private key(i: number): string {
    return `${i}/${this.sim.replica(i).inc}`;
  }

  running(): Tenure[] {
    return this.tenures.filter((t) => t.endAt === undefined);
  }

  private runningOn(i: number, inc: string): Tenure | undefined {
    return this.tenures.find((t) => t.node === i && t.inc === inc && t.endAt === undefined);
  }

  private end(i: number, inc: string): void {
    const t = this.runningOn(i, inc);
    if (t) t.endAt = this.sim.now;
  }

  private links(i: number): (string | undefined)[] {
    return this.sim.replicas.map((r) => (r.index === i ? undefined : this.sim.linkState(i, r.index)));
  }

  /** Replica i claims the name through the claim rule; a won claim starts a tenure in that instant. */
  attempt(i: number, epoch: ClaimEpoch): void {
    const r = this.sim.replica(i);
    if (!r.alive || this.claiming.has(this.key(i)) || this.runningOn(i, r.inc)) return;
    const inc = r.inc;
    const key = this.key(i);
    const claimAt = this.sim.now;
    const claimLinks = this.links(i);
    const claimIncs = this.sim.replicas.map((x) => x.inc);
    this.claiming.add(key);
    this.maxConcurrentClaims = Math.max(this.maxConcurrentClaims, this.claiming.size);
    this.sim.claimConfirmed(i, NAME, epoch, (outcome) => {
      this.claiming.delete(key);
      const label = outcome.kind === 'unconfirmed' ? `unconfirmed:${outcome.why}` : outcome.kind;
      this.outcomes.set(label, (this.outcomes.get(label) ?? 0) + 1);
      if (outcome.kind !== 'won' || !r.alive || r.inc !== inc || this.runningOn(i, inc)) return;
      const c = outcome.claim;
      this.tenures.push({ node: i, inc, epoch: c.epoch ?? 0, claim: c, claimAt, claimLinks, claimIncs, startAt: this.sim.now, startLinks: this.links(i), endAt: undefined });
    });
  }

  /** Failover: every replica that is synced and sees no holder claims with the next epoch. */
  private tick(): void {
    for (const r of this.sim.live()) if (r.sync!.isSynced() && !r.sync!.whereis(NAME)) this.attempt(r.index, 'next');
    this.sim.clock.setTimeout(() => this.tick(), CHECK_MS);
  }

  play(): void {
    const n = this.s.nodes;
    for (const op of this.s.ops) {
      switch (op.k) {
        case 'claims':
          for (let i = 0; i < n; i++) if (op.who[i]) this.attempt(i, this.mode === 'failover' ? 'next' : 0);
          break;
        case 'advance':
          this.sim.advance(op.ms);
          break;
        case 'stop':
          for (const t of this.running()) {
            t.endAt = this.sim.now;
            this.sim.release(t.node, NAME);
          }
          break;
        case 'crash': {
          const r = op.r % n;
          const rep = this.sim.replica(r);
          if (rep.alive) this.end(r, rep.inc);
          this.sim.crash(r);
          this.sim.clock.setTimeout(() => this.sim.restart(r), op.downMs);
          break;
        }
        case 'partition': {
          const by = new Map<number, number[]>();
          for (let i = 0; i < n; i++) by.set(op.groups[i]!, [...(by.get(op.groups[i]!) ?? []), i]);
          this.sim.partition([...by.values()]);
          break;
        }
        case 'heal':
          this.sim.heal();
          break;
      }
    }
  }

  describe(): string {
    return this.tenures
      .map((t) => `  ${this.sim.replicas[t.node]!.name}/${t.inc} epoch ${t.epoch} claimed ${t.claimAt.toFixed(1)} ran ${t.startAt.toFixed(1)}..${t.endAt?.toFixed(1) ?? 'now'}`)
      .join('\n');
  }
}

const overlap = (a: Tenure, b: Tenure): boolean => a.startAt < (b.endAt ?? Infinity) && b.startAt < (a.endAt ?? Infinity);

/** Property 1: no overlap between tenures whose nodes were connected from the first claim to the later start. */
function assertSingle(run: ClaimRun): void {
  const ts = run.tenures;
  for (let x = 0; x < ts.length; x++) {
    for (let y = x + 1; y < ts.length; y++) {
      const a = ts[x]!;
      const b = ts[y]!;
      if (!overlap(a, b)) continue;
      assert.ok(a.node !== b.node || a.inc !== b.inc, `two tenures at once on one node\n${run.describe()}`);
      if (a.node === b.node) continue;
      const first = a.claimAt <= b.claimAt ? a : b;
      const other = first === a ? b : a;
      const later = a.startAt >= b.startAt ? a : b;
      const atClaim = first.claimLinks[other.node];
      const atStart = later.startLinks[later === a ? b.node : a.node];
      assert.ok(atClaim === undefined || atClaim !== atStart, `two tenures at once on connected nodes\n${run.describe()}`);
    }
  }
}

/** Property 2: epochs rise along every path of knowledge (same node, or a member of the earlier one's round). */
function assertEpochs(run: ClaimRun, global: boolean): void {
  const ts = [...run.tenures].sort((a, b) => a.startAt - b.startAt);
  for (let x = 0; x < ts.length; x++) {
    for (let y = x + 1; y < ts.length; y++) {
      const t1 = ts[x]!;
      const t2 = ts[y]!;
      const sameNode = t1.node === t2.node && t1.inc === t2.inc;
      const link = t1.claimLinks[t2.node];
      const confirmedIt = t1.node !== t2.node && link !== undefined && link === t1.startLinks[t2.node] && t1.claimIncs[t2.node] === t2.inc;
      if (global || sameNode || confirmedIt) {
        assert.ok(t2.epoch > t1.epoch, `epoch ${t2.epoch} after epoch ${t1.epoch}${global ? '' : sameNode ? ' on one node' : ' on a node that confirmed it'}\n${run.describe()}`);
      }
    }
  }
}

/**
 * Property 3: bring everyone back, let rounds finish, heal. The first claim in the claim
 * order among the tenures alive from the heal on holds the name everywhere, and only its
 * tenure runs. (In failover mode a replica that is reconnected to some members but not
 * yet to the holder's side may take a new tenure with a higher epoch meanwhile; that
 * claim comes first in the order, and the older tenure stops.)
 */
function assertHeal(run: ClaimRun): void {
  const { sim } = run;
  for (const r of sim.replicas) sim.restart(r.index);
  sim.advance(CONFIRM_MS + 3000);
  const healAt = sim.now;
  sim.settle();
  sim.advance(CONFIRM_MS + 1000);
  const after = run.running();
  assert.ok(after.length <= 1, `one tenure at most after the heal\n${run.describe()}`);
  const holders = new Set(sim.live().map((r) => JSON.stringify(r.sync!.whereis(NAME) ?? null)));
  assert.equal(holders.size, 1, 'every replica names the same holder');
  const alive = run.tenures.filter((t) => t.endAt === undefined || t.endAt > healAt);
  if (run.mode === 'default') assert.ok(alive.every((t) => t.startAt <= healAt), `no claim, no new tenure in default mode\n${run.describe()}`);
  if (alive.length === 0) return;
  const expected = [...alive].sort((a, b) => compareClaims(a.claim, b.claim))[0]!;
  assert.deepEqual(after, [expected], `the first claim among those running from the heal on holds\n${run.describe()}`);
  for (const r of sim.live()) {
    const h = r.sync!.whereis(NAME);
    assert.equal(h && `${h.owner}/${h.incarnation}`, `${sim.replicas[expected.node]!.name}/${expected.inc}`, `${r.name} names the winner`);
  }
}

class Coverage {
  runs = 0;
  tenures = 0;
  contested = 0;
  readonly outcomes = new Map<string, number>();
  add(run: ClaimRun): void {
    this.runs++;
    this.tenures += run.tenures.length;
    if (run.maxConcurrentClaims > 1) this.contested++;
    for (const [k, v] of run.outcomes) this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + v);
  }
  toString(): string {
    return `${this.runs} runs, ${this.contested} with concurrent claims, ${this.tenures} tenures; outcomes ${[...this.outcomes].map(([k, v]) => `${k}: ${v}`).join(', ')}`;
  }
}

for (const mode of ['default', 'failover'] as const) {
  test(`claims (${mode}): same-instant claims over in-order links with delays — one tenure at a time, epochs rise`, () => {
    const cov = new Coverage();
    check(
      `${mode}, no faults`,
      arbScenario(false),
      (s) => {
        const run = new ClaimRun(s, mode);
        run.play();
        run.sim.advance(CONFIRM_MS + 1000);
        assertSingle(run);
        // Everyone stays connected: never two at once at all, and every tenure's epoch is higher than all before it.
        for (let x = 0; x < run.tenures.length; x++) for (let y = x + 1; y < run.tenures.length; y++) assert.ok(!overlap(run.tenures[x]!, run.tenures[y]!), run.describe());
        if (mode === 'failover') assertEpochs(run, true);
        assertHeal(run);
        cov.add(run);
      },
      300,
    );
    assert.ok(cov.contested > cov.runs / 2, `most runs had concurrent claims: ${cov.toString()}`);
    assert.ok((cov.outcomes.get('held') ?? 0) > 0, cov.toString());
    console.log(`# ${mode}, no faults: ${cov.toString()}`);
  });

  test(`claims (${mode}): with crashes and partitions — one tenure at a time while connected, epochs rise along what was confirmed, the earliest holds after the heal`, () => {
    const cov = new Coverage();
    check(
      `${mode}, crashes and partitions`,
      arbScenario(true),
      (s) => {
        const run = new ClaimRun(s, mode);
        run.play();
        assertSingle(run);
        if (mode === 'failover') assertEpochs(run, false);
        assertHeal(run);
        assertSingle(run);
        cov.add(run);
      },
      300,
    );
    console.log(`# ${mode}, crashes and partitions: ${cov.toString()}`);
  });
}
