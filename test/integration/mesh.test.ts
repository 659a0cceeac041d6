// The mesh against hostile peers over real TCP on 127.0.0.1 (the whole 127/8 is
// loopback, so a client can take any 127.x.y.z as its source): one host holding
// hundreds of idle connections in their handshake does not lock a newcomer from another
// address out; a flood of forged discovery records does not make a node hammer the
// address they point at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode, DiscoverySink } from '../../src/index.js';
import { DIALS_PER_ADDRESS } from '../../src/mesh/dialer.js';
import { MAX_PENDING_HANDSHAKES } from '../../src/mesh/admission.js';
import { waitFor } from '../helpers/wait.js';

test('idle connections from one address cannot take the handshake slots a newcomer from another address needs', async () => {
  const nodes: ClusterNode[] = [];
  const sockets: net.Socket[] = [];
  // A long handshake timeout, so the idle connections would hold their slots for the whole test.
  const opts = { cookie: 'slots', host: '127.0.0.1', mdns: false, ...testConfig(), handshakeTimeoutMs: 20_000 };
  try {
    const alice = createNode({ name: 'alice@local', ...opts });
    nodes.push(alice);
    await alice.start();
    let opened = 0;
    await Promise.all(
      Array.from({ length: MAX_PENDING_HANDSHAKES + 44 }, () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: alice.port, localAddress: '127.0.0.2' }, () => {
            opened++;
            resolve();
          });
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.resume();
          sockets.push(s);
        }),
      ),
    );
    assert.ok(opened >= MAX_PENDING_HANDSHAKES, `the flood opened ${opened} connections (else this proves nothing)`);
    // A newcomer whose connections come from 127.0.0.1.
    const bob = createNode({ name: 'bob@local', seeds: [`127.0.0.1:${alice.port}`], ...opts });
    nodes.push(bob);
    await bob.start();
    await waitFor(() => alice.members().includes('bob@local') && bob.members().includes('alice@local'), 5000, () => `alice: ${alice.members()}; bob: ${bob.members()}`);
    const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    assert.ok(stillOpen <= 8 + 1, `${stillOpen} flood connections still held by alice`);
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('1,000 forged discovery records pointing at one address, flipping ports, stay within the per-address dial rate', async (t) => {
  const accepted: number[] = [];
  const servers = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<net.Server>((resolve) => {
          const srv = net.createServer((s) => {
            accepted.push(performance.now());
            s.destroy();
          });
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  let sink: DiscoverySink | undefined;
  const node = createNode({
    name: 'victim@local',
    cookie: 'flood',
    host: '127.0.0.1',
    mdns: false,
    ...testConfig(),
    discovery: [{ start: async (s) => void (sink = s), stop: async () => {} }],
  });
  const SECONDS = 5;
  try {
    await node.start();
    const from = performance.now();
    for (let round = 0; performance.now() - from < SECONDS * 1000; round++) {
      for (let i = 0; i < 1000; i++) sink!.peerFound({ id: `forged-${i}`, name: `f${i}@x`, addresses: ['127.0.0.1'], port: ports[round % 2]!, source: 'mdns' });
      await new Promise((r) => setTimeout(r, 100));
    }
    const inWindow = accepted.filter((at) => at >= from && at < from + SECONDS * 1000).length;
    const bound = DIALS_PER_ADDRESS.capacity + DIALS_PER_ADDRESS.perSecond * SECONDS;
    t.diagnostic(`${inWindow} connections accepted in ${SECONDS} s (bound ${bound})`);
    assert.ok(inWindow > 0, 'the forged records were dialed at all (else this proves nothing)');
    // +1: a token may refill between the window's edges and the dial.
    assert.ok(inWindow <= bound + 1, `${inWindow} connections in ${SECONDS} s`);
  } finally {
    await node.stop();
    for (const s of servers) s.close();
  }
});
