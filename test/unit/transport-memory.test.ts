// The in-memory network's fault facilities (src/transport/memory.ts): partitions and
// heals, freezes (bytes wait, in order), and kills (the other end sees the close).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryNetwork } from '../../src/transport/memory.js';
import type { Stream } from '../../src/transport/transport.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** a dials b; returns both ends and what each received. */
async function pair(net: MemoryNetwork, a = '10.0.0.1', b = '10.0.0.2') {
  let server!: Stream;
  const l = await net.host(b).listen(b, 0, (s) => (server = s));
  const client = await net.host(a).dial(b, l.port, 1000);
  await flush();
  const got = { client: [] as string[], server: [] as string[], clientClosed: false, serverClosed: false };
  client.onData((c) => got.client.push(c.toString()));
  server.onData((c) => got.server.push(c.toString()));
  client.onClose(() => (got.clientClosed = true));
  server.onClose(() => (got.serverClosed = true));
  return { client, server, got, port: l.port };
}

test('a partition drops bytes between groups both ways; a heal delivers again; hosts in one group keep their link', async () => {
  const net = new MemoryNetwork();
  const { client, server, got } = await pair(net);
  net.partition([['10.0.0.1'], ['10.0.0.2']]);
  client.write(Buffer.from('a'));
  server.write(Buffer.from('b'));
  await flush();
  assert.deepEqual([got.client, got.server], [[], []]);
  net.heal();
  client.write(Buffer.from('c'));
  server.write(Buffer.from('d'));
  await flush();
  assert.deepEqual([got.client, got.server], [['d'], ['c']]);
  net.partition([['10.0.0.1', '10.0.0.2'], ['10.0.0.3']]);
  client.write(Buffer.from('e'));
  await flush();
  assert.deepEqual(got.server, ['c', 'e']);
});

test('bytes and the close arriving at a frozen host wait, in order, until it thaws; it can still write', async () => {
  const net = new MemoryNetwork();
  const { client, server, got } = await pair(net);
  net.freeze('10.0.0.2');
  client.write(Buffer.from('1'));
  client.write(Buffer.from('2'));
  server.write(Buffer.from('x'));
  await flush();
  client.close();
  await flush();
  assert.deepEqual(got.server, []);
  assert.equal(got.serverClosed, false);
  assert.deepEqual(got.client, ['x']);
  net.thaw('10.0.0.2');
  assert.deepEqual(got.server, ['1', '2']);
  assert.equal(got.serverClosed, true);
});

test('a killed host: the other end sees the close at once, the killed end hears nothing, and dials to it are refused', async () => {
  const net = new MemoryNetwork();
  const { client, got, port } = await pair(net);
  net.kill('10.0.0.2');
  await flush();
  assert.equal(got.clientClosed, true);
  assert.equal(got.serverClosed, false, 'nothing runs on the dead host');
  client.write(Buffer.from('late'));
  await flush();
  assert.deepEqual(got.server, []);
  await assert.rejects(net.host('10.0.0.1').dial('10.0.0.2', port, 1000), /connection refused/);
});
