// The command line as a new user types it: every mistake exits 2 with a sentence that
// names the flag and the fix (parseArgs in-process; test/integration/cli.test.ts runs the
// real binary for a few of them). Also the cookie's sources and `cookie --new`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../src/cli/main.js';
import { argvProblem, isIPv4, wholeNumber } from '../../src/cli/argv-check.js';
import { HOME_COOKIE_FILE, resolveCookie, writeNewCookie } from '../../src/cli/cookie.js';

const home = (): string => mkdtempSync(join(tmpdir(), 'cn-home-'));
const noCookieEnv = (): NodeJS.ProcessEnv => ({ HOME: home() });
const silent = (): void => {};

async function usageError(argv: string[], env: NodeJS.ProcessEnv = noCookieEnv()): Promise<string> {
  try {
    await parseArgs(argv, env, silent);
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail(`accepted: ${argv.join(' ')}`);
}

const cases: [string, string[], RegExp][] = [
  ['a 300-character name', ['--name', `${'a'.repeat(296)}@host`, '--cookie', 'c'], /^--name is 301 characters; a node name can be at most 255$/],
  ['a 300-character sname', ['--sname', 'a'.repeat(300), '--cookie', 'c'], /^--sname is 300 characters; with "@[^"]+" a node name can be at most 255, so --sname at most \d+$/],
  ['--port abc', ['--sname', 'a', '--cookie', 'c', '--port', 'abc'], /^--port must be a whole number of a TCP port \(0 = any free port\), 0 to 65535; got "abc"$/],
  ['--port 70000', ['--sname', 'a', '--cookie', 'c', '--port', '70000'], /^--port must be a whole number .* 0 to 65535; got "70000"$/],
  ['--port -1', ['--sname', 'a', '--cookie', 'c', '--port', '-1'], /^--port must be a whole number/],
  ['--port with no value', ['--sname', 'a', '--cookie', 'c', '--port'], /^--port needs a value, for example --port 4370/],
  ['--port followed by a flag', ['--sname', 'a', '--port', '--cookie', 'c'], /^--port needs a value/],
  ['--sname twice', ['--sname', 'a', '--sname', 'b', '--cookie', 'c'], /^--sname is given more than once \("a", then "b"\); give it once$/],
  ['--cookie twice (values not shown)', ['--sname', 'a', '--cookie', 'secret1', '--cookie=secret2'], /^--cookie is given more than once; give it once$/],
  ['--port=1 --port 2', ['--sname', 'a', '--cookie', 'c', '--port=1', '--port', '2'], /^--port is given more than once/],
  ['a blank cookie', ['--sname', 'a', '--cookie', '   '], /^--cookie is blank/],
  ['--listen banana', ['--sname', 'a', '--cookie', 'c', '--listen', 'banana'], /^--listen must be an IPv4 address of this machine, such as 0\.0\.0\.0 .*; got "banana"$/],
  ['--interface eth0', ['--sname', 'a', '--cookie', 'c', '--interface', 'eth0'], /^--interface must be the IPv4 address/],
  ['failure timeout below twice the heartbeat', ['--sname', 'a', '--cookie', 'c', '--failure-timeout', '600'], /^--failure-timeout \(600 ms\) must be at least twice --heartbeat-interval \(500 ms\): raise --failure-timeout to 1000 or more, or lower --heartbeat-interval$/],
  ['--failure-timeout 1.5', ['--sname', 'a', '--cookie', 'c', '--failure-timeout', '1.5'], /^--failure-timeout must be a whole number of milliseconds/],
  ['--quorum 0', ['--sname', 'a', '--cookie', 'c', '--quorum', '0'], /^--quorum must be a whole number of members, 1 to/],
  ['--settle soon', ['--sname', 'a', '--cookie', 'c', '--settle', 'soon'], /^--settle must be a whole number of milliseconds, 0 or more; got "soon"$/],
  ['Erlang: -sname', ['-sname', 'a', '-setcookie', 'foo'], /^-sname is Erlang's spelling; here it is --sname \(and --cookie for -setcookie\)/],
  ['Erlang: -setcookie', ['--sname', 'a', '-setcookie', 'foo'], /^-setcookie is Erlang's spelling; here it is --cookie/],
  ['one dash on a long option', ['--sname', 'a', '--cookie', 'c', '-port', '1'], /^unknown option -port: long options take two dashes \(--port\)$/],
  ['no cookie anywhere', ['--sname', 'a'], /^a cookie is required: --cookie SECRET, --cookie-file PATH, CLUSTER_NODE_COOKIE=SECRET, or a file ~\/\.cluster-node\.cookie \(make one with: cluster-node cookie --new\)$/],
];
for (const [what, argv, message] of cases) {
  test(`usage: ${what}`, async () => {
    assert.match(await usageError(argv), message);
  });
}

test('valid command lines still parse, including values that look like options', async () => {
  const a = await parseArgs(['--sname', 'a', '--cookie=-dashy-cookie', '--port', '4370', '--seed', '10.0.0.1:1', '--seed', '10.0.0.2:2', '--quorum', '2'], noCookieEnv(), silent);
  assert.ok(a !== 'exit');
  assert.equal(a.cookie, '-dashy-cookie');
  assert.equal(a.port, 4370);
  assert.deepEqual(a.seeds, ['10.0.0.1:1', '10.0.0.2:2']);
  assert.equal(a.quorum, 2);
  assert.equal(a.failover, true);
  assert.equal(argvProblem(['--sname', 'a', '--', '--sname', 'b']), undefined, 'nothing after --');
  assert.equal(argvProblem(['--port', '-1']), undefined, 'a negative number is a value (judged later)');
});

test('argv-check helpers', () => {
  assert.equal(wholeNumber('port', '0', 0, 65535, 'x'), 0);
  assert.equal(wholeNumber('port', 80, 0, 65535, 'x'), 80);
  assert.match(String(wholeNumber('port', '', 0, 65535, 'x')), /got ""/);
  assert.match(String(wholeNumber('port', '1e3', 0, 65535, 'x')), /got "1e3"/);
  for (const ok of ['0.0.0.0', '127.0.0.1', '255.255.255.255']) assert.equal(isIPv4(ok), true, ok);
  for (const bad of ['banana', '1.2.3', '1.2.3.256', '::1', '1.2.3.4 ', '']) assert.equal(isIPv4(bad), false, bad);
});

test('the cookie file in the home directory: read when no cookie is given; refused when others can read it; blank first line named', async () => {
  const dir = home();
  const file = join(dir, HOME_COOKIE_FILE);
  writeFileSync(file, 'from-home\n', { mode: 0o600 });
  const a = await parseArgs(['--sname', 'a'], { HOME: dir }, silent);
  assert.ok(a !== 'exit' && a.cookie === 'from-home');
  // The sources in order: --cookie, --cookie-file, the environment, then the home file.
  assert.deepEqual(resolveCookie({ cookie: undefined, cookieFile: undefined, env: { HOME: dir, CLUSTER_NODE_COOKIE: 'env' } }), { cookie: 'env', source: 'CLUSTER_NODE_COOKIE' });
  assert.deepEqual(resolveCookie({ cookie: 'flag', cookieFile: undefined, env: { HOME: dir, CLUSTER_NODE_COOKIE: 'env' } }), { cookie: 'flag', source: '--cookie' });
  chmodSync(file, 0o644);
  assert.match(await usageError(['--sname', 'a'], { HOME: dir }), new RegExp(`^the cookie file ${file} can be read by others \\(mode 644\\); the cookie is a secret: run chmod 600 ${file}$`));
  chmodSync(file, 0o600);
  writeFileSync(file, '\n\nlater-line\n');
  assert.match(await usageError(['--sname', 'a'], { HOME: dir }), /its first line is blank \(the cookie is the file's first line\)$/);
  writeFileSync(file, '  \n');
  assert.match(await usageError(['--sname', 'a'], { HOME: dir }), /is empty$/);
  const other = join(dir, 'other');
  writeFileSync(other, '\nx\n');
  assert.match(await usageError(['--sname', 'a', '--cookie-file', other], { HOME: dir }), /^--cookie-file .*other: its first line is blank/);
  assert.match(await usageError(['--sname', 'a', '--cookie-file', join(dir, 'none')], { HOME: dir }), /^cannot read --cookie-file .*none: ENOENT$/);
});

test('cookie --new writes 256 random bits with mode 600, and never replaces a cookie unless forced', () => {
  const dir = home();
  const file = join(dir, HOME_COOKIE_FILE);
  writeNewCookie(file, false);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const first = readFileSync(file, 'utf8');
  assert.match(first, /^[A-Za-z0-9_-]{43}\n$/);
  assert.throws(() => writeNewCookie(file, false), /exists; nodes using it would no longer join the cluster\. Use --force to replace it$/);
  assert.equal(readFileSync(file, 'utf8'), first);
  chmodSync(file, 0o644);
  writeNewCookie(file, true);
  assert.notEqual(readFileSync(file, 'utf8'), first);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'made private again');
});
