// Epoch flood: what one member with the cookie costs a node with --state-dir when it
// sends 'epochs' messages of new names just under the 1 MiB frame (issue 8: one such
// message froze a node for ~25 s; two pushed the map past the frame and connections
// flapped ~70 times a second). Two library nodes over TCP on 127.0.0.1, static seeds,
// no mDNS. Run: node --import tsx bench/epoch-flood.ts [messages=5]
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createNode, testConfig } from '../src/index.js';
import { REGISTRY_CHANNEL } from '../src/registry/messages.js';
import { epochFilePath } from '../src/util/state-file.js';

const messages = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'cn-epoch-flood-'));
const victim = createNode({ name: 'victim@local', cookie: 'flood', host: '127.0.0.1', mdns: false, stateDir: dir, ...testConfig() });
await victim.start();
const member = createNode({ name: 'member@local', cookie: 'flood', host: '127.0.0.1', mdns: false, seeds: [`127.0.0.1:${victim.port}`], ...testConfig() });
await member.start();
let downs = 0;
victim.on('nodedown', () => downs++);
while (victim.members().length !== 1) await new Promise((r) => setTimeout(r, 20));
const epochs = (): number => (victim as unknown as { epochs: { all(): unknown[] } }).epochs.all().length;
const send = (member as unknown as { mesh: { send(to: string, ch: string, body: unknown): boolean } }).mesh;
const perMessage = 4400; // names of ~225 bytes: about 1,000,000 bytes per message
const lag = monitorEventLoopDelay({ resolution: 5 });
for (let i = 0; i < messages; i++) {
  const e = Array.from({ length: perMessage }, (_, j): [string, number] => [`flood-${i}-${j}-${'z'.repeat(200)}`, 1]);
  const before = epochs();
  lag.reset();
  lag.enable();
  const t0 = performance.now();
  send.send('victim@local', REGISTRY_CHANNEL, { k: 'epochs', e });
  const want = Math.min(before + perMessage, 10_000);
  while (epochs() < want && performance.now() - t0 < 60_000) await new Promise((r) => setImmediate(r));
  const applied = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300));
  lag.disable();
  console.log(`message ${i + 1}: ${perMessage} new names, applied in ${applied.toFixed(0)} ms; map ${epochs()} names; max event-loop delay ${(lag.max / 1e6).toFixed(0)} ms; state file ${statSync(epochFilePath(dir, 'victim@local')).size} bytes; nodedowns so far ${downs}`);
}
await new Promise((r) => setTimeout(r, 3000));
console.log(`after 3 s more: members ${victim.members().length}, nodedowns ${downs}`);
await member.stop();
await victim.stop();
