// Virtual LAN hygiene: the helper every lan test and the benchmark run through keeps
// all traffic inside private namespaces (no uplink, no default route, not our own
// namespace), carries multicast and TCP between hosts, partitions on linkDown, and
// leaves nothing behind on destroy(). A real CLI node must run in a host namespace too.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createVirtualLan } from '../helpers/vlan.js';
import type { VirtualLan } from '../helpers/vlan.js';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';

const skip = await lanSkipReason();

const TCP_CLIENT = `
const s = require('net').connect(47002, process.argv[1]);
s.setTimeout(1500, () => { console.log('timeout'); process.exit(3); });
s.on('data', (d) => { process.stdout.write(d); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(4); });`;

function netNs(pid: number | 'self'): string {
  return readlinkSync(`/proc/${pid}/ns/net`);
}

/** Start a one-shot Node script on a host and resolve with its first stdout line. */
function firstLine(lan: VirtualLan, host: number, script: string, args: string[] = []) {
  const child = lan.spawn(host, process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`script on h${host} exited (${code}) before printing`)));
  });
  return { child, line };
}

test('hosts are private namespaces with no way out, joined by a bridge without uplink', { skip, timeout: 30_000 }, async (t) => {
  const lan = await createVirtualLan(3);
  t.after(() => lan.destroy());

  for (const h of lan.hosts) {
    const links = await lan.exec(h, 'ip', ['-o', 'link', 'show']);
    const names = links.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]);
    assert.deepEqual(names.sort(), ['eth0', 'lo'], `${h.name} must have only lo and eth0`);
    const addr = await lan.exec(h, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr.stdout, new RegExp(`inet ${h.address.replace(/\./g, '\\.')}/24 `));
    assert.ok(h.address.startsWith('10.77.0.'), 'hosts use the private 10.77.0.0/24 only');
    const dflt = await lan.exec(h, 'ip', ['route', 'show', 'default']);
    assert.equal(dflt.code, 0);
    assert.equal(dflt.stdout.trim(), '', `${h.name} must have no default route`);
  }

  const bridgeLinks = await lan.execBridge('ip', ['-o', 'link', 'show']);
  const bridgeNames = bridgeLinks.stdout.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]);
  assert.deepEqual(bridgeNames.sort(), ['br0', 'lo', 'v1', 'v2', 'v3'], 'the switch namespace has no uplink');
  const bridgeAddrs = await lan.execBridge('ip', ['-4', '-o', 'addr', 'show']);
  assert.deepEqual(
    bridgeAddrs.stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[1]),
    ['lo'],
    'the switch namespace has no IPv4 address besides loopback',
  );

  // Processes started on a host live in that host's namespace, never in ours.
  const { child: a, line: la } = firstLine(lan, 1, "console.log('up'); setInterval(() => {}, 1000)");
  const { child: b, line: lb } = firstLine(lan, 2, "console.log('up'); setInterval(() => {}, 1000)");
  await Promise.all([la, lb]);
  assert.notEqual(netNs(a.pid!), netNs('self'));
  assert.notEqual(netNs(b.pid!), netNs('self'));
  assert.notEqual(netNs(a.pid!), netNs(b.pid!));
  assert.equal(netNs(lan.holderPid) === netNs('self'), false);
});

test('the LAN carries multicast and TCP; linkDown partitions a host and linkUp heals it', { skip, timeout: 30_000 }, async (t) => {
  const lan = await createVirtualLan(3);
  t.after(() => lan.destroy());

  // Multicast from h1 reaches h2 and h3 (what mDNS relies on).
  const receiver = `
const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });
s.on('message', (m) => { console.log(String(m)); process.exit(0); });
s.bind(47001, () => { s.addMembership('239.255.77.1'); console.log('listening'); });`;
  const receivers = [2, 3].map((h) => {
    const r = firstLine(lan, h, receiver);
    const all = new Promise<string>((resolve, reject) => {
      let out = '';
      r.child.stdout!.on('data', (s: string) => (out += s));
      r.child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`receiver on h${h} exited ${code}`))));
    });
    return { ...r, all };
  });
  await Promise.all(receivers.map((r) => r.line));
  const sender = `
const s = require('dgram').createSocket('udp4');
const send = () => s.send('hello-from-h1', 47001, '239.255.77.1');
send(); setInterval(send, 200); setTimeout(() => process.exit(0), 3000);`;
  lan.spawn(1, process.execPath, ['-e', sender], { stdio: 'ignore' });
  for (const r of receivers) assert.match(await r.all, /hello-from-h1/);

  // TCP h1 -> h2, cut by linkDown(h2), restored by linkUp(h2).
  const server = firstLine(lan, 2, "require('net').createServer((s) => s.end('hi\\n')).listen(47002, () => console.log('listening'))");
  await server.line;
  const connect = () => lan.exec(1, process.execPath, ['-e', TCP_CLIENT, lan.host(2).address], { timeoutMs: 5000 });
  assert.equal((await connect()).stdout, 'hi\n');
  await lan.linkDown(2);
  const cut = await connect();
  assert.notEqual(cut.code, 0, 'h2 must be unreachable while its link is down');
  await lan.linkUp(2);
  assert.equal((await connect()).stdout, 'hi\n', 'h2 must be reachable again after linkUp');
});

test('destroy() kills every started process and the namespace holder', { skip, timeout: 30_000 }, async () => {
  const lan = await createVirtualLan(2);
  const { child, line } = firstLine(lan, 2, "console.log('up'); setInterval(() => {}, 1000)");
  await line;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
  await lan.destroy();
  assert.equal(await exited, 'SIGKILL');
  assert.throws(() => readlinkSync(`/proc/${lan.holderPid}/ns/net`), 'the holder must be gone');
  assert.throws(() => lan.spawn(1, 'true'), /destroyed/);
});

test('a real CLI node runs inside its virtual host, not in our namespace', { skip, timeout: 30_000 }, async (t) => {
  const f = await useLan(t, 1);
  const node = f.start(1);
  const ready = await node.waitReady(READY_TIMEOUT_MS);
  // The pid we signal is node itself, not a wrapper (nsenter, ip netns exec and setpriv all exec).
  assert.equal(realpathSync(`/proc/${node.pid}/exe`), realpathSync(process.execPath), 'the pid we signal must be node itself');
  assert.notEqual(netNs(node.pid), netNs('self'));
  assert.equal(ready.fields.node, node.name);
});

test('lan tests and benchmarks start the CLI only through the virtual LAN helpers', () => {
  // The CLI runs mDNS; started anywhere but in a virtual host, its packets would reach
  // the machine's real network. So: lan tests start no process themselves, the CLI
  // helper starts processes only through VirtualLan.spawn, and no lan test or
  // benchmark names the CLI script (benchmarks of the library on 127.0.0.1 with mDNS
  // off may start their own workers; the style guide allows that without a namespace).
  const lanDir = new URL('./', import.meta.url);
  const benchDir = new URL('../../bench/', import.meta.url);
  const helpersDir = new URL('../helpers/', import.meta.url);
  const ts = (dir: URL): string[] => readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const read = (dir: URL, file: string): string => readFileSync(new URL(file, dir), 'utf8');
  const importsChildProcess = (text: string): boolean => /^import\s+(?!type\b)[^;]*from\s+'(?:node:)?child_process'/m.test(text);
  const offenders: string[] = [];

  // This file is skipped: it spells the patterns as text, and uses lan.spawn only.
  const lanTests = ts(lanDir).filter((f) => f !== 'vlan.test.ts');
  for (const f of lanTests) if (importsChildProcess(read(lanDir, f))) offenders.push(`test/lan/${f}: imports child_process (use the helpers)`);
  if (importsChildProcess(read(helpersDir, 'cli-process.ts'))) offenders.push('test/helpers/cli-process.ts: imports child_process (spawn through VirtualLan)');
  const namesCli = /cluster-node\.js|dist\/cli\//;
  for (const f of lanTests) if (namesCli.test(read(lanDir, f))) offenders.push(`test/lan/${f}: names the CLI script (use startCliNode)`);
  const benches = ts(benchDir);
  for (const f of benches) if (namesCli.test(read(benchDir, f))) offenders.push(`bench/${f}: names the CLI script (use startCliNode)`);
  // node-discover broadcasts UDP: its runner is started only by bench/node-discover.ts, through VirtualLan.spawn.
  for (const f of benches) if (f !== 'node-discover.ts' && /node-discover-runner/.test(read(benchDir, f))) offenders.push(`bench/${f}: names the node-discover runner (use startNodeDiscover)`);
  if (importsChildProcess(read(benchDir, 'node-discover.ts'))) offenders.push('bench/node-discover.ts: imports child_process (spawn through VirtualLan)');

  assert.ok(lanTests.length >= 5 && benches.includes('formation.ts'), `expected to scan the lan tests and benchmarks: ${lanTests} ${benches}`);
  assert.deepEqual(offenders, []);
});
