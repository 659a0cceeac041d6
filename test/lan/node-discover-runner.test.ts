// node-discover runner hygiene (bench/node-discover-runner.mjs): node-discover broadcasts
// UDP, so the benchmark's runner must only ever run on a virtual LAN host. It refuses
// anywhere else (a namespace with no address in the LAN's /24) before it opens a socket;
// on the LAN its broadcasts to the subnet address reach the other hosts — and the default
// limited broadcast 255.255.255.255 it would otherwise use has no route there at all.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createVirtualLan } from '../helpers/vlan.js';
import { lanSkipReason } from '../helpers/lan-fixture.js';
import { NODE_DISCOVER_RUNNER, discoverEvents, discoverIsMaster, startNodeDiscover } from '../../bench/node-discover.js';

const skip = await lanSkipReason();

test('the runner refuses to broadcast outside the virtual LAN', { skip, timeout: 20_000 }, async () => {
  // A fresh network namespace with only loopback: no address in 10.77.0.0/24.
  const child = spawn('unshare', ['-rn', process.execPath, NODE_DISCOVER_RUNNER, '--name', 'a@x', '--broadcast', '10.77.0.255'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  assert.equal(code, 3, `exit code (stderr: ${stderr})`);
  assert.match(stderr, /refusing to broadcast/);
  assert.equal(stdout, '', 'no event: it never started');
});

test('on the virtual LAN two runners see each other over the subnet broadcast, and one becomes master', { skip, timeout: 30_000 }, async (t) => {
  const lan = await createVirtualLan(2);
  const nodes = [startNodeDiscover(lan, 1, { name: 'a@h1' }), startNodeDiscover(lan, 2, { name: 'b@h2' })];
  t.after(async () => {
    await Promise.all(nodes.map((n) => n.stop(2000)));
    await lan.destroy();
  });
  const route = await lan.exec(1, 'ip', ['route', 'get', '255.255.255.255']);
  assert.notEqual(route.code, 0, 'the limited broadcast has no route on a virtual host');
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  await a.waitUntil(() => discoverEvents(a).find((e) => e.kind === 'added' && e.peer === 'b@h2'), 10_000, 'a sees b');
  await b.waitUntil(() => discoverEvents(b).find((e) => e.kind === 'added' && e.peer === 'a@h1'), 10_000, 'b sees a');
  // The first check (2 s after start) promotes the heavier (older) one; poll until one is master.
  const deadline = Date.now() + 10_000;
  while (!nodes.some(discoverIsMaster) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(nodes.filter(discoverIsMaster).length, 1, 'exactly one master');
});
