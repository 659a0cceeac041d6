// Scale benchmark's observer: a hidden node (the built library, dist/index.js) that the
// scale benchmark runs on a virtual host to read every member's view, traffic counters
// included. Unlike `cluster-node status`, which asks once its member list has been quiet
// for 0.5 s, it is seeded with every member and waits until it is connected to all of
// them (or its deadline), so a busy machine's slow handshakes do not cut the reading short.
// usage: node bench/scale-observer.mjs COOKIE EXPECTED TIMEOUT_MS HOST:PORT...
// Prints one JSON object { agree, silent, views } on stdout; exit 1 when no member answered.
import { createNode } from '../dist/index.js';

const [cookie, expectedRaw, timeoutRaw, ...seeds] = process.argv.slice(2);
const expected = Number(expectedRaw);
const timeoutMs = Number(timeoutRaw);
const node = createNode({ name: `scale-observer-${process.pid}@bench`, cookie, seeds, mdns: false, hidden: true });
await node.start();
const deadline = Date.now() + timeoutMs;
while (node.members().length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
const status = node.members().length ? await node.clusterStatus(Math.max(1000, deadline - Date.now())) : undefined;
await node.stop();
if (!status || status.views.length === 0) {
  process.stderr.write(`no member answered (connected to ${node.members().length} of ${expected})\n`);
  process.exit(1);
}
process.stdout.write(JSON.stringify({ agree: status.agree, silent: status.silent, views: status.views }) + '\n');
