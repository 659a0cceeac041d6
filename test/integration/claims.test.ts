// Confirmed claims over real TCP on 127.0.0.1: K nodes in one process call singleton()
// for one name in the same tick, 20 times per mode (a fresh name each time, one
// cluster for all trials). At most one copy runs at any instant, and no fencing epoch
// repeats. Times come from the start callbacks and the stop functions they return.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode, SingletonSupervisor } from '../../src/index.js';
import { confirmTimeoutMs } from '../../src/membership/timing.js';
import { waitFor } from '../helpers/wait.js';

const TRIALS = 20;
const nodes: ClusterNode[] = [];

test.afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function cluster(k: number): Promise<ClusterNode[]> {
  const start = async (name: string, seeds: string[]): Promise<ClusterNode> => {
    const node = createNode({ name, cookie: 'claims-cookie', host: '127.0.0.1', mdns: false, seeds, ...testConfig() });
    nodes.push(node);
    await node.start();
    return node;
  };
  const first = await start('n1@local', []);
  const rest = await Promise.all(Array.from({ length: k - 1 }, (_, i) => start(`n${i + 2}@local`, [`127.0.0.1:${first.port}`])));
  const all = [first, ...rest];
  await waitFor(() => all.every((x) => x.members().length === k - 1), 8000, () => all.map((n) => `${n.name}: ${n.members().length}`).join(', '));
  return all;
}

/** One run of a Singleton's code on one node. */
interface Tenure {
  name: string;
  node: string;
  epoch: number;
  startedAt: number;
  stoppedAt: number | undefined;
}

/** Every pair of tenures of one name that ran at the same instant (a running one runs until now). */
function overlaps(tenures: Tenure[]): string[] {
  const out: string[] = [];
  const end = (t: Tenure): number => t.stoppedAt ?? Infinity;
  for (let i = 0; i < tenures.length; i++) {
    for (let j = i + 1; j < tenures.length; j++) {
      const a = tenures[i]!;
      const b = tenures[j]!;
      if (a.name === b.name && a.startedAt < end(b) && b.startedAt < end(a)) out.push(`${a.name}: ${a.node}#${a.epoch} and ${b.node}#${b.epoch}`);
    }
  }
  return out;
}

/** Hold cond for ms, polling (a negative check: nothing else starts in the window). */
async function holdsFor(cond: () => boolean, ms: number, describe: () => string): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    assert.ok(cond(), describe());
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const k of [3, 5]) {
  for (const failover of [false, true]) {
    const mode = failover ? 'failover' : 'default';
    test(`K=${k}, ${mode} mode: ${TRIALS} same-tick singleton() calls on every node; at most one copy at any instant, no epoch repeats`, { timeout: 60_000 }, async () => {
      const all = await cluster(k);
      const tenures: Tenure[] = [];
      const supervisors: SingletonSupervisor[] = [];
      const describe = (): string => tenures.map((t) => `${t.name}@${t.node}#${t.epoch} ${t.startedAt.toFixed(1)}-${t.stoppedAt?.toFixed(1) ?? 'running'}`).join('\n');
      const t0 = performance.now();
      for (let trial = 0; trial < TRIALS; trial++) {
        const name = `W-${mode}-${trial}`;
        const sups = all.map((node) =>
          node.singleton(
            name,
            (ctx) => {
              const t: Tenure = { name, node: ctx.node, epoch: ctx.epoch, startedAt: performance.now(), stoppedAt: undefined };
              tenures.push(t);
              return () => {
                t.stoppedAt = performance.now();
              };
            },
            { settleMs: 0, failover },
          ),
        );
        supervisors.push(...sups);
        const mine = (): Tenure[] => tenures.filter((t) => t.name === name);
        if (!failover) {
          // Default mode claims once: every supervisor ends running or not started.
          await waitFor(() => sups.every((s) => s.state === 'running' || s.state === 'not-started'), 5000, () => `${name}: ${sups.map((s) => s.state).join(', ')}\n${describe()}`);
          assert.equal(sups.filter((s) => s.state === 'running').length, 1, `${name}: one runs\n${describe()}`);
        } else {
          await waitFor(() => mine().length >= 1 && all.every((n) => n.whereis(name) === mine()[0]!.node), 5000, () => `${name}\n${describe()}`);
          // Hand over once: the next tenure starts after the first stopped, with a higher epoch.
          const holder = sups[all.findIndex((n) => n.name === mine()[0]!.node)]!;
          await holder.stop();
          await waitFor(() => mine().length >= 2, 5000, () => `${name}: no successor\n${describe()}`);
        }
        assert.deepEqual(overlaps(tenures), [], describe());
      }
      // A claim still in its confirm round could start late: watch for a full round deadline.
      await holdsFor(() => overlaps(tenures).length === 0, confirmTimeoutMs(testConfig().failureTimeoutMs) + 200, describe);
      const elapsed = performance.now() - t0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const name = `W-${mode}-${trial}`;
        const mine = tenures.filter((t) => t.name === name).sort((a, b) => a.startedAt - b.startedAt);
        if (!failover) {
          assert.equal(mine.length, 1, `${name}: one tenure\n${describe()}`);
          continue;
        }
        assert.deepEqual(mine.map((t) => t.epoch), [1, 2], `${name}: epochs strictly increase and never repeat\n${describe()}`);
      }
      await Promise.all(supervisors.map((s) => s.stop()));
      assert.deepEqual(overlaps(tenures), [], describe());
      console.log(`# K=${k} ${mode}: ${TRIALS} trials in ${elapsed.toFixed(0)} ms, ${tenures.length} tenures`);
    });
  }
}
