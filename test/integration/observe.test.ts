// `cluster-node status | whereis | ping` as a user runs them against real CLI nodes on
// 127.0.0.1 (static seeds, no mDNS): each joins as a hidden node, prints, leaves, and the
// members never list it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliMissingReason } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { readyPort, startLocalCli } from '../helpers/local-cli.js';

const missing = cliMissingReason();
const started: CliNode[] = [];
const ROAR = 'I am singleton, hear me roar';

test.afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop(1000).catch(() => undefined)));
});

function cli(name: string, args: string[] = [], rawArgs?: string[]): CliNode {
  const n = startLocalCli(name, args, rawArgs ? { rawArgs } : {});
  started.push(n);
  return n;
}

/** Run an observer command to its end; its stdout text and exit code. */
async function observe(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const n = cli('observer@local', [], args);
  const exit = await n.waitExit(15_000);
  return { code: exit.code, out: n.stdoutLines.map((l) => l.text).join('\n'), err: n.stderrRaw.map((l) => l.text).join('\n') };
}

const cookie = ['--cookie', 'integration-cookie', '--no-mdns'];

test('status, whereis and ping against a running cluster; the members never list the observer', { skip: missing }, async () => {
  const a = cli('a@local', ['--failover', '--settle', '200']);
  const port = await readyPort(a);
  const b = cli('b@local', ['--failover', '--settle', '200', '--seed', `127.0.0.1:${port}`]);
  await Promise.all([a, b].map((n) => n.waitForMembers((m) => m.length === 1, 8000)));
  await a.waitForLine((l) => l === ROAR, 5000);
  const seed = ['--seed', `127.0.0.1:${port}`];

  const status = await observe(['status', ...cookie, ...seed]);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /^cluster "default": 2 members, every view agrees$/m);
  assert.match(status.out, /^a@local +127\.0\.0\.1:\d+ +\S+ s +[0-9a-f]{16} +\d+\.\d s ago$/m);
  assert.match(status.out, /^b@local +127\.0\.0\.1:\d+ /m);
  assert.match(status.out, /^Singleton +a@local +1 +\d{4}-\d\d-\d\d /m);
  assert.match(status.out, /^Singleton: a@local, epoch 1$/m);

  const json = await observe(['status', ...cookie, ...seed, '--json']);
  const parsed = JSON.parse(json.out) as { agree: boolean; members: { name: string }[]; singleton: { holder: string; epoch: number } };
  assert.equal(parsed.agree, true);
  assert.deepEqual(parsed.members.map((m) => m.name), ['a@local', 'b@local']);
  assert.deepEqual(parsed.singleton, { holder: 'a@local', epoch: 1 });
  // Each member's view carries its traffic counters: mesh bytes both ways, no mDNS (--no-mdns).
  for (const v of (parsed as unknown as { views: { traffic?: Record<string, number> }[] }).views) {
    const t = v.traffic!;
    assert.ok(t.meshBytesIn! > 0 && t.meshBytesOut! > 0 && t.meshFramesIn! > 0 && t.meshFramesOut! > 0, JSON.stringify(t));
    assert.equal(t.mdnsPacketsIn! + t.mdnsPacketsOut!, 0);
  }

  assert.deepEqual(await observe(['whereis', 'Singleton', ...cookie, ...seed]), { code: 0, out: 'a@local', err: '' });
  const nobody = await observe(['whereis', 'nothing', ...cookie, ...seed]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.err, /nobody holds nothing/);
  assert.deepEqual(await observe(['ping', 'b@local', ...cookie, ...seed]), { code: 0, out: 'pong', err: '' });
  const pang = await observe(['ping', 'zed@local', ...cookie, ...seed, '--timeout', '1000']);
  assert.deepEqual([pang.code, pang.out], [1, 'pang']);

  // No member ever listed an observer, nor lost anyone.
  for (const n of [a, b]) {
    assert.ok(n.stdoutLines.filter((l) => l.text.startsWith('[')).every((l) => !l.text.includes('@local') || /^\[(a|b)@local\]$/.test(l.text)), n.tail(5));
    assert.equal(n.logs.filter((l) => l.message === 'nodeup').length, 1, `${n.name}: one nodeup only`);
    assert.equal(n.logs.filter((l) => l.message === 'nodedown').length, 0);
  }

  // The holder is killed: status names the successor and its higher epoch.
  process.kill(a.pid, 'SIGKILL');
  await b.waitForLine((l) => l === ROAR, 8000);
  const after = await observe(['status', ...cookie, '--seed', `127.0.0.1:${await readyPort(b)}`]);
  assert.equal(after.code, 0, after.err);
  assert.match(after.out, /^cluster "default": 1 member, every view agrees$/m);
  assert.match(after.out, /^Singleton: b@local, epoch 2$/m);
});

test('status with nobody there exits 1 and says where it looked; bad use exits 2', { skip: missing }, async () => {
  const none = await observe(['status', ...cookie, '--seed', '127.0.0.1:1', '--timeout', '800']);
  assert.equal(none.code, 1);
  assert.match(none.err, /^cluster-node status: no cluster answered within 0\.8 s, looking through seeds 127\.0\.0\.1:1; is a node running with this cookie\?$/m);
  const usage = await observe(['whereis', ...cookie]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /whereis takes one NAME/);
  const bogus = await observe(['status', ...cookie, '--bogus']);
  assert.equal(bogus.code, 2);
});
