// Forged mDNS records against a real cluster (issue 7, the mesh's side): a probe on a
// third host announces many fake instances that all point at that host, flipping their
// SRV port every round — the red team's "make the cluster hammer a third party" attack
// (it drew ~580 connections/s from 3 nodes, ~5,400/s with port flips). With the mesh's
// dial limits each node makes at most DIALS_PER_ADDRESS.capacity + perSecond × T
// connection attempts to the victim's address in T seconds, and logs its failures
// within the failure-log limit; the cluster itself stays formed.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { READY_TIMEOUT_MS, lanSkipReason, useLan } from '../helpers/lan-fixture.js';
import { probe, waitForOutput } from '../helpers/probe-runner.js';
import { DIALS_PER_ADDRESS } from '../../src/mesh/dialer.js';
import { FAILURE_LOGS_PER_WINDOW } from '../../src/mesh/failure-log.js';

const skip = await lanSkipReason();
const PORTS: [number, number] = [47201, 47202];
const FLOOD_MS = 8000;

/** TCP listeners on the victim host that print `conn <ms since start>` for every connection, and close it at once. */
const VICTIM = `
const net = require('net');
const t0 = Date.now();
let up = 0;
for (const port of [${PORTS[0]}, ${PORTS[1]}]) {
  net.createServer((s) => { console.log('conn ' + (Date.now() - t0) + ' ' + s.remoteAddress); s.destroy(); }).listen(port, '0.0.0.0', () => { if (++up === 2) console.log('listening'); });
}`;

test('a flood of forged mDNS records with port flips stays within each node\'s per-address dial rate', { skip, timeout: 90_000 }, async (t) => {
  const f = await useLan(t, 3);
  const [h1, h2, h3] = [f.lan.host(1), f.lan.host(2), f.lan.host(3)];
  const nodes = [f.start(h1), f.start(h2)];
  await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  await Promise.all(nodes.map((n, i) => n.waitForExactMembers([nodes[1 - i]!.name], 15_000)));

  const victim = f.lan.spawn(h3, process.execPath, ['-e', VICTIM], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  victim.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  t.after(() => void victim.kill('SIGKILL'));
  await waitForOutput(() => out, /listening/, 10_000, 'the victim listeners on h3');

  const startedAt = performance.now();
  const flood = await probe(f.lan, h3.index, { mode: 'flood', from: h3.address, instances: 100, victim: h3.address, ports: PORTS, cluster: 'default', durationMs: FLOOD_MS, roundMs: 250 }, FLOOD_MS + 20_000);
  assert.equal(flood.code, 0, `flood: ${flood.stderr}`);
  // Attempts already scheduled may still come after the last packet: count a little longer.
  await new Promise((r) => setTimeout(r, 2000));
  const seconds = (performance.now() - startedAt) / 1000;

  const conns = out.split('\n').filter((l) => l.startsWith('conn '));
  const bound = DIALS_PER_ADDRESS.capacity + DIALS_PER_ADDRESS.perSecond * seconds;
  const perNode = nodes.map((n, i) => ({ name: n.name, count: conns.filter((l) => l.endsWith(` ${[h1, h2][i]!.address}`)).length }));
  t.diagnostic(`${flood.stdout.trim()} packets; connections to the victim in ${seconds.toFixed(1)} s: ${perNode.map((p) => `${p.name} ${p.count}`).join(', ')} (bound ${bound.toFixed(0)} each)`);
  assert.ok(conns.length > 0, 'the forged instances were dialed at all (else this proves nothing)');
  for (const p of perNode) assert.ok(p.count <= bound + 1, `${p.name}: ${p.count} connections in ${seconds.toFixed(1)} s (bound ${bound.toFixed(0)})`);

  for (const n of nodes) {
    const failureWarnings = n.logs.filter((l) => l.level === 'warn' && l.message === 'handshake failed' && String(l.fields.addr).startsWith(`${h3.address}:`));
    assert.ok(failureWarnings.length <= FAILURE_LOGS_PER_WINDOW, `${n.name}: ${failureWarnings.length} handshake-failure warnings about the victim`);
    assert.equal(n.exit, undefined, `${n.name} keeps running`);
  }
  await Promise.all(nodes.map((n, i) => n.waitForExactMembers([nodes[1 - i]!.name], 5000, { since: performance.now() })));
});
