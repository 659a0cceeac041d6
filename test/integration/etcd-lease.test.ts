// The etcd lease's own failure behaviour, against a real etcd on 127.0.0.1: etcd
// unreachable at start (a clear error, the node stays a standby, and starts once etcd
// answers), etcd lost while holding (the holder stops within the TTL), and the election
// key as etcd holds it (the token is its create revision; a release deletes it).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode } from '../../src/index.js';
import type { Logger } from '../../src/util/log.js';
import { b64 } from '../../src/singleton/etcd-wire.js';
import { etcdTtlSeconds } from '../../src/singleton/etcd-tenure.js';
import { cliMissingReason } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { startLocalCli } from '../helpers/local-cli.js';
import { EtcdServer } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const missing = cliMissingReason();
const ROAR = 'I am singleton, hear me roar';
const servers: EtcdServer[] = [];
const clis: CliNode[] = [];
const libNodes: ClusterNode[] = [];

afterEach(async () => {
  await Promise.all(clis.splice(0).map((n) => n.stop(1000).catch(() => undefined)));
  await Promise.all(libNodes.splice(0).map((n) => n.stop()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

/** A logger that keeps its lines. */
function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    error: (m) => void lines.push(`error ${m}`),
    warn: (m) => void lines.push(`warn ${m}`),
    info: (m) => void lines.push(`info ${m}`),
    debug: () => {},
    child: () => logger,
  };
  return logger;
}

test('etcd unreachable at start: one clear error, the node stays a standby (no roar), and takes the Singleton once etcd answers', { skip: missing }, async () => {
  const etcd = await EtcdServer.prepare();
  servers.push(etcd);
  const a = startLocalCli('a@local', ['--settle', '200', '--lease', 'etcd', '--etcd-endpoints', etcd.endpoint]);
  clis.push(a);
  const err = await a.waitForLog((l) => l.level === 'error' && l.message.startsWith('Singleton: cannot use etcd at '), 8000);
  assert.match(err.message, new RegExp(`^Singleton: cannot use etcd at ${etcd.endpoint}: etcd unreachable \\(${etcd.endpoint}: connect ECONNREFUSED [0-9.:]+\\); this node stays a standby and keeps trying$`));
  // Still a standby a while later, still running, said once.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(a.exit, undefined, 'the node keeps running');
  assert.deepEqual(a.stdoutLines.filter((l) => l.text === ROAR), []);
  assert.equal(a.logs.filter((l) => l.message.startsWith('Singleton: cannot use etcd')).length, 1, 'the error is said once per outage');
  await etcd.resume();
  await a.waitForLine((l) => l === ROAR, 8000);
  await a.waitForLog((l) => l.message === `Singleton: etcd at ${etcd.endpoint} answers again`, 1000);
});

test('etcd lost while holding: the holder stops within the TTL of its last renewal, and the Singleton returns when etcd does', async () => {
  const etcd = await EtcdServer.start();
  servers.push(etcd);
  const lines: string[] = [];
  const failureTimeoutMs = 2000;
  const ttlMs = etcdTtlSeconds(failureTimeoutMs) * 1000;
  const node = createNode({ name: 'a@local', cookie: 'etcd-lost', host: '127.0.0.1', mdns: false, ...testConfig(), failureTimeoutMs, logger: recordingLogger(lines) });
  libNodes.push(node);
  await node.start();
  const tenures: { epoch: number; valid: () => boolean; stoppedAt?: number }[] = [];
  const sup = node.singleton('S', (ctx) => {
    const t: (typeof tenures)[number] = { epoch: ctx.epoch, valid: () => ctx.isValid() };
    tenures.push(t);
    return () => void (t.stoppedAt = performance.now());
  }, { settleMs: 100, etcd: { endpoints: [etcd.endpoint] } });
  await waitFor(() => tenures.length === 1, 5000);
  // Let a keepalive or two go through.
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(tenures[0]!.valid(), true);
  const lostAt = performance.now();
  await etcd.kill();
  await waitFor(() => tenures[0]!.stoppedAt !== undefined, ttlMs + 1000, () => lines.join('\n'));
  const stoppedAfter = tenures[0]!.stoppedAt! - lostAt;
  assert.ok(stoppedAfter < ttlMs, `stopped ${Math.round(stoppedAfter)} ms after etcd went, within the TTL of ${ttlMs} ms`);
  assert.equal(tenures[0]!.valid(), false);
  assert.equal(sup.state, 'standby');
  assert.ok(lines.some((l) => /^warn S \(epoch \d+\): cannot renew the etcd lease: .*; stopping in \d+ ms unless a renewal gets through$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^warn stale tenure of S \(epoch \d+\): its etcd lease could not be renewed within its TTL \(2 s\); stopping$/.test(l)), lines.join('\n'));
  // etcd comes back (same data): the old key goes with its lease, and a new tenure starts with a higher token.
  await etcd.resume();
  await waitFor(() => tenures.length === 2, 4 * ttlMs, () => lines.join('\n'));
  assert.ok(tenures[1]!.epoch > tenures[0]!.epoch);
  assert.equal(tenures[1]!.valid(), true);
});

test('the token is the election key\'s create revision in etcd; the key holds the node name; stopping deletes it (revoked lease)', async () => {
  const etcd = await EtcdServer.start();
  servers.push(etcd);
  const node = createNode({ name: 'a@local', cookie: 'etcd-key', cluster: 'lab-2', host: '127.0.0.1', mdns: false, ...testConfig() });
  libNodes.push(node);
  await node.start();
  let epoch = 0;
  node.singleton('S', (ctx) => void (epoch = ctx.epoch), { settleMs: 100, etcd: { endpoints: [etcd.endpoint], prefix: '/apps/' } });
  await waitFor(() => epoch > 0, 5000);
  const key = b64('/apps/lab-2/S');
  const read = (await etcd.post('/v3/kv/range', { key })) as { kvs?: { create_revision: string; value: string; lease: string }[] };
  assert.equal(read.kvs?.length, 1);
  assert.equal(Number(read.kvs![0]!.create_revision), epoch);
  assert.equal(Buffer.from(read.kvs![0]!.value, 'base64').toString(), 'a@local');
  assert.notEqual(read.kvs![0]!.lease, undefined, 'the key lives on a lease');
  await node.stop();
  const after = (await etcd.post('/v3/kv/range', { key })) as { kvs?: unknown[] };
  assert.equal(after.kvs, undefined, 'the key is gone at once');
});

test('with etcd authentication on: a wrong password is one clear error and no tenure; the right one wins the key', async () => {
  const etcd = await EtcdServer.start();
  servers.push(etcd);
  await etcd.post('/v3/auth/user/add', { name: 'root', password: 'root-pw' });
  await etcd.post('/v3/auth/user/grant', { user: 'root', role: 'root' });
  await etcd.post('/v3/auth/enable', {});
  const lines: string[] = [];
  const epochs: number[] = [];
  const wrong = createNode({ name: 'w@local', cookie: 'etcd-auth', host: '127.0.0.1', mdns: false, ...testConfig(), logger: recordingLogger(lines) });
  libNodes.push(wrong);
  await wrong.start();
  wrong.singleton('S', (ctx) => void epochs.push(ctx.epoch), { settleMs: 50, etcd: { endpoints: [etcd.endpoint], username: 'root', password: 'not-it' } });
  await waitFor(() => lines.some((l) => l.startsWith('error S: cannot use etcd')), 5000, () => lines.join('\n'));
  assert.ok(lines.includes(`error S: cannot use etcd at ${etcd.endpoint}: etcd refused the user root: etcdserver: authentication failed, invalid user ID or password; this node stays a standby and keeps trying`), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('not-it')), 'the password is never logged');
  await wrong.stop();
  const right = createNode({ name: 'r@local', cookie: 'etcd-auth', host: '127.0.0.1', mdns: false, ...testConfig() });
  libNodes.push(right);
  await right.start();
  right.singleton('S', (ctx) => void epochs.push(ctx.epoch), { settleMs: 50, etcd: { endpoints: [etcd.endpoint], username: 'root', password: 'root-pw' } });
  await waitFor(() => epochs.length === 1, 5000);
});
