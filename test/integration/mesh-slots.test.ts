// Handshake slots over real TCP on 127.0.0.1 (the whole 127/8 is loopback, so a client
// can take any 127.x.y.z as its source): one host holding hundreds of idle connections
// in their handshake does not lock a newcomer from another address out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createNode, testConfig } from '../../src/index.js';
import type { ClusterNode } from '../../src/index.js';
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
