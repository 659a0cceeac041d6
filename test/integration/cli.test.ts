// The real CLI as spawned processes on 127.0.0.1 with static discovery (--seed, --no-mdns).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { cliMissingReason } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { readyPort, startLocalCli } from '../helpers/local-cli.js';

const missing = cliMissingReason();
const started: CliNode[] = [];

function cli(name: string, args: string[] = [], opts: Parameters<typeof startLocalCli>[2] = {}): CliNode {
  const n = startLocalCli(name, args, opts);
  started.push(n);
  return n;
}

test.afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop(1000).catch(() => undefined)));
});

async function pair(extra: string[] = []): Promise<{ bob: CliNode; alice: CliNode; bobPort: number }> {
  const bob = cli('bob@local', extra);
  const bobPort = await readyPort(bob);
  const alice = cli('alice@local', ['--seed', `127.0.0.1:${bobPort}`, ...extra]);
  await alice.waitForExactMembers(['bob@local'], 5000);
  await bob.waitForExactMembers(['alice@local'], 5000);
  return { bob, alice, bobPort };
}

test('two nodes print each other every second; stdout carries only member lists and roars', { skip: missing }, async () => {
  const { bob, alice } = await pair();
  const ready = await bob.waitReady(1000);
  assert.equal(ready.fields.node, 'bob@local');
  assert.equal(ready.fields.address, '127.0.0.1');
  assert.ok(Number(ready.fields.port) > 0);
  await alice.waitForLine(() => true, 2000, { since: performance.now() });
  for (const n of [bob, alice]) for (const l of n.stdoutLines) assert.match(l.text, /^(\[.*\]|I am singleton, hear me roar)$/);
  // Lines come about once a second.
  const lines = alice.memberLines.filter((l) => l.members.length === 1);
  if (lines.length >= 2) assert.ok(lines.at(-1)!.at - lines.at(-2)!.at > 500);
});

test('SIGINT stops a node cleanly with exit 0 and the other drops it at once', { skip: missing }, async () => {
  const { bob, alice } = await pair();
  const t0 = performance.now();
  alice.kill('SIGINT');
  const exit = await alice.waitExit(5000);
  assert.equal(exit.code, 0);
  const line = await bob.waitForExactMembers([], 3000, { since: t0 });
  assert.ok(line.at - t0 < 1500, `bob dropped alice after ${Math.round(line.at - t0)} ms`);
  const down = await bob.waitForLog((l) => l.message === 'nodedown', 1000);
  assert.equal(down.fields.peer, 'alice@local');
});

test('--no-mdns with no --seed warns that the node will stay alone', { skip: missing }, async () => {
  const solo = cli('solo@local');
  await solo.waitReady(10_000);
  const warn = solo.logs.find((l) => l.level === 'warn' && l.message.startsWith('--no-mdns and no --seed: this node finds no one'));
  assert.ok(warn, solo.tail(10));
  const bob = cli('bob@local', ['--seed', `127.0.0.1:${await readyPort(solo)}`]);
  await bob.waitReady(10_000);
  assert.ok(!bob.logs.some((l) => l.message.startsWith('--no-mdns and no --seed')), 'not with a seed');
});

test('SIGTERM also stops cleanly with exit 0', { skip: missing }, async () => {
  const bob = cli('bob@local');
  await bob.waitReady(10_000);
  bob.kill('SIGTERM');
  assert.equal((await bob.waitExit(5000)).code, 0);
});

const usageCases: [string, string[], RegExp][] = [
  ['no cookie', ['--sname', 'x', '--no-mdns'], /cookie is required/],
  ['no name', ['--cookie', 'c', '--no-mdns'], /node name is required/],
  ['both names', ['--sname', 'x', '--name', 'x@h', '--cookie', 'c'], /either --sname or --name/],
  ['bad port', ['--sname', 'x', '--cookie', 'c', '--port', '70000'], /--port must be a whole number of a TCP port \(0 = any free port\), 0 to 65535; got "70000"/],
  ['--port abc', ['--sname', 'x', '--cookie', 'c', '--port', 'abc'], /--port must be a whole number .*; got "abc"/],
  ['Erlang habits', ['-sname', 'x', '-setcookie', 'c'], /-sname is Erlang's spelling; here it is --sname \(and --cookie for -setcookie\)/],
  ['a repeated flag', ['--sname', 'a', '--sname', 'b', '--cookie', 'c'], /--sname is given more than once \("a", then "b"\); give it once/],
  ['--port without a value', ['--sname', 'x', '--cookie', 'c', '--port'], /--port needs a value/],
  ['--listen banana', ['--sname', 'x', '--cookie', 'c', '--listen', 'banana'], /--listen must be an IPv4 address/],
  ['a blank cookie', ['--sname', 'x', '--cookie', ' '], /--cookie is blank/],
  ['failure timeout below twice the heartbeat', ['--sname', 'x', '--cookie', 'c', '--failure-timeout', '900'], /--failure-timeout \(900 ms\) must be at least twice --heartbeat-interval \(500 ms\)/],
  ['bad seed', ['--sname', 'x', '--cookie', 'c', '--seed', 'nohostport'], /host:port/],
  ['unknown flag', ['--sname', 'x', '--cookie', 'c', '--bogus'], /Unknown argument/],
  ['bad name', ['--name', 'no-at-sign', '--cookie', 'c'], /NAME@HOST/],
  ['bad cluster label', ['--sname', 'x', '--cookie', 'c', '--cluster', 'lab.2'], /--cluster must be 1 to 63 characters/],
  ['missing cookie file', ['--sname', 'x', '--cookie-file', '/nonexistent/cookie'], /cannot read --cookie-file/],
];
for (const [what, args, message] of usageCases) {
  test(`usage error (${what}) exits 2 and says what is wrong`, { skip: missing }, async () => {
    const n = cli('x@local', [], { rawArgs: args });
    const exit = await n.waitExit(10_000);
    assert.equal(exit.code, 2);
    assert.match(n.stderrRaw.map((l) => l.text).join('\n'), message);
  });
}

test('cookie --new writes a private cookie file; a node started without --cookie reads it and joins one started with it', { skip: missing }, async () => {
  const { mkdtempSync, readFileSync: read, statSync } = await import('node:fs');
  const home = mkdtempSync('/tmp/cn-home-');
  const made = cli('x@local', [], { rawArgs: ['cookie', '--new'], env: { HOME: home } });
  assert.equal((await made.waitExit(10_000)).code, 0);
  assert.match(made.stdoutLines.map((l) => l.text).join('\n'), new RegExp(`^wrote a new cookie to ${home}/\\.cluster-node\\.cookie \\(mode 600\\)`));
  const file = `${home}/.cluster-node.cookie`;
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const again = cli('x@local', [], { rawArgs: ['cookie', '--new'], env: { HOME: home } });
  assert.equal((await again.waitExit(10_000)).code, 1, 'an existing cookie is not replaced');
  const cookie = read(file, 'utf8').trim();
  const bob = cli('bob@local', [], { rawArgs: ['--name', 'bob@local', '--no-mdns', '--listen', '127.0.0.1', '--log-format', 'json'], env: { HOME: home } });
  const port = await readyPort(bob);
  const alice = cli('alice@local', ['--seed', `127.0.0.1:${port}`], { cookie });
  await alice.waitForExactMembers(['bob@local'], 5000);
});

test('SIGINT: goodbye and exit 0 well within 2 s, with a failover Singleton handed over; a second SIGINT exits at once', { skip: missing }, async () => {
  const { bob, alice } = await pair(['--failover', '--settle', '200']);
  await bob.waitForLine((l) => l === 'I am singleton, hear me roar', 5000);
  const t0 = performance.now();
  bob.kill('SIGINT');
  const exit = await bob.waitExit(5000);
  const took = performance.now() - t0;
  assert.equal(exit.code, 0);
  assert.ok(took < 2000, `bob took ${Math.round(took)} ms to stop`);
  await alice.waitForLine((l) => l === 'I am singleton, hear me roar', 3000, { since: t0 });
  // Twice in a row: the second one does not wait for the first stop to finish.
  const carol = cli('carol@local', ['--seed', `127.0.0.1:${await readyPort(alice)}`]);
  await carol.waitForExactMembers(['alice@local'], 5000);
  carol.kill('SIGINT');
  carol.kill('SIGINT');
  const second = await carol.waitExit(2000);
  assert.ok(second.code === 130 || second.code === 0, `exit ${String(second.code)} / ${String(second.signal)}`);
  if (second.code === 130) assert.ok(carol.logs.some((l) => l.message === 'second signal: exiting at once'));
});

test('--help exits 0 with examples; --version prints the version', { skip: missing }, async () => {
  const help = cli('x@local', [], { rawArgs: ['--help'] });
  assert.equal((await help.waitExit(10_000)).code, 0);
  const text = help.stdoutLines.map((l) => l.text).join('\n');
  assert.match(text, /--sname/);
  assert.match(text, /Examples:/);
  assert.match(text, /--seed/);
  assert.match(text, /--cluster/);
  const version = cli('x@local', [], { rawArgs: ['--version'] });
  assert.equal((await version.waitExit(10_000)).code, 0);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(version.stdoutLines[0]?.text, pkg.version);
});

test('a port in use is a fatal error (exit 1) naming the port', { skip: missing }, async () => {
  const bob = cli('bob@local');
  const port = await readyPort(bob);
  const clash = cli('carol@local', ['--port', String(port)]);
  const exit = await clash.waitExit(10_000);
  assert.equal(exit.code, 1);
  assert.match(clash.stderrRaw.map((l) => l.text).join('\n'), new RegExp(`127\\.0\\.0\\.1:${port}.*already in use`));
});

test('the cookie never appears in logs, errors or the process title; wrong cookies are refused on both sides', { skip: missing }, async () => {
  const secret = 'sup3r-s3cret-c00kie';
  const bob = cli('bob@local', ['--log-level', 'debug'], { cookie: secret });
  const port = await readyPort(bob);
  const eve = cli('eve@local', ['--seed', `127.0.0.1:${port}`, '--log-level', 'debug'], { cookie: 'not-the-cookie' });
  const bobSaw = await bob.waitForLog((l) => l.message.startsWith('authentication failed with '), 5000);
  assert.match(String(bobSaw.fields.addr), /^127\.0\.0\.1:/);
  await eve.waitForLog((l) => l.message.startsWith('authentication failed with '), 5000);
  const cmdline = readFileSync(`/proc/${bob.pid}/cmdline`, 'utf8');
  assert.ok(!cmdline.includes(secret), `process title shows the cookie: ${cmdline}`);
  await eve.waitForLine(() => true, 3000);
  assert.deepEqual(eve.lastMembers(), []);
  assert.deepEqual(bob.lastMembers() ?? [], []);
  await bob.stop(3000);
  for (const n of [bob, eve]) {
    const all = [...n.logs.map((l) => JSON.stringify(l.fields)), ...n.stderrRaw.map((l) => l.text), ...n.stdoutLines.map((l) => l.text)].join('\n');
    assert.ok(!all.includes(secret), `${n.name} printed the cookie`);
  }
});

test('the cookie can come from --cookie-file or CLUSTER_NODE_COOKIE', { skip: missing }, async () => {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/cn-cookie-');
  writeFileSync(`${dir}/cookie`, 'file-cookie\n');
  const bob = cli('bob@local', [], { rawArgs: ['--name', 'bob@local', '--cookie-file', `${dir}/cookie`, '--no-mdns', '--listen', '127.0.0.1', '--log-format', 'json'] });
  const port = await readyPort(bob);
  const alice = cli('alice@local', [], {
    rawArgs: ['--name', 'alice@local', '--no-mdns', '--listen', '127.0.0.1', '--log-format', 'json', '--seed', `127.0.0.1:${port}`],
    env: { CLUSTER_NODE_COOKIE: 'file-cookie' },
  });
  await alice.waitForExactMembers(['bob@local'], 5000);
});

test('a second live node with the same name is refused and exits 1; the first keeps its place', { skip: missing }, async () => {
  const { bob, alice, bobPort } = await pair();
  const twin = cli('alice@local', ['--seed', `127.0.0.1:${bobPort}`]);
  const exit = await twin.waitExit(10_000);
  assert.equal(exit.code, 1);
  assert.match(twin.stderrRaw.map((l) => l.text).join('\n'), /alice@local is already in use/);
  const t = performance.now();
  await bob.waitForLine(() => true, 2000, { since: t });
  assert.deepEqual(bob.lastMembers(), ['alice@local']);
  assert.equal(alice.exit, undefined);
});

test('a restarted node (new incarnation) replaces its old self', { skip: missing }, async () => {
  const { bob, alice, bobPort } = await pair();
  const alicePort = Number((await alice.waitReady(1000)).fields.port);
  alice.kill('SIGKILL');
  await alice.waitExit(5000);
  const again = cli('alice@local', ['--seed', `127.0.0.1:${bobPort}`, '--port', String(alicePort)]);
  await again.waitForExactMembers(['bob@local'], 8000);
  const since = performance.now();
  await bob.waitForExactMembers(['alice@local'], 3000, { since });
  const ups = bob.logs.filter((l) => l.message === 'nodeup' || l.message === 'nodedown').map((l) => l.message);
  assert.deepEqual(ups, ['nodeup', 'nodedown', 'nodeup']);
});

test('a frozen peer is declared down within the failure timeout and comes back after SIGCONT', { skip: missing }, async () => {
  const { bob, alice } = await pair();
  const t0 = performance.now();
  process.kill(alice.pid, 'SIGSTOP');
  try {
    const down = await bob.waitForLog((l) => l.message === 'nodedown', 6000, { since: t0 });
    const after = down.at - t0;
    assert.ok(after >= 2500 && after < 4500, `declared down after ${Math.round(after)} ms (default timeout 3000 ms)`);
  } finally {
    process.kill(alice.pid, 'SIGCONT');
  }
  const t1 = performance.now();
  await bob.waitForExactMembers(['alice@local'], 8000, { since: t1 });
  await alice.waitForExactMembers(['bob@local'], 8000, { since: t1 });
});

test('a 1 s stall of one node is not mistaken for a failure on either side', { skip: missing }, async () => {
  const { bob, alice } = await pair();
  const t0 = performance.now();
  process.kill(alice.pid, 'SIGSTOP');
  await new Promise((r) => setTimeout(r, 1000));
  process.kill(alice.pid, 'SIGCONT');
  await alice.waitForLine(() => true, 3000, { since: performance.now() });
  await new Promise((r) => setTimeout(r, 1500));
  const downs = [...bob.logs, ...alice.logs].filter((l) => l.at >= t0 && l.message === 'nodedown');
  assert.deepEqual(downs.map((d) => d.fields), []);
});

test('hostile bytes on the port cost one closed connection, never the node', { skip: missing }, async () => {
  const { bob, bobPort } = await pair();
  const junk = [Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0xdc, 0xff, 0xff])])];
  for (const bytes of junk) {
    await new Promise<void>((resolve) => {
      const s = net.connect(bobPort, '127.0.0.1', () => s.write(bytes));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
  }
  const t = performance.now();
  await bob.waitForLine(() => true, 2000, { since: t });
  assert.deepEqual(bob.lastMembers(), ['alice@local']);
  assert.equal(bob.exit, undefined);
  const failures = bob.logs.filter((l) => l.message === 'handshake failed');
  assert.ok(failures.length >= 3, `expected a log line per hostile connection, got ${failures.length}`);
  for (const f of failures) assert.ok(f.fields.code && f.fields.addr);
});

test('a flood of hostile connections neither stops the node nor floods its log', { skip: missing }, async () => {
  const { bob, bobPort } = await pair();
  const sockets: net.Socket[] = [];
  await Promise.all(
    Array.from({ length: 300 }, () =>
      new Promise<void>((resolve) => {
        const s = net.connect(bobPort, '127.0.0.1', () => {
          s.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
          resolve();
        });
        s.on('error', () => resolve());
        s.resume();
        sockets.push(s);
      }),
    ),
  );
  const t = performance.now();
  await bob.waitForLine(() => true, 3000, { since: t });
  await bob.waitForLine(() => true, 3000, { since: performance.now() });
  for (const s of sockets) s.destroy();
  assert.equal(bob.exit, undefined);
  assert.deepEqual(bob.lastMembers(), ['alice@local']);
  const warnings = bob.logs.filter((l) => l.level === 'warn' && l.message === 'handshake failed');
  assert.ok(warnings.length >= 1 && warnings.length <= 5, `expected 1-5 warning lines for one address, got ${warnings.length}`);
});

test('logs tell the story: a lone --quorum 2 node says it waits and for how many; a standby says who holds the Singleton, again when that changes', { skip: missing }, async () => {
  const a = cli('a@local', ['--quorum', '2', '--settle', '200']);
  const port = await readyPort(a);
  const waiting = await a.waitForLog((l) => l.message.startsWith('Singleton: waiting for a quorum'), 5000);
  assert.equal(waiting.message, 'Singleton: waiting for a quorum: 1 of 2 candidates in sight (this one included), 1 more needed');
  assert.equal(waiting.fields.node, 'a@local');
  const b = cli('b@local', ['--quorum', '2', '--settle', '200', '--seed', `127.0.0.1:${port}`]);
  await a.waitForLine((l) => l === 'I am singleton, hear me roar', 8000);
  const held = await b.waitForLog((l) => l.message.startsWith('Singleton is held by'), 5000);
  assert.match(held.message, /^Singleton is held by a@local, epoch \d+; this node stands by$/);
  const c = cli('c@local', ['--quorum', '2', '--settle', '200', '--seed', `127.0.0.1:${port}`]);
  await c.waitForLog((l) => l.message.startsWith('Singleton is held by a@local'), 5000);
  const t0 = performance.now();
  process.kill(a.pid, 'SIGKILL');
  // The successor takes over; the other standby names the new holder.
  const [first] = await Promise.race([b, c].map((n) => n.waitForLine((l) => l === 'I am singleton, hear me roar', 8000, { since: t0 }).then(() => [n])));
  const other = first === b ? c : b;
  const next = await other.waitForLog((l) => l.at >= t0 && l.message.startsWith(`Singleton is held by ${first!.name}`), 5000);
  assert.match(next.message, /epoch \d+; this node stands by$/);
  assert.equal(other.logs.filter((l) => l.message.startsWith('Singleton is held by a@local')).length, 1, 'said once, not every tick');
});
