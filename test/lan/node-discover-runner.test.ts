// node-discover runner hygiene (bench/node-discover-runner.mjs): node-discover broadcasts
// UDP, so the benchmark's runner must only ever run on a virtual LAN host. It refuses
// anywhere else (a namespace with no address in the LAN's /24) before it opens a socket;
// on the LAN its broadcasts to the subnet address reach the other hosts — and the default
// limited broadcast 255.255.255.255 it would otherwise use has no route there at all.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createVirtualLan } from '../helpers/vlan.js';
import { lanSkipReason } from '../helpers/lan-fixture.js';
import { NODE_DISCOVER_RUNNER, discoverEvents, discoverIsMaster, startNodeDiscover } from '../../bench/node-discover.js';

const skip = await lanSkipReason();

test('the runner refuses to broadcast where it sees an address outside the broadcast\'s /24', { skip, timeout: 20_000 }, async (t) => {
  // A host of another private LAN (10.78.0.1): told to broadcast on 10.77.0.255, the runner
  // must see that it is not on that LAN and stop before it opens a socket.
  const lan = await createVirtualLan(1, { subnet: '10.78.0' });
  t.after(() => lan.destroy());
  const r = await lan.exec(1, process.execPath, [NODE_DISCOVER_RUNNER, '--name', 'a@x', '--broadcast', '10.77.0.255'], { timeoutMs: 10_000 });
  assert.equal(r.code, 3, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, /refusing to broadcast: .*outside 10\.77\.0\.0\/24 \(eth0 10\.78\.0\.1\)/);
  assert.equal(r.stdout, '', 'no event: it never started');
  const none = await lan.exec(1, process.execPath, [NODE_DISCOVER_RUNNER, '--name', 'a@x'], { timeoutMs: 10_000 });
  assert.equal(none.code, 2, 'no --broadcast: a usage error, never the default 255.255.255.255');
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
