// Churn, simulated (child of bench/churn.ts; run with --expose-gc): whole nodes in one
// process on the in-memory network and the manual clock. Two long-lived members (a, c)
// and a peer (b) that starts — a new incarnation on a new port, announced to a and c as
// mDNS would — joins, registers a name, stands for a failover Singleton with a quorum of
// 2, and dies: crashed on odd cycles (its process gone, peers see the close), stopped
// gracefully on even ones; its discovery record goes a moment later. After each cycle
// listed in --at it forces GC twice and prints one `MARK {json}` line (bench/churn.ts
// reads them): process.memoryUsage() and V8's old and code spaces. With --snapshots DIR
// it also writes a heap snapshot there.
// Deterministic: same code, same allocations; time is the manual clock's.
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { createNode, ManualClock, MemoryNetwork, seededRandom, testConfig } from '../src/index.js';
import type { Discovery, DiscoverySink } from '../src/index.js';
import { FreezableClock } from '../test/helpers/node-sim.js';

/** Memory after one cycle, bytes. */
export interface ChurnMark {
  cycle: number;
  heapUsed: number;
  /** V8's old space in use: long-lived JS objects. */
  oldSpace: number;
  /** V8's code spaces in use: compiled and optimised code. */
  codeSpace: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

/** Force GC (twice: weak references and finalizers) and read the memory figures. */
export function mark(cycle: number): ChurnMark {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  g();
  g();
  const m = process.memoryUsage();
  const spaces = getHeapSpaceStatistics();
  const used = (pred: (name: string) => boolean): number => spaces.filter((s) => pred(s.space_name)).reduce((n, s) => n + s.space_used_size, 0);
  return {
    cycle,
    heapUsed: m.heapUsed,
    oldSpace: used((n) => n === 'old_space'),
    codeSpace: used((n) => n.startsWith('code')),
    heapTotal: m.heapTotal,
    rss: m.rss,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

/** Command-line value of --name, or def. */
export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

/** Print a mark for bench/churn.ts, and write a heap snapshot when asked. */
export function report(m: ChurnMark, snapshots: string | undefined, label: string): void {
  console.log(`MARK ${JSON.stringify(m)}`);
  if (snapshots) console.log(`snapshot ${writeHeapSnapshot(`${snapshots}/${label}-${m.cycle}.heapsnapshot`)}`);
}

/** A discovery source driven by hand, as mDNS would report instances. */
function manualDiscovery(): { discovery: Discovery; sink: () => DiscoverySink | undefined } {
  let sink: DiscoverySink | undefined;
  return {
    discovery: {
      async start(s) {
        sink = s;
      },
      async stop() {
        sink = undefined;
      },
    },
    sink: () => sink,
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

async function main(): Promise<void> {
  const cycles = Number(arg('cycles', '600'));
  const at = new Set(arg('at', '100,300,600').split(',').map(Number));
  const snapshots = process.argv.includes('--snapshots') ? arg('snapshots', '.') : undefined;
  const clock = new ManualClock();
  const net = new MemoryNetwork();
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      await flush();
    }
  };
  const discA = manualDiscovery();
  const discC = manualDiscovery();
  const base = { cookie: 'churn', clock, ...testConfig() };
  const a = createNode({ ...base, name: 'a@sim', host: '10.0.0.1', port: 20000, network: net.host('10.0.0.1'), discovery: [discA.discovery], random: seededRandom(1) });
  const c = createNode({ ...base, name: 'c@sim', host: '10.0.0.3', port: 20002, network: net.host('10.0.0.3'), discovery: [discC.discovery], random: seededRandom(3) });
  await a.start();
  await c.start();
  const aRecord = { id: 'a-instance', name: 'a@sim', addresses: ['10.0.0.1'], port: 20000, source: 'mdns' as const };
  discC.sink()!.peerFound(aRecord);
  await run(1000);
  const idle = () => () => {};
  a.singleton('Singleton', idle, { failover: true, quorum: 2, settleMs: 100 });
  c.singleton('Singleton', idle, { failover: true, quorum: 2, settleMs: 100 });
  await run(1000);
  for (let i = 1; i <= cycles; i++) {
    const bClock = new FreezableClock(clock);
    const bPort = 21000 + i;
    const b = createNode({
      ...base,
      clock: bClock,
      name: 'b@sim',
      host: '10.0.0.2',
      port: bPort,
      network: net.host('10.0.0.2'),
      discovery: [
        {
          async start(s) {
            s.peerFound(aRecord);
          },
          async stop() {},
        },
      ],
      random: seededRandom(1000 + i),
    });
    await b.start();
    // a and c see the new instance (an mDNS instance name carries the incarnation).
    const instance = `b-${b.incarnation}`;
    for (const d of [discA, discC]) d.sink()?.peerFound({ id: instance, name: 'b@sim', addresses: ['10.0.0.2'], port: bPort, source: 'mdns' });
    await run(600);
    const reg = b.register('job', () => 'ok');
    await run(600);
    if (!(await reg).won || !a.members().includes('b@sim')) throw new Error(`cycle ${i}: b did not join and register`);
    b.singleton('Singleton', idle, { failover: true, quorum: 2, settleMs: 100 });
    await run(800);
    if (i % 2 === 0) await Promise.all([b.stop(), run(500)]);
    bClock.kill();
    net.kill('10.0.0.2');
    await run(i % 2 === 0 ? 1500 : 2000);
    for (const d of [discA, discC]) d.sink()?.peerLost(instance);
    net.revive('10.0.0.2');
    await run(200);
    if (a.members().includes('b@sim')) throw new Error(`cycle ${i}: b did not go down`);
    if (at.has(i)) report(mark(i), snapshots, 'churn-sim');
  }
  await Promise.all([a.stop(), c.stop(), run(500)]);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  });
}
