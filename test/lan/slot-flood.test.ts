// Handshake slots are per source (issue 7): one host that keeps 300 connections open
// to a node, reopening each as soon as the node closes it, used to hold every one of
// the node's 256 handshake slots, so a newcomer that knows only this node (--seed) was
// locked out for as long as the flood lasted. Now one address gets at most 8 slots, and
// a newcomer from another host joins while the flood goes on. Both nodes run with
// --no-mdns so the only way in is the newcomer's own dial through the flooded port.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';
import { waitForOutput } from '../helpers/probe-runner.js';

const skip = await lanSkipReason();
const FLOOD_MS = 25_000;

/** Keep `n` connections open to host:port, reopening each one the moment it closes; print `holding K` every second. */
function flooder(host: string, port: number, n: number, ms: number): string {
  return `
const net = require('net');
let open = 0, opened = 0;
const until = Date.now() + ${ms};
function one() {
  if (Date.now() > until) return;
  const s = net.connect({ host: '${host}', port: ${port} });
  opened++;
  s.on('connect', () => open++);
  s.on('error', () => {});
  s.on('close', (hadConnected) => { if (s.connecting === false) open = Math.max(0, open - 1); setTimeout(one, 10); });
  s.resume();
}
for (let i = 0; i < ${n}; i++) one();
const t = setInterval(() => console.log('holding ' + open + ' opened ' + opened), 1000);
setTimeout(() => { clearInterval(t); console.log('done'); process.exit(0); }, ${ms});`;
}

test('one host flooding a node\'s handshake slots does not lock out a newcomer from another host', { skip, timeout: 90_000 }, async (t) => {
  const f = await useLan(t, 3);
  const node = f.start(1, { args: ['--no-mdns'] });
  const ready = await node.waitReady(READY_TIMEOUT_MS);
  const port = Number(ready.fields.port);

  const attacker = f.lan.spawn(3, process.execPath, ['-e', flooder(node.host.address, port, 300, FLOOD_MS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  attacker.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  t.after(() => void attacker.kill('SIGKILL'));
  await waitForOutput(() => out, /holding ([3-9]\d|\d{3})/, 15_000, 'the attacker holding connections');

  const newcomer = f.start(2, { args: ['--no-mdns', '--seed', `${node.host.address}:${port}`] });
  await newcomer.waitReady(READY_TIMEOUT_MS);
  await newcomer.waitForExactMembers([node.name], 15_000);
  await node.waitForExactMembers([newcomer.name], 5_000);
  assert.doesNotMatch(out, /done/, 'the newcomer joined while the flood was still going on');
  t.diagnostic(`attacker: ${out.trim().split('\n').at(-1)}`);
  assert.equal(node.exit, undefined, 'the flooded node keeps running');
});
