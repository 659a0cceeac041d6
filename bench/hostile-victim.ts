// Hostile-input victim: one cluster node built from a dist/ directory (default this
// repository's; argv[2] names another build, e.g. an older commit, for comparison),
// listening on 127.0.0.1 with static discovery only (no mDNS, no namespace needed).
// It prints JSON lines on stdout: {"port":N} once ready, then every 100 ms
// {"lagMs":M,"rssMb":R}, where lagMs is the longest the event loop was late in that
// window (a 5 ms ticker measures it). A frozen loop therefore shows as one large lagMs.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = resolve(process.argv[2] ?? new URL('../dist/', import.meta.url).pathname);
const cookie = process.argv[3] ?? 'bench-hostile-cookie';
const lib = (await import(pathToFileURL(`${dist}/index.js`).href)) as {
  createNode(o: Record<string, unknown>): { start(): Promise<void>; port: number; stop(): Promise<void> };
};
const node = lib.createNode({ name: 'victim@bench', cookie, host: '127.0.0.1', mdns: false });
await node.start();
process.stdout.write(`${JSON.stringify({ port: node.port })}\n`);

let last = performance.now();
let worst = 0;
setInterval(() => {
  const now = performance.now();
  worst = Math.max(worst, now - last - 5);
  last = now;
}, 5);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ lagMs: Math.round(worst), rssMb: Math.round(process.memoryUsage().rss / 1048576) })}\n`);
  worst = 0;
}, 100);
process.on('SIGTERM', () => void node.stop().then(() => process.exit(0)));
