// Quorum mode under the manual clock: whole nodes (createNode on a ManualClock over the
// MemoryNetwork, seeded randomness, the node's own supervisor, claim rule, quorum grants
// and epoch book) run `{ failover: true, quorum }` Singletons through random schedules
// of crashes (killed processes), restarts of crashed nodes (a new incarnation that runs
// the Singleton again, knowing nothing), partitions and heals, and freezes (stopped
// processes whose timers and incoming bytes wait and run late when they thaw). Checked at every
// 10 ms step:
// - at most one valid tenure at any instant, whatever the partitions (a tenure is
//   valid from its start until its code is stopped or its process dies, while its
//   process runs and ctx.isValid() says so — what the code checks before each side
//   effect). Checked twice: every step, and whenever a tenure's own code acts (a timer
//   of its node every 50 ms that checks isValid() first, as user code must): at that
//   instant no other tenure may be valid. The second catches a process that thaws and
//   acts on its own timers before its supervisor has looked at its lease;
// - epochs unique and strictly increasing across tenures, in start order.
// Schedules also freeze a claimant inside its claim (freeze-claimant: the next node whose
// own claim appears in its registry, from that moment, so its confirm requests go out
// and the answers wait), the soak's seed-2026 finding; fixed schedules pin it down.
// Seeded and replayable: SIM_SEED, SIM_PATH, SIM_RUNS (test/helpers/fuzz.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SingletonContext } from '../../src/index.js';
import { checkAsyncProperty } from '../helpers/fuzz.js';
import { NodeCluster } from '../helpers/node-sim.js';
import type { SimNode } from '../helpers/node-sim.js';

/** A node index, or -1: the node of the latest tenure still running (node 0 if none), so faults hit the holder often. */
type Target = number;

type Op =
  | { kind: 'crash'; node: Target }
  /** Start a crashed node again: this one if it is down, else the first one down. */
  | { kind: 'restart'; node: number }
  | { kind: 'partition'; side: boolean[] }
  | { kind: 'isolate'; node: Target }
  | { kind: 'heal' }
  | { kind: 'freeze'; node: Target; ms: number }
  /** Freeze, for ms, the next node whose own claim on the name appears in its registry: a claimant stopped between its claim and the confirmations (fixed schedules only). */
  | { kind: 'freeze-claimant'; ms: number };

interface Scenario {
  seed: number;
  /** Each step: wait gapMs, then apply op. */
  steps: { gapMs: number; op: Op }[];
}

interface Tenure {
  node: number;
  /** Which process of the node ran it: 1 for the first, 2 after one restart, ... */
  boot: number;
  epoch: number;
  startAt: number;
  endAt: number | undefined;
  ctx: SingletonContext;
  /** Times its code acted (isValid() was true). */
  acts: number;
}

function scenario(n: number): fc.Arbitrary<Scenario> {
  const node: fc.Arbitrary<Target> = fc.oneof({ arbitrary: fc.constant(-1), weight: 2 }, { arbitrary: fc.nat(n - 1), weight: 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('crash' as const), node }),
    fc.record({ kind: fc.constant('restart' as const), node: fc.nat(n - 1) }),
    fc.record({ kind: fc.constant('partition' as const), side: fc.array(fc.boolean(), { minLength: n, maxLength: n }) }),
    fc.record({ kind: fc.constant('isolate' as const), node }),
    fc.constant({ kind: 'heal' as const }),
    fc.record({ kind: fc.constant('freeze' as const), node, ms: fc.integer({ min: 100, max: 2000 }) }),
    fc.record({ kind: fc.constant('freeze-claimant' as const), ms: fc.integer({ min: 100, max: 2000 }) }),
  );
  return fc.record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    steps: fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 1500 }), op }), { minLength: 1, maxLength: 6 }),
  });
}

function describe(s: Scenario, tenures: Tenure[]): string {
  const ops = s.steps.map((x) => `+${x.gapMs} ${JSON.stringify(x.op)}`).join('; ');
  const ts = tenures.map((t) => `n${t.node + 1}${t.boot > 1 ? `(boot ${t.boot})` : ''}#${t.epoch} [${t.startAt}, ${t.endAt ?? '...'})`).join(', ');
  return `seed ${s.seed}: ${ops}\ntenures: ${ts}`;
}

/** Run one schedule; throws on a violation. */
async function runQuorum(n: number, quorum: number, s: Scenario): Promise<Tenure[]> {
  const c = await NodeCluster.start(n, s.seed);
  const tenures: Tenure[] = [];
  const thawAt = new Map<number, number>();
  let freezeClaimantMs: number | undefined;
  let crashes = 0;
  let violation: string | undefined;
  const validOthers = (t: Tenure | undefined): Tenure[] =>
    tenures.filter((o) => o !== t && o.endAt === undefined && c.nodes[o.node]!.alive && !c.nodes[o.node]!.clock.isFrozen && o.ctx.isValid());
  const check = async (): Promise<void> => {
    if (violation) throw new Error(violation);
    let thawed = false;
    for (const [i, at] of [...thawAt]) {
      if (c.now < at) continue;
      thawAt.delete(i);
      c.thaw(i);
      thawed = true;
    }
    if (thawed) await c.settle();
    // A stopped or dead process cannot act; every running one asks isValid() as its code would.
    if (violation) throw new Error(violation);
    const valid = validOthers(undefined);
    if (valid.length > 1) throw new Error(`two valid tenures at ${c.now}: ${valid.map((t) => `n${t.node + 1}#${t.epoch}`).join(' and ')}\n${describe(s, tenures)}`);
  };
  try {
    await c.run(800);
    const runSingleton = (sn: SimNode): void => {
      const node = sn.node;
      node.on('registered', (claim) => {
        if (freezeClaimantMs === undefined || claim.name !== 'S' || claim.owner !== sn.name || node !== sn.node) return;
        // Synchronously, inside the claim: its confirm requests still go out, the answers wait.
        c.freeze(sn.index);
        thawAt.set(sn.index, c.now + freezeClaimantMs);
        freezeClaimantMs = undefined;
      });
      sn.node.singleton(
        'S',
        (ctx) => {
          const t: Tenure = { node: sn.index, boot: sn.boots, epoch: ctx.epoch, startAt: c.now, endAt: undefined, ctx, acts: 0 };
          tenures.push(t);
          // The Singleton's code: a side effect every 50 ms on its node's clock, each after checking isValid().
          let timer = sn.clock.setTimeout(function act() {
            timer = sn.clock.setTimeout(act, 50);
            if (!ctx.isValid()) return;
            t.acts++;
            const others = validOthers(t);
            if (others.length > 0 && !violation) {
              violation = `n${t.node + 1}#${t.epoch} acted at ${c.now} while ${others.map((o) => `n${o.node + 1}#${o.epoch}`).join(', ')} was valid\n${describe(s, tenures)}`;
            }
          }, 50);
          const end = (): void => {
            t.endAt ??= c.now;
            sn.clock.clearTimeout(timer);
          };
          ctx.signal.addEventListener('abort', end);
          return end;
        },
        { failover: true, quorum, settleMs: 100 },
      );
    };
    for (const sn of c.nodes) runSingleton(sn);
    await c.run(1000, check);
    const holder = (): number => [...tenures].reverse().find((t) => t.endAt === undefined)?.node ?? 0;
    for (const { gapMs, op: scheduled } of s.steps) {
      await c.run(gapMs, check);
      const op = 'node' in scheduled && scheduled.node === -1 ? { ...scheduled, node: holder() } : scheduled;
      switch (op.kind) {
        case 'crash':
          // Keep a quorum of processes alive, so tenures keep happening.
          if (crashes >= n - quorum) break;
          if (!c.nodes[op.node]!.alive) break;
          crashes++;
          c.crash(op.node);
          for (const t of tenures) if (t.node === op.node) t.endAt ??= c.now;
          break;
        case 'restart': {
          const down = c.nodes[op.node]!.alive ? c.nodes.find((x) => !x.alive) : c.nodes[op.node];
          if (!down) break;
          crashes--;
          runSingleton(await c.restart(down.index));
          break;
        }
        case 'partition':
          c.partition([c.nodes.filter((x) => op.side[x.index]).map((x) => x.index), c.nodes.filter((x) => !op.side[x.index]).map((x) => x.index)]);
          break;
        case 'isolate':
          c.partition([[op.node], c.nodes.filter((x) => x.index !== op.node).map((x) => x.index)]);
          break;
        case 'heal':
          c.heal();
          break;
        case 'freeze-claimant':
          freezeClaimantMs = op.ms;
          break;
        case 'freeze':
          if (thawAt.has(op.node)) break;
          c.freeze(op.node);
          thawAt.set(op.node, c.now + op.ms);
          break;
      }
      await check();
    }
    c.heal();
    await c.run(2500, check);
    for (const i of [...thawAt.keys()]) thawAt.set(i, c.now);
    await c.run(2500, check);
    await check();
    // Epochs: unique, and strictly increasing in start order.
    const byStart = [...tenures].sort((a, b) => a.startAt - b.startAt);
    for (let k = 1; k < byStart.length; k++) {
      if (byStart[k]!.epoch <= byStart[k - 1]!.epoch) throw new Error(`epochs not strictly increasing\n${describe(s, tenures)}`);
    }
    return tenures;
  } finally {
    await c.stop();
  }
}

for (const [n, quorum, defaultSeed] of [
  [3, 2, 8_301],
  [5, 3, 8_303],
] as const) {
  test(`quorum ${quorum} of ${n}, whole nodes on the manual clock: at most one valid tenure at any instant, epochs strictly increasing, under crashes, partitions and freezes`, async () => {
    let started = 0;
    let replaced = 0;
    let restarted = 0;
    await checkAsyncProperty('SIM', defaultSeed, `quorum ${quorum} of ${n}`, scenario(n), async (s) => {
      const tenures = await runQuorum(n, quorum, s);
      if (tenures.length > 0) started++;
      if (tenures.length > 1) replaced++;
      if (s.steps.some((x) => x.op.kind === 'restart') && tenures.length > 0) restarted++;
    }, 4);
    assert.ok(started > 0, 'some schedule started a tenure at all');
    // The default schedules (not any seed's) are known to include a takeover: the faults reach the holder.
    if (process.env.SIM_SEED === undefined) {
      assert.ok(replaced > 0, 'some default schedule replaced a tenure');
      assert.ok(restarted > 0, 'some default schedule restarted a node');
    }
  });
}

test('quorum 2 of 3, a fixed schedule: the holder frozen past the failure timeout is replaced, and stays stopped when it thaws', async () => {
  const s: Scenario = { seed: 11, steps: [{ gapMs: 200, op: { kind: 'freeze', node: 0, ms: 2000 } }] };
  const tenures = await runQuorum(3, 2, s);
  assert.deepEqual(
    tenures.map((t) => `n${t.node + 1}#${t.epoch}`),
    ['n1#1', 'n2#2'],
    describe(s, tenures),
  );
});

test('quorum 2 of 3, a fixed schedule: every holder killed in turn and restarted; a restarted node takes over with the next epoch', async () => {
  const steps: Scenario['steps'] = [
    { gapMs: 200, op: { kind: 'crash', node: 0 } },
    { gapMs: 1500, op: { kind: 'restart', node: 0 } },
    { gapMs: 1500, op: { kind: 'crash', node: 1 } },
    { gapMs: 1500, op: { kind: 'restart', node: 1 } },
    { gapMs: 1500, op: { kind: 'crash', node: 2 } },
  ];
  const s: Scenario = { seed: 12, steps };
  const tenures = await runQuorum(3, 2, s);
  assert.deepEqual(
    tenures.map((t) => `n${t.node + 1}/${t.boot}#${t.epoch}`),
    ['n1/1#1', 'n2/1#2', 'n3/1#3', 'n1/2#4'],
    describe(s, tenures),
  );
});

for (const freezeMs of [800, 1100]) {
  test(`quorum 3 of 5, a fixed schedule: a claimant frozen ${freezeMs} ms between its claim and the confirmations (declared down and replaced meanwhile) does not start its tenure when it thaws, and stands again`, async () => {
    // The soak's finding (seed 2026, node5@h5 epoch 97 after node1@h1's 107): a claimant
    // stopped longer than the failure timeout (600 ms here) but shorter than the confirm
    // deadline (1 200 ms) finds its round complete when it thaws — answers sent before it
    // was declared down, goodbyes that drop the others from the round — while its registry
    // has not heard of the takeover. Then the new holder goes: the claimant, a standby
    // again, takes the name with the next epoch (a quorum of 3 is still up).
    const steps: Scenario['steps'] = [
      { gapMs: 1500, op: { kind: 'freeze-claimant', ms: freezeMs } },
      { gapMs: 200, op: { kind: 'crash', node: -1 } },
      { gapMs: 2000, op: { kind: 'crash', node: 2 } },
    ];
    const s: Scenario = { seed: 13, steps };
    const tenures = await runQuorum(5, 3, s);
    assert.deepEqual(
      tenures.map((t) => `n${t.node + 1}#${t.epoch}`),
      ['n1#1', 'n3#3', 'n2#4'],
      describe(s, tenures),
    );
  });
}
