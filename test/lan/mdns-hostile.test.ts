// mDNS against a hostile link (issue 7): a real CLI node on a virtual LAN host, and on
// another host a probe (test/helpers/mdns-probe.ts) that plays the attacker or the
// eavesdropper.
// - Off-link responses are ignored (RFC 6762 §11): a forged announcement sent from an
//   address outside the bridge's subnet (a second address on the attacker's eth0), by
//   multicast and by unicast, is dropped with a debug line and one warning, and its fake
//   instance is never dialed; the same forgery sent from the attacker's on-link address
//   (the control case) is dialed, which proves the forgery itself would have worked.
// - Off-link queries go unanswered: a legacy unicast query from the off-link address
//   gets no reply (the node would otherwise reflect its records at any address), while
//   the same query from the on-link address is answered (control).
// - What a node advertises holds nothing derived from the cookie: TXT is exactly v, name
//   and the public cluster label, and the packet holds neither the cookie nor the tag
//   the old layout derived from it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHmac, scryptSync } from 'node:crypto';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';
import type { VirtualLan } from '../helpers/vlan.js';
import type { ForgeArgs, QueryArgs, SniffArgs, SniffResult } from '../helpers/mdns-probe.js';
import { probe, waitForOutput } from '../helpers/probe-runner.js';

const skip = await lanSkipReason();
/** The attacker's second address, on no subnet of the node's (the bridge is 10.77.0.0/24). */
const OFF_LINK = '10.88.0.2';
const OFF_PORT = 47101;
const ON_PORT = 47102;

/** TCP listeners on the attacker's host that print `conn PORT` for every connection (the node dialing a fake instance). */
const LISTENERS = `
const net = require('net');
let up = 0;
for (const port of [${OFF_PORT}, ${ON_PORT}]) {
  net.createServer((s) => { console.log('conn ' + port); s.destroy(); }).listen(port, '0.0.0.0', () => { if (++up === 2) console.log('listening'); });
}`;

/**
 * Give the attacker host a second address on a subnet the node's host is not on, and
 * give the node's host a route to it through the attacker, as if it sat behind a
 * router: off-link, yet reachable, so an answer would really arrive.
 */
async function offLinkAttacker(lan: VirtualLan, node: number, attacker: number): Promise<void> {
  const added = await lan.exec(attacker, 'ip', ['addr', 'add', `${OFF_LINK}/24`, 'dev', 'eth0']);
  assert.equal(added.code, 0, `ip addr add: ${added.stderr}`);
  const route = await lan.exec(node, 'ip', ['route', 'add', `${OFF_LINK.split('.').slice(0, 3).join('.')}.0/24`, 'via', lan.host(attacker).address, 'dev', 'eth0']);
  assert.equal(route.code, 0, `ip route add: ${route.stderr}`);
}

test('responses from off-link sources are ignored; the same forgery on-link is dialed', { skip, timeout: 90_000 }, async (t) => {
  const f = await useLan(t, 2);
  const [h1, h2] = f.lan.hosts as [(typeof f.lan.hosts)[0], (typeof f.lan.hosts)[0]];
  await offLinkAttacker(f.lan, h1.index, h2.index);

  const node = f.start(h1, { logLevel: 'debug' });
  await node.waitReady(READY_TIMEOUT_MS);

  const listeners = f.lan.spawn(h2, process.execPath, ['-e', LISTENERS], { stdio: ['ignore', 'pipe', 'pipe'] });
  let conns = '';
  listeners.stdout!.setEncoding('utf8').on('data', (s: string) => (conns += s));
  t.after(() => void listeners.kill('SIGKILL'));
  await waitForOutput(() => conns, /listening/, 10_000, 'the listeners on h2');

  const forged = (from: string, to: string, name: string, incarnation: string, port: number): ForgeArgs => ({
    mode: 'forge',
    from,
    to,
    name,
    incarnation,
    cluster: 'default',
    port,
    addresses: [h2.address],
    count: 2,
  });
  const offLinkDrops = (): number => node.logs.filter((l) => l.message === 'mDNS: dropped a response from an off-link source' && l.fields.from === OFF_LINK).length;

  // The attack: from the off-link address, by multicast and then by unicast to the node.
  const multicast = await probe(f.lan, h2.index, forged(OFF_LINK, '224.0.0.251', 'fake-off@h2', 'f0f0', OFF_PORT));
  assert.equal(multicast.code, 0, `forge (multicast): ${multicast.stderr}`);
  await node.waitUntil(() => (offLinkDrops() >= 2 ? true : undefined), 10_000, 'two off-link drops (multicast)');
  const unicast = await probe(f.lan, h2.index, forged(OFF_LINK, h1.address, 'fake-off@h2', 'f0f0', OFF_PORT));
  assert.equal(unicast.code, 0, `forge (unicast): ${unicast.stderr}`);
  await node.waitUntil(() => (offLinkDrops() >= 4 ? true : undefined), 10_000, 'two more off-link drops (unicast)');
  const warns = node.logs.filter((l) => l.level === 'warn' && l.message.includes(OFF_LINK));
  assert.equal(warns.length, 1, `one warning a minute per interface, naming the source:\n${warns.map((l) => l.message).join('\n')}`);
  assert.match(warns[0]!.message, /RFC 6762 §11/);

  // The control: the very same forgery from the attacker's on-link address is believed and dialed.
  const control = await probe(f.lan, h2.index, forged(h2.address, '224.0.0.251', 'fake-on@h2', 'f1f1', ON_PORT));
  assert.equal(control.code, 0, `forge (on-link): ${control.stderr}`);
  await waitForOutput(() => conns, new RegExp(`conn ${ON_PORT}`), 15_000, `the node to dial the on-link fake instance (port ${ON_PORT})`);

  // By now the off-link forgeries (sent earlier) would have been dialed too, had they been believed.
  assert.doesNotMatch(conns, new RegExp(`conn ${OFF_PORT}`), 'the node dialed an instance announced from off-link');
  const found = node.logs.filter((l) => l.message === 'mDNS: peer found').map((l) => String(l.fields.id));
  assert.ok(found.some((id) => id.startsWith('fake-on@h2-')), `the on-link fake was found: ${found.join(', ')}`);
  assert.ok(!found.some((id) => id.startsWith('fake-off@h2-')), `the off-link fake was found: ${found.join(', ')}`);
  assert.equal(node.exit, undefined, 'the node keeps running');
});

test('queries from off-link sources go unanswered; on-link ones are answered', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 2);
  const [h1, h2] = [f.lan.host(1), f.lan.host(2)];
  await offLinkAttacker(f.lan, h1.index, h2.index);
  const node = f.start(h1, { logLevel: 'debug' });
  await node.waitReady(READY_TIMEOUT_MS);

  const onLink = await probe(f.lan, h2.index, { mode: 'query', from: h2.address, to: h1.address, waitMs: 5000 });
  assert.equal(onLink.stdout.trim(), 'answered', `control: an on-link legacy query is answered (${onLink.stderr})`);
  const offLink = await probe(f.lan, h2.index, { mode: 'query', from: OFF_LINK, to: h1.address, waitMs: 2000 });
  assert.equal(offLink.code, 0, offLink.stderr);
  // The query did arrive (the node says it ignored it), and no answer came back.
  await node.waitForLog((l) => l.message === 'mDNS: ignored a query from an off-link source' && l.fields.from === OFF_LINK, 5000);
  assert.equal(offLink.stdout.trim(), 'silent', 'the node answered a query from off the link');
});

/** The TXT tag of record version 1: HMAC(scrypt(cookie, fixed salt), label), an offline verifier for the cookie. */
function oldTag(cookie: string): string {
  const key = scryptSync(cookie, 'cluster-node/v1/cookie', 32, { N: 1 << 15, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
  return createHmac('sha256', key).update('cluster-node/v1/mdns-tag').digest('hex').slice(0, 16);
}

test('what a node advertises holds nothing derived from the cookie', { skip, timeout: 60_000 }, async (t) => {
  const f = await useLan(t, 2);
  const cookie = 'foo';
  const node = f.start(1, { cookie });
  await node.waitReady(READY_TIMEOUT_MS);
  const out = await probe(f.lan, 2, { mode: 'sniff', source: f.lan.host(1).address, timeoutMs: 15_000 });
  assert.equal(out.code, 0, `sniff: ${out.stderr}`);
  const seen = JSON.parse(out.stdout.trim()) as SniffResult;
  const txt = seen.records.filter((r) => r.type === 'TXT');
  assert.equal(txt.length, 1, JSON.stringify(seen.records));
  assert.deepEqual(txt[0]!.data, ['v=2', `name=${node.name}`, 'cluster=default'], 'TXT holds the layout version, the node name and the public cluster label, nothing else');
  assert.deepEqual([...new Set(seen.records.map((r) => r.type))].sort(), ['A', 'PTR', 'SRV', 'TXT']);
  const bytes = Buffer.from(seen.hex, 'hex');
  const tag = oldTag(cookie);
  assert.equal(bytes.includes(Buffer.from(tag)), false, 'the old cookie-derived tag is not in the packet');
  assert.equal(bytes.includes(Buffer.from(`tag=`)), false, 'no tag key at all');
  assert.equal(JSON.stringify(seen.records).includes(cookie), false, 'the cookie is not in any record');
});
