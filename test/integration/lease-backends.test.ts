// The same Singleton tests through the lease port, once for each backend: the cluster's
// own election with a quorum (quorum-lease.ts) and an etcd v3 lease (etcd-lease.ts, a
// real etcd on 127.0.0.1). Spawned CLIs on loopback with static seeds (no mDNS), and
// library nodes in this process for the fencing token across ten takeovers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode, SingletonOptions } from '../../src/index.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { readyPort, startLocalCli } from '../helpers/local-cli.js';
import { EtcdServer } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const missing = cliMissingReason();
const ROAR = 'I am singleton, hear me roar';
const FAILURE_TIMEOUT_MS = 3000;

type Backend = 'quorum' | 'etcd';

function roarsSince(n: CliNode, since: number): number[] {
  return n.stdoutLines.filter((l) => l.at >= since && l.text === ROAR).map((l) => l.at);
}

function epochs(n: CliNode): number[] {
  return n.stdoutLines.map((l) => /epoch (\d+)$/.exec(l.text)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
}

for (const backend of ['quorum', 'etcd'] as const satisfies readonly Backend[]) {
  describe(`Singleton through the ${backend} lease`, () => {
    let etcd: EtcdServer | undefined;
    const started: CliNode[] = [];
    const libNodes: ClusterNode[] = [];

    before(async () => {
      if (backend === 'etcd') etcd = await EtcdServer.start();
    });
    after(async () => {
      await etcd?.stop();
    });

    const cleanup = async (): Promise<void> => {
      await Promise.all(started.splice(0).map((n) => n.stop(1000).catch(() => undefined)));
      await Promise.all(libNodes.splice(0).map((n) => n.stop()));
    };

    /** Each test gets a key of its own in etcd (a cluster label per test), so none waits out another's lease. */
    let run = 0;
    const cliArgs = (): string[] =>
      backend === 'etcd' ? ['--lease', 'etcd', '--etcd-endpoints', etcd!.endpoint, '--cluster', `t${run}`] : ['--quorum', '2'];

    /** Three CLI nodes joined through the first one's port; returns the holder and the two others once one roars. */
    async function trio(): Promise<{ holder: CliNode; others: CliNode[] }> {
      run++;
      const extra = ['--settle', '300', ...cliArgs()];
      const a = startLocalCli('a@local', extra);
      started.push(a);
      const port = await readyPort(a);
      const b = startLocalCli('b@local', ['--seed', `127.0.0.1:${port}`, ...extra]);
      started.push(b);
      await b.waitForMembers((m) => m.length === 1, 8000);
      const c = startLocalCli('c@local', ['--seed', `127.0.0.1:${port}`, ...extra]);
      started.push(c);
      const nodes = [a, b, c];
      await Promise.all(nodes.map((n) => n.waitForMembers((m) => m.length === 2, 8000)));
      await waitFor(() => nodes.some((n) => roarsSince(n, 0).length > 0), 8000, () => 'no node roars');
      const holder = nodes.find((n) => roarsSince(n, 0).length > 0)!;
      // Give the standbys a moment to see the holder, then check there is one.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(nodes.filter((n) => roarsSince(n, 0).length > 0).length, 1, 'one roars');
      return { holder, others: nodes.filter((n) => n !== holder) };
    }

    test(`${backend}: SIGKILL on the holder: one other node takes over within twice the failure timeout, with a higher token`, { skip: missing }, async (t) => {
      t.after(cleanup);
      const { holder, others } = await trio();
      const [before] = epochs(holder);
      const t0 = performance.now();
      process.kill(holder.pid, 'SIGKILL');
      const first = await Promise.race(others.map((n) => n.waitForLine((l) => l === ROAR, 2 * FAILURE_TIMEOUT_MS, { since: t0 }).then(() => n)));
      const took = roarsSince(first, t0)[0]! - t0;
      const other = others.find((n) => n !== first)!;
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(roarsSince(other, t0), [], 'only one survivor roars');
      const [after, ...more] = epochs(first);
      assert.deepEqual(more, []);
      assert.ok(before !== undefined && after !== undefined && after > before, `token ${after} after ${before}`);
      t.diagnostic(`takeover after SIGKILL: ${Math.round(took)} ms`);
    });

    test(`${backend}: SIGTERM on the holder hands over at once, never two at once`, { skip: missing }, async (t) => {
      t.after(cleanup);
      const { holder, others } = await trio();
      const [before] = epochs(holder);
      const t0 = performance.now();
      holder.kill('SIGTERM');
      const first = await Promise.race(others.map((n) => n.waitForLine((l) => l === ROAR, 3000, { since: t0 }).then(() => n)));
      const took = roarsSince(first, t0)[0]!;
      assert.equal((await holder.waitExit(5000)).code, 0);
      assert.ok(took - t0 < 1000, `handed over after ${Math.round(took - t0)} ms`);
      assert.ok(took > Math.max(...roarsSince(holder, 0)), 'the successor roared only after the old holder stopped');
      const [after] = epochs(first);
      assert.ok(before !== undefined && after !== undefined && after > before, `token ${after} after ${before}`);
      t.diagnostic(`handover after SIGTERM: ${Math.round(took - t0)} ms`);
    });

    test(`${backend}: SIGSTOP on the holder past its lease: a standby takes over; after SIGCONT the old holder never roars again`, { skip: missing }, async (t) => {
      t.after(cleanup);
      const { holder, others } = await trio();
      const [before] = epochs(holder);
      const t0 = performance.now();
      process.kill(holder.pid, 'SIGSTOP');
      const first = await Promise.race(others.map((n) => n.waitForLine((l) => l === ROAR, 3 * FAILURE_TIMEOUT_MS, { since: t0 }).then(() => n)));
      const took = roarsSince(first, t0)[0]! - t0;
      assert.ok(took < 2 * FAILURE_TIMEOUT_MS, `took over after ${Math.round(took)} ms`);
      const t1 = performance.now();
      process.kill(holder.pid, 'SIGCONT');
      await holder.waitForLog((l) => l.message.startsWith(`stale tenure of Singleton (epoch ${before})`) || l.message.startsWith(`Singleton (epoch ${before}) superseded`), 5000);
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(roarsSince(holder, t1), [], `the woken holder does not roar again\n${holder.tail(40)}`);
      assert.ok(roarsSince(first, t1).length >= 2, 'the new holder keeps roaring');
      const [after] = epochs(first);
      assert.ok(before !== undefined && after !== undefined && after > before, `token ${after} after ${before}`);
      t.diagnostic(`takeover after SIGSTOP: ${Math.round(took)} ms`);
    });

    test(`${backend}: the fencing token strictly increases across ten takeovers, and a replaced tenure is no longer valid`, async (t) => {
      t.after(cleanup);
      run++;
      const cluster = `f${run}`;
      const options: SingletonOptions = backend === 'etcd' ? { settleMs: 100, etcd: { endpoints: [etcd!.endpoint] } } : { settleMs: 100, failover: true, quorum: 2 };
      const tenures: { node: string; epoch: number; valid: () => boolean }[] = [];
      let serial = 0;
      const live: ClusterNode[] = [];
      const spawnNode = async (): Promise<ClusterNode> => {
        const seeds = live.map((n) => `127.0.0.1:${n.port}`);
        const n = createNode({ name: `n${serial++}@local`, cookie: 'lease-port', cluster, host: '127.0.0.1', mdns: false, seeds, ...testConfig() });
        libNodes.push(n);
        await n.start();
        if (seeds.length) await waitFor(() => n.members().length >= live.length, 5000, () => `${n.name} sees ${n.members().join(', ')}`);
        live.push(n);
        n.singleton('Fenced', (ctx) => void tenures.push({ node: ctx.node, epoch: ctx.epoch, valid: () => ctx.isValid() }), options);
        return n;
      };
      for (let i = 0; i < 3; i++) await spawnNode();
      await waitFor(() => tenures.length === 1, 8000, () => 'no first tenure');
      for (let i = 0; i < 10; i++) {
        const last = tenures[tenures.length - 1]!;
        const holder = live.find((n) => n.name === last.node)!;
        live.splice(live.indexOf(holder), 1);
        await holder.stop();
        assert.equal(last.valid(), false, 'a stopped tenure is no longer valid');
        await waitFor(() => tenures.length === i + 2, 8000, () => `takeover ${i + 1} did not happen: ${JSON.stringify(tenures.map(({ node, epoch }) => ({ node, epoch })))}`);
        await spawnNode();
      }
      const tokens = tenures.map((x) => x.epoch);
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `tokens rise: ${tokens.join(', ')}`);
      assert.equal(new Set(tenures.map((x) => x.node)).size, tenures.length, 'every tenure on another node');
      assert.equal(tenures.filter((x) => x.valid()).length, 1, 'exactly one valid tenure at the end');
      t.diagnostic(`tokens: ${tokens.join(', ')}`);
    });
  });
}
