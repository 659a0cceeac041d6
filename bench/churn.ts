// Churn benchmark: what a long-lived node keeps per peer incarnation that came and went
// (issue 10: memory of long-lived nodes under churn). A peer joins, registers a name,
// stands for the failover Singleton and dies — crashed and stopped in turn — again and
// again; after chosen cycles the long-lived side forces GC and reads its memory. The
// figure is the growth per cycle between the first and the last mark: of the heap, of
// V8's old space (JS objects: this is where a leak shows) and of its code space
// (compiled code; it grows for a while as the optimiser sees more).
// - sim (default): everything in one process on the in-memory network and the manual
//   clock (bench/churn-sim.ts): deterministic and fast (600 cycles in ~30 s).
// - --live: one node in a process with real TCP, mDNS and winston, the peer a CLI process
//   started again each cycle (bench/churn-live.ts), inside a virtual LAN host, so no
//   multicast ever leaves the machine (~1.3 s per cycle).
// Results: bench/results/churn-<mode>-<UTC timestamp>.json and .md.
// Invariant: the children run with --expose-gc; the live one only inside the virtual LAN.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createVirtualLan } from '../test/helpers/vlan.js';
import type { VirtualLan } from '../test/helpers/vlan.js';
import { environment, intOption, preflight, usageText } from './common.js';
import type { ChurnMark } from './churn-sim.js';

/** One-line summary for the bench runner. */
export const CHURN_SUMMARY = 'memory a long-lived node keeps per peer incarnation that came and went (heap, old space, code per cycle); sim or --live';

const USAGE = `usage: npm run bench -- churn [--live] [--cycles N] [--at A,B,...] [--out DIR]
  --live       a real node and a CLI peer in a virtual LAN host (default: the in-memory simulation)
  --cycles N   peer incarnations (default 600 sim, 300 live)
  --at A,B     cycles after which memory is read (default: a sixth, half, and the last)
  --out DIR    where results are written (default bench/results)`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const SIM = fileURLToPath(new URL('./churn-sim.ts', import.meta.url));
const LIVE = fileURLToPath(new URL('./churn-live.ts', import.meta.url));
/** tsx by absolute URL: a process entering a host's namespaces starts in '/'. */
const TSX = import.meta.resolve('tsx');

interface ChurnOptions {
  live: boolean;
  cycles: number;
  at: number[];
  out: string;
}

function parseOptions(argv: string[]): ChurnOptions | string {
  try {
    const { values: v } = parseArgs({
      args: argv,
      options: { live: { type: 'boolean' }, cycles: { type: 'string' }, at: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (v.help) return USAGE;
    const live = v.live ?? false;
    const cycles = intOption('cycles', v.cycles, live ? 300 : 600, 2, 100_000);
    const at = v.at !== undefined ? v.at.split(',').map((x) => intOption('at', x, 1, 1, cycles)) : [Math.max(1, Math.round(cycles / 6)), Math.round(cycles / 2), cycles];
    return { live, cycles, at: [...new Set(at)].sort((x, y) => x - y), out: v.out ?? RESULTS_DIR };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

/** Growth per cycle between two marks, bytes. */
export function perCycle(from: ChurnMark, to: ChurnMark): { heapUsed: number; oldSpace: number; codeSpace: number } {
  const n = to.cycle - from.cycle;
  return { heapUsed: (to.heapUsed - from.heapUsed) / n, oldSpace: (to.oldSpace - from.oldSpace) / n, codeSpace: (to.codeSpace - from.codeSpace) / n };
}

/** Collect the child's MARK lines (echoing the rest); resolves with them and its exit code. */
function collect(child: ChildProcess, onMark: (m: ChurnMark) => void): Promise<number> {
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('MARK ')) onMark(JSON.parse(line.slice(5)) as ChurnMark);
      else console.log(line);
    }
  });
  child.stderr!.pipe(process.stderr);
  return new Promise((resolve) => child.once('close', (code) => resolve(code ?? 1)));
}

const mb = (n: number): string => (n / 1048576).toFixed(2);

/** Run the benchmark. */
export async function runChurn(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const stop = await preflight('churn', o, USAGE, typeof o !== 'string' && o.live);
  if (stop !== undefined || typeof o === 'string') return stop ?? 2;
  const loadBefore = loadavg()[0]!;
  const args = ['--expose-gc', '--import', TSX, o.live ? LIVE : SIM, '--cycles', String(o.cycles), '--at', o.at.join(',')];
  const marks: ChurnMark[] = [];
  const show = (m: ChurnMark): void => {
    marks.push(m);
    const d = marks.length > 1 ? perCycle(marks[0]!, m) : undefined;
    const since = d ? `; per cycle since ${marks[0]!.cycle}: heap ${d.heapUsed.toFixed(0)} B, old space ${d.oldSpace.toFixed(0)} B, code ${d.codeSpace.toFixed(0)} B` : '';
    console.log(`cycle ${m.cycle}: heap ${mb(m.heapUsed)} MB (old space ${mb(m.oldSpace)}, code ${mb(m.codeSpace)}), heap reserved ${mb(m.heapTotal)} MB, rss ${mb(m.rss)} MB, external ${mb(m.external)} MB${since}`);
  };
  let lan: VirtualLan | undefined;
  let code: number;
  try {
    console.log(`churn (${o.live ? 'live' : 'sim'}): ${o.cycles} peer incarnations, memory read after cycles ${o.at.join(', ')}`);
    if (o.live) {
      lan = await createVirtualLan(1);
      // The live run checks that its network namespace is not this one (it runs mDNS).
      const env = { ...process.env, CHURN_OUTER_NETNS: readlinkSync('/proc/self/ns/net') };
      code = await collect(lan.spawn(1, process.execPath, args, { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'], env }), show);
    } else {
      code = await collect(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }), show);
    }
  } finally {
    await lan?.destroy();
  }
  if (code !== 0 || marks.length < 2) {
    process.stderr.write(`churn: the ${o.live ? 'live' : 'simulated'} run failed (exit ${code}, ${marks.length} marks)\n`);
    return 1;
  }
  const first = marks[0]!;
  const last = marks.at(-1)!;
  const growth = perCycle(first, last);
  const mode = o.live ? 'live' : 'sim';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  mkdirSync(o.out, { recursive: true });
  const base = `${o.out.replace(/\/$/, '')}/churn-${mode}-${stamp}`;
  writeFileSync(`${base}.json`, `${JSON.stringify({ environment: environment(loadBefore), options: o, marks, perCycle: { from: first.cycle, to: last.cycle, ...growth } }, null, 2)}\n`);
  const md = [
    `## churn (${mode}): ${o.cycles} peer incarnations`,
    '',
    '| after cycle | heap MB | old space MB | code MB | heap reserved MB | RSS MB | external MB |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...marks.map((m) => `| ${m.cycle} | ${mb(m.heapUsed)} | ${mb(m.oldSpace)} | ${mb(m.codeSpace)} | ${mb(m.heapTotal)} | ${mb(m.rss)} | ${mb(m.external)} |`),
    '',
    `Per cycle from ${first.cycle} to ${last.cycle}: heap ${growth.heapUsed.toFixed(0)} B, old space ${growth.oldSpace.toFixed(0)} B, code ${growth.codeSpace.toFixed(0)} B.`,
  ].join('\n');
  writeFileSync(`${base}.md`, `${md}\n`);
  console.log(`\n${md}\n\nresults: ${base}.json`);
  return 0;
}
