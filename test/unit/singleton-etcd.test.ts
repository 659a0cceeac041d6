// The etcd lease's pure parts as tables — the timing rules (etcd-tenure.ts), the
// validation of etcd's answers (etcd-wire.ts), endpoints and the CLI's --lease etcd
// options — and the lease itself on the manual clock against a scripted etcd (fetch
// replaced in this process): a holder frozen past its deadline is invalid before
// anything else runs, an expired lease ends the tenure, a failed renewal stops it at
// the deadline.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdRequestTimeoutMs, etcdRetryMs, etcdTtlSeconds, holdDeadline, keepaliveIntervalMs, renewMarginMs, watchRenewMs } from '../../src/singleton/etcd-tenure.js';
import { createIfAbsentRequest, errorMessage, ETCD_MAX_RESPONSE_BYTES, parseCreate, parseGrant, parseKeepalive, parseLeaseId, parseRange, parseRevision, parseWatchMessage } from '../../src/singleton/etcd-wire.js';
import { parseEndpoints } from '../../src/singleton/etcd-client.js';
import { EtcdLease } from '../../src/singleton/etcd-lease.js';
import { parseArgs } from '../../src/cli/main.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/log.js';

// ---- timing rules ------------------------------------------------------------------

test('the TTL follows the failure timeout: whole seconds, rounded up, at least 2 (etcd\'s minimum)', () => {
  const table: [number, number][] = [[600, 2], [1000, 2], [2000, 2], [2001, 3], [3000, 3], [3500, 4], [10_000, 10]];
  for (const [failureTimeoutMs, ttlS] of table) assert.equal(etcdTtlSeconds(failureTimeoutMs), ttlS, `failure timeout ${failureTimeoutMs}`);
});

test('a holder may act until its last renewal\'s send time + TTL - margin (a tenth of the TTL, at least 250 ms)', () => {
  const table: [sentAt: number, ttlS: number, margin: number, deadline: number][] = [
    [0, 2, 250, 1750],
    [1000, 3, 300, 3700],
    [5000, 10, 1000, 14_000],
    [10_000, 60, 6000, 64_000],
  ];
  for (const [sentAt, ttlS, margin, deadline] of table) {
    assert.equal(renewMarginMs(ttlS * 1000), margin, `margin of ${ttlS} s`);
    assert.equal(holdDeadline(sentAt, ttlS), deadline, `deadline after ${sentAt} with ${ttlS} s`);
    assert.ok(holdDeadline(sentAt, ttlS) < sentAt + ttlS * 1000, 'always before etcd can expire the lease');
    // Two keepalives can fail before the deadline.
    assert.ok(sentAt + 2 * keepaliveIntervalMs(ttlS) < holdDeadline(sentAt, ttlS));
  }
});

test('keepalive period, request deadline, watch renewal and retry backoff', () => {
  assert.equal(keepaliveIntervalMs(3), 1000);
  assert.equal(etcdRequestTimeoutMs(3), 1000);
  assert.equal(watchRenewMs(2), 8000);
  assert.equal(watchRenewMs(1), 5000);
  assert.deepEqual([1, 2, 3, 4, 5, 50].map(etcdRetryMs), [250, 500, 1000, 2000, 2000, 2000]);
});

// ---- answers from etcd -------------------------------------------------------------

const header = { header: { cluster_id: '1', member_id: '2', revision: '7', raft_term: '2' } };
const kv = (owner: string, rev = '5', lease = '2324035744358519047'): Record<string, unknown> => ({ key: 'L2s=', create_revision: rev, mod_revision: rev, version: '1', value: Buffer.from(owner).toString('base64'), lease });

test('int64 fields: decimal strings that fit a safe integer; absent is 0; anything else is refused', () => {
  const ok: [unknown, number][] = [[undefined, 0], ['0', 0], ['1', 1], ['9007199254740991', 9007199254740991], [42, 42]];
  for (const [v, n] of ok) assert.equal(parseRevision(v, 'revision'), n);
  for (const bad of ['9007199254740992', '01', '-1', '1.5', '', ' 1', 1.5, -1, null, {}, [], '1'.repeat(100)]) {
    assert.throws(() => parseRevision(bad, 'revision'), { code: 'ERR_ETCD_RESPONSE' }, String(bad));
  }
  assert.equal(parseLeaseId('2324035744358519047'), '2324035744358519047', 'a lease ID beyond 2^53 stays exact');
  for (const bad of ['0', '9223372036854775808', '-5', 'abc', 0, undefined]) assert.throws(() => parseLeaseId(bad), { code: 'ERR_ETCD_RESPONSE' });
});

test('grant, keepalive, range, transaction and watch answers are read into typed values', () => {
  assert.deepEqual(parseGrant({ ...header, ID: '2324035744358519047', TTL: '3' }), { id: '2324035744358519047', ttlS: 3 });
  assert.equal(parseKeepalive({ result: { ...header, ID: '5', TTL: '3' } }), 3);
  assert.equal(parseKeepalive({ result: { ...header, ID: '5' } }), 0, 'an expired lease answers without a TTL');
  assert.deepEqual(parseRange({ ...header }), { revision: 7 });
  assert.deepEqual(parseRange({ ...header, kvs: [kv('a@local')], count: '1' }), { revision: 7, key: { createRevision: 5, owner: 'a@local', lease: '2324035744358519047' } });
  assert.deepEqual(parseCreate({ ...header, succeeded: true, responses: [{ response_put: { header: { revision: '7' } } }] }), { revision: 7, succeeded: true });
  assert.deepEqual(parseCreate({ ...header, responses: [{ response_range: { kvs: [kv('b@local')], count: '1' } }] }), {
    revision: 7,
    succeeded: false,
    held: { createRevision: 5, owner: 'b@local', lease: '2324035744358519047' },
  });
  assert.deepEqual(parseWatchMessage({ result: { ...header, created: true } }), { created: true, canceled: false, events: [] });
  assert.deepEqual(parseWatchMessage({ result: { ...header, events: [{ kv: kv('a') }, { type: 'DELETE', kv: { key: 'L2s=', mod_revision: '8' } }] } }), {
    created: false,
    canceled: false,
    events: [{ type: 'PUT', modRevision: 5 }, { type: 'DELETE', modRevision: 8 }],
  });
  const req = createIfAbsentRequest('/cluster-node/default/S', 'a@local', '9') as { compare: { target: string; create_revision: string }[]; success: { request_put: { lease: string } }[] };
  assert.equal(req.compare[0]!.target, 'CREATE');
  assert.equal(req.compare[0]!.create_revision, '0');
  assert.equal(req.success[0]!.request_put.lease, '9');
});

test('malformed or hostile answers are refused with a short, escaped description, never the value whole', () => {
  const huge = 'x'.repeat(10_000);
  const cases: [string, () => unknown][] = [
    ['not an object', () => parseGrant('{"ID":1}')],
    ['an array', () => parseRange([header])],
    ['no header', () => parseRange({ kvs: [] })],
    ['revision 0', () => parseRange({ header: { revision: '0' } })],
    ['two keys for one', () => parseRange({ ...header, kvs: [kv('a'), kv('b')] })],
    ['a holder with control characters', () => parseRange({ ...header, kvs: [kv('evil\u001b[31m\nfake log line')] })],
    ['an empty holder', () => parseRange({ ...header, kvs: [kv('')] })],
    ['a huge holder', () => parseRange({ ...header, kvs: [kv(huge)] })],
    ['create revision 0', () => parseRange({ ...header, kvs: [kv('a', '0')] })],
    ['a TTL of 0 in a grant', () => parseGrant({ ID: '5', TTL: '0' })],
    ['a huge TTL string', () => parseGrant({ ID: '5', TTL: huge })],
    ['succeeded as a string', () => parseCreate({ ...header, succeeded: 'true' })],
    ['a failed transaction without its read', () => parseCreate({ ...header })],
    ['an unknown watch event', () => parseWatchMessage({ result: { events: [{ type: 'EXPLODE', kv: {} }] } })],
    ['a watch result that is a string', () => parseWatchMessage({ result: huge })],
  ];
  for (const [what, parse] of cases) {
    assert.throws(parse, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_ETCD_RESPONSE', what);
      assert.ok(err.message.length < 200, `${what}: a short message (${err.message.length})`);
      assert.doesNotMatch(err.message, /[\u0000-\u001f]/, `${what}: no control characters`);
      return true;
    }, what);
  }
  assert.equal(errorMessage({ error: 'x', message: 'etcdserver: requested lease not found', code: 5 }), 'etcdserver: requested lease not found');
  assert.ok(errorMessage({ message: huge }).length < 260);
  assert.equal(errorMessage('nope'), 'an answer without a message (string "nope")');
  assert.equal(ETCD_MAX_RESPONSE_BYTES, 65_536);
});

test('endpoints: http(s) URLs with host and port only', () => {
  assert.deepEqual(parseEndpoints(['http://127.0.0.1:2379', 'https://etcd.lan:2379/']), ['http://127.0.0.1:2379', 'https://etcd.lan:2379']);
  for (const bad of [[], ['ftp://x:1'], ['127.0.0.1:2379'], ['http://u:p@x:1'], ['http://x:1/v3'], ['http://x:1?a=b'], Array(17).fill('http://x:1')]) {
    assert.throws(() => parseEndpoints(bad), { code: 'ERR_CONFIG' }, bad.join(','));
  }
});

// ---- the CLI -----------------------------------------------------------------------

const env = (): NodeJS.ProcessEnv => ({ HOME: mkdtempSync(join(tmpdir(), 'cn-home-')) });
const silent = (): void => {};

test('CLI: --lease etcd implies failover, with endpoints, prefix and credentials', async () => {
  const plain = await parseArgs(['--sname', 'a', '--cookie', 'c'], env(), silent);
  assert.ok(plain !== 'exit');
  assert.equal(plain.etcd, undefined);
  const a = await parseArgs(['--sname', 'a', '--cookie', 'c', '--lease', 'etcd'], env(), silent);
  assert.ok(a !== 'exit');
  assert.equal(a.failover, true);
  assert.deepEqual(a.etcd, { endpoints: ['http://127.0.0.1:2379'] });
  const dir = mkdtempSync(join(tmpdir(), 'cn-etcd-pw-'));
  writeFileSync(join(dir, 'pw'), 's3cret\nignored\n');
  const b = await parseArgs(['--sname', 'a', '--cookie', 'c', '--lease', 'etcd', '--etcd-endpoints', 'http://10.0.0.1:2379, http://10.0.0.2:2379', '--etcd-prefix', '/apps/', '--etcd-user', 'cn', '--etcd-password-file', join(dir, 'pw')], env(), silent);
  assert.ok(b !== 'exit');
  assert.deepEqual(b.etcd, { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/apps/', username: 'cn', password: 's3cret' });
  const c = await parseArgs(['--sname', 'a', '--cookie', 'c', '--lease', 'etcd', '--etcd-user', 'cn'], { ...env(), CLUSTER_NODE_ETCD_PASSWORD: 'pw' }, silent);
  assert.ok(c !== 'exit');
  assert.equal(c.etcd?.password, 'pw');
});

test('CLI: --lease etcd mistakes are usage errors that say what to do', async () => {
  const cases: [string[], RegExp][] = [
    [['--lease', 'etcd', '--quorum', '2'], /^--quorum is for the cluster's own election; with --lease etcd, etcd is the quorum: drop --quorum$/],
    [['--etcd-endpoints', 'http://x:1'], /^--etcd-endpoints is for --lease etcd$/],
    [['--lease', 'etcd', '--etcd-endpoints', 'x:2379'], /^--etcd-endpoints: an etcd endpoint must be http:\/\/ or https:\/\/ with host and port only, got "x:2379"$/],
    [['--lease', 'etcd', '--etcd-prefix', 'a\nb'], /^--etcd-prefix must be 1 to 200 printable characters/],
    [['--lease', 'etcd', '--etcd-password-file', '/nonexistent'], /^--etcd-password-file needs --etcd-user$/],
    [['--lease', 'zookeeper'], /lease/],
    [['--lease', 'etcd', '--lease', 'quorum'], /^--lease is given more than once/],
  ];
  for (const [extra, message] of cases) {
    await assert.rejects(parseArgs(['--sname', 'a', '--cookie', 'c', ...extra], env(), silent), (err: Error) => {
      assert.match(err.message, message, extra.join(' '));
      return true;
    });
  }
});

// ---- the lease on the manual clock against a scripted etcd -------------------------------

/** A scripted etcd behind a replaced global fetch: one key, leases with a TTL, a switch to cut it off. */
class ScriptedEtcd {
  revision = 1;
  key: { createRevision: number; owner: string; lease: string } | undefined;
  leases = new Set<string>();
  nextLease = 100;
  down = false;
  expireLeasesOnKeepalive = false;
  calls: string[] = [];
  private readonly real = globalThis.fetch;

  install(): void {
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const path = new URL(String(input)).pathname;
      this.calls.push(path);
      if (this.down) throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:2379') });
      const body = JSON.parse(String(init?.body ?? '{}')) as Record<string, unknown>;
      const h = { header: { revision: String(this.revision) } };
      const json = (o: unknown): Response => new Response(JSON.stringify(o));
      const kvs = (): unknown[] | undefined => (this.key ? [{ key: 'AA==', create_revision: String(this.key.createRevision), mod_revision: String(this.key.createRevision), value: Buffer.from(this.key.owner).toString('base64'), lease: this.key.lease }] : undefined);
      switch (path) {
        case '/v3/kv/range':
          return json({ ...h, kvs: kvs() });
        case '/v3/lease/grant': {
          const id = String(this.nextLease++);
          this.leases.add(id);
          return json({ ...h, ID: id, TTL: String(body.TTL) });
        }
        case '/v3/kv/txn': {
          if (this.key) return json({ ...h, responses: [{ response_range: { kvs: kvs() } }] });
          const put = (body.success as { request_put: { value: string; lease: string } }[])[0]!.request_put;
          this.revision++;
          this.key = { createRevision: this.revision, owner: Buffer.from(put.value, 'base64').toString(), lease: put.lease };
          return json({ header: { revision: String(this.revision) }, succeeded: true, responses: [{ response_put: {} }] });
        }
        case '/v3/lease/keepalive': {
          const id = String(body.ID);
          if (this.expireLeasesOnKeepalive) this.expire(id);
          return json({ result: { ...h, ID: id, ...(this.leases.has(id) ? { TTL: '3' } : {}) } });
        }
        case '/v3/lease/revoke':
          this.expire(String(body.ID));
          return json({ ...h });
        default:
          return new Response(JSON.stringify({ error: 'no', message: 'not scripted', code: 12 }), { status: 501 });
      }
    }) as typeof fetch;
  }

  expire(id: string): void {
    this.leases.delete(id);
    if (this.key?.lease === id) {
      this.key = undefined;
      this.revision++;
    }
  }

  uninstall(): void {
    globalThis.fetch = this.real;
  }
}

let scripted: ScriptedEtcd | undefined;
afterEach(() => scripted?.uninstall());

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

async function heldLease(): Promise<{ etcd: ScriptedEtcd; clock: ManualClock; lease: EtcdLease; lines: string[]; lost: string[]; token: number }> {
  const etcd = new ScriptedEtcd();
  scripted = etcd;
  etcd.install();
  const clock = new ManualClock(50_000);
  const lines: string[] = [];
  const log = (m: string): void => void lines.push(m);
  const logger: Logger = { error: log, warn: log, info: log, debug: () => {}, child: () => logger };
  const lease = new EtcdLease({ endpoints: ['http://127.0.0.1:2379'], self: 'a@local', name: 'S', cluster: 'default', clock, logger, failureTimeoutMs: 3000 });
  const lost: string[] = [];
  const tenure = await lease.acquire(new AbortController().signal, { lost: (why) => void lost.push(why) });
  assert.ok(tenure, 'won the free key');
  assert.equal(lease.valid(), true);
  return { etcd, clock, lease, lines, lost, token: tenure.token };
}

test('etcd lease: the token is the key\'s create revision; renewals keep the tenure valid', async () => {
  const { etcd, clock, lease, token } = await heldLease();
  assert.equal(token, etcd.key!.createRevision);
  assert.equal(lease.key, '/cluster-node/default/S');
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    await flush();
    assert.equal(lease.valid(), true, `after ${i + 1} s`);
  }
  assert.ok(etcd.calls.filter((c) => c === '/v3/lease/keepalive').length >= 9);
  lease.close();
});

test('etcd lease: a holder frozen past its deadline is invalid before any timer runs, and ends on its first keepalive (lease expired)', async () => {
  const { etcd, clock, lease, lines, lost, token } = await heldLease();
  clock.advance(100);
  // SIGSTOP for 5 s: etcd expires the lease meanwhile.
  clock.jump(5000);
  etcd.expire(etcd.key!.lease);
  assert.equal(lease.valid(), false, 'invalid at once on waking, before the keepalive timer runs');
  clock.advance(0);
  await flush();
  assert.deepEqual(lost, ['stale tenure']);
  // Due at +1 s, the keepalive timer runs first on waking, 2.4 s past the deadline (+2.7 s).
  assert.ok(lines.includes(`stale tenure of S (epoch ${token}): this node was unresponsive past its etcd lease (by 2400 ms); it may have been replaced; stopping`), lines.join('\n'));
  assert.equal(lease.valid(), false, 'never valid again');
  lease.close();
});

test('etcd lease: a keepalive answered without a TTL (lease gone) ends the tenure at once', async () => {
  const { etcd, clock, lease, lines, lost, token } = await heldLease();
  etcd.expireLeasesOnKeepalive = true;
  clock.advance(1000);
  await flush();
  assert.deepEqual(lost, ['stale tenure']);
  assert.ok(lines.includes(`stale tenure of S (epoch ${token}): its etcd lease expired (this node was unresponsive or cut off from etcd); it may have been replaced; stopping`), lines.join('\n'));
  lease.close();
});

test('etcd lease: etcd cut off while holding: a warning once, and the tenure ends at the deadline (send time + TTL - margin), not later', async () => {
  const { etcd, clock, lease, lines, lost } = await heldLease();
  const wonAt = clock.now();
  etcd.down = true;
  for (let t = 0; t < 2650; t += 50) {
    clock.advance(50);
    await flush();
  }
  assert.deepEqual(lost, [], 'still within its lease');
  assert.equal(lease.valid(), true);
  assert.equal(lines.filter((l) => /cannot renew the etcd lease: etcd unreachable/.test(l)).length, 1, lines.join('\n'));
  // The grant was sent at wonAt (the scripted etcd answers at once): deadline wonAt + 3000 - 300.
  clock.advance(wonAt + 2700 - clock.now() - 1);
  await flush();
  assert.equal(lease.valid(), true);
  clock.advance(1);
  assert.equal(lease.valid(), false, 'invalid at the deadline');
  await flush();
  assert.deepEqual(lost, ['stale tenure']);
  lease.close();
});

test('etcd lease: a standby with etcd unreachable says so once and keeps trying; it wins once etcd answers', async () => {
  const etcd = new ScriptedEtcd();
  scripted = etcd;
  etcd.install();
  etcd.down = true;
  const clock = new ManualClock(0);
  const lines: string[] = [];
  const log = (m: string): void => void lines.push(m);
  const logger: Logger = { error: log, warn: log, info: log, debug: () => {}, child: () => logger };
  const lease = new EtcdLease({ endpoints: ['http://127.0.0.1:2379'], self: 'a@local', name: 'S', cluster: 'default', clock, logger, failureTimeoutMs: 3000 });
  let won: number | undefined;
  void lease.acquire(new AbortController().signal, { lost: () => {} }).then((t) => void (won = t?.token));
  for (let i = 0; i < 40; i++) {
    await flush();
    clock.advance(250);
  }
  assert.equal(won, undefined);
  assert.deepEqual(lines, ['S: cannot use etcd at http://127.0.0.1:2379: etcd unreachable (http://127.0.0.1:2379: connect ECONNREFUSED 127.0.0.1:2379); this node stays a standby and keeps trying']);
  etcd.down = false;
  for (let i = 0; i < 10 && won === undefined; i++) {
    clock.advance(1000);
    await flush();
  }
  assert.equal(won, 2);
  assert.equal(lines[1], 'S: etcd at http://127.0.0.1:2379 answers again');
  lease.close();
});
