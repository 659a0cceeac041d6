// Handshake benchmark: the CPU one CPace handshake costs each side, measured on the
// pure state machine (transport/handshake.ts) in one process, with no sockets and no
// framing, so the figure is the cryptography plus the message handling around it.
// Per handshake the dialer's time is start() + receive(listener hello) + receive(confirm)
// and the listener's is start() + receive(dialer hello) + receive(dialer confirm).
// Warm figures come from one process after its first handshake; cold figures ("the
// first handshake of a process": generator derivation, module JIT) from fresh child
// processes, one handshake each. `--dist DIR` measures another build (e.g. an older
// commit's dist/) so before/after run the same benchmark.
// Invariant: one cookie per process, as in a node (the generator is derived once).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { environment, intOption, usageText } from './common.js';
import { summarize } from './stats.js';
import type { Summary } from './stats.js';

const USAGE = `usage: npm run bench -- handshake [--count N] [--cold C] [--dist DIR] [--out DIR]
  --count N    warm handshakes in one process (default 500)
  --cold C     fresh processes, each timing its first handshake (default 5; 0 to skip)
  --dist DIR   the build to measure (default: src/ of this repository through tsx)
  --out DIR    where results are written (default bench/results)`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const RUNNER = fileURLToPath(new URL('./run.ts', import.meta.url));
/** Flag that makes a child time one cold handshake and print it as one JSON line. */
const CHILD_FLAG = '--child-cold';

interface HandshakeBenchOptions {
  count: number;
  cold: number;
  dist: string | undefined;
  out: string;
  child: boolean;
}

/** The parts of a build the benchmark drives (loaded from src/ or from a dist/ directory). */
interface Build {
  Handshake: new (o: { role: 'dialer' | 'listener'; cookie: unknown; hello: unknown; random: unknown }) => Side;
  Secret: new (v: string) => unknown;
  systemRandom: unknown;
  PROTOCOL_VERSION: number;
}

interface Step {
  send?: { t: string };
  done?: unknown;
  fail?: { message: string };
}

interface Side {
  start(): Step;
  receive(msg: unknown): Step;
}

/**
 * Time each side of one handshake spent in its calls, ms: wall clock (performance.now)
 * and process CPU (process.cpuUsage: every thread, so GC helpers count; unlike the wall
 * clock it does not grow when other processes take the cores).
 */
interface Timing {
  dialerMs: number;
  listenerMs: number;
  dialerCpuMs: number;
  listenerCpuMs: number;
}

async function loadBuild(dist: string | undefined): Promise<Build> {
  const base = dist ? pathToFileURL(`${resolve(dist)}/`).href : new URL('../src/', import.meta.url).href;
  const ext = dist ? 'js' : 'ts';
  const hs = (await import(`${base}transport/handshake.${ext}`)) as Pick<Build, 'Handshake'>;
  const secret = (await import(`${base}util/secret.${ext}`)) as Pick<Build, 'Secret'>;
  const random = (await import(`${base}util/random.${ext}`)) as Pick<Build, 'systemRandom'>;
  const messages = (await import(`${base}wire/messages.${ext}`)) as Pick<Build, 'PROTOCOL_VERSION'>;
  return { Handshake: hs.Handshake, Secret: secret.Secret, systemRandom: random.systemRandom, PROTOCOL_VERSION: messages.PROTOCOL_VERSION };
}

/** Run one handshake between two fresh state machines, timing each side's calls. Throws if it does not complete. */
function timedHandshake(b: Build, cookie: unknown, i: number): Timing {
  const hello = (name: string): Record<string, unknown> => ({ t: 'hello', v: b.PROTOCOL_VERSION, name, inc: `${i.toString(16)}aa`, nonce: Buffer.alloc(32, i & 0xff), port: 4000, up: i, key: Buffer.alloc(32, 7) });
  const dialer = new b.Handshake({ role: 'dialer', cookie, hello: hello('alice@bench'), random: b.systemRandom });
  const listener = new b.Handshake({ role: 'listener', cookie, hello: hello('bob@bench'), random: b.systemRandom });
  const t: Timing = { dialerMs: 0, listenerMs: 0, dialerCpuMs: 0, listenerCpuMs: 0 };
  const timed = (side: 'dialer' | 'listener', f: () => Step): Step => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const step = f();
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const dc = (c.user + c.system) / 1000;
    if (side === 'dialer') {
      t.dialerMs += dt;
      t.dialerCpuMs += dc;
    } else {
      t.listenerMs += dt;
      t.listenerCpuMs += dc;
    }
    if (step.fail) throw new Error(`${side} failed: ${step.fail.message}`);
    return step;
  };
  timed('listener', () => listener.start());
  const dHello = timed('dialer', () => dialer.start()).send;
  const lHello = timed('listener', () => listener.receive(dHello)).send;
  const dConfirm = timed('dialer', () => dialer.receive(lHello)).send;
  const l = timed('listener', () => listener.receive(dConfirm));
  const d = timed('dialer', () => dialer.receive(l.send));
  if (!l.done || !d.done) throw new Error('the handshake did not complete');
  return t;
}

function parseOptions(argv: string[]): HandshakeBenchOptions | string {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { count: { type: 'string' }, cold: { type: 'string' }, dist: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' }, 'child-cold': { type: 'boolean' } },
    });
    if (values.help) return USAGE;
    return {
      count: intOption('count', values.count, 500, 1, 1_000_000),
      cold: intOption('cold', values.cold, 5, 0, 100),
      dist: values.dist,
      out: values.out ?? RESULTS_DIR,
      child: values['child-cold'] === true,
    };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

/** Time the first handshake of a fresh process, in a child; resolves with its timing. */
function coldInChild(dist: string | undefined): Promise<Timing> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, 'handshake', CHILD_FLAG, ...(dist ? ['--dist', dist] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`cold child exited ${code}`));
      try {
        resolvePromise(JSON.parse(out.trim().split('\n').at(-1)!) as Timing);
      } catch {
        reject(new Error('cold child printed no timing'));
      }
    });
  });
}

const fmt = (s: Summary): string => `${s.median.toFixed(3)} ms (min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)})`;

/** `npm run bench -- handshake`: exit 0 when every handshake completed, 1 otherwise, 2 for usage. */
export async function runHandshake(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (typeof opts === 'string') {
    const isHelp = opts === USAGE;
    (isHelp ? process.stdout : process.stderr).write(`${opts}\n`);
    return isHelp ? 0 : 2;
  }
  const build = await loadBuild(opts.dist);
  const cookie = new build.Secret('bench-handshake-cookie');
  if (opts.child) {
    process.stdout.write(`${JSON.stringify(timedHandshake(build, cookie, 0))}\n`);
    return 0;
  }
  const loadBefore = loadavg()[0]!;
  const cold: Timing[] = [];
  for (let i = 0; i < opts.cold; i++) cold.push(await coldInChild(opts.dist));
  timedHandshake(build, cookie, 0); // this process's first: generator, JIT
  const warm: Timing[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 1; i <= opts.count; i++) warm.push(timedHandshake(build, cookie, i));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const d = summarize(warm.map((t) => t.dialerMs));
  const l = summarize(warm.map((t) => t.listenerMs));
  const dCpu = summarize(warm.map((t) => t.dialerCpuMs));
  const lCpu = summarize(warm.map((t) => t.listenerCpuMs));
  const coldD = summarize(cold.map((t) => t.dialerMs));
  const coldL = summarize(cold.map((t) => t.listenerMs));
  const coldDCpu = summarize(cold.map((t) => t.dialerCpuMs));
  const coldLCpu = summarize(cold.map((t) => t.listenerCpuMs));
  const load = loadavg()[0]!;
  const lines = [
    `## Handshake CPU per side (${opts.dist ? `build ${opts.dist}` : 'this build'}, protocol v${build.PROTOCOL_VERSION})`,
    '',
    `load average ${loadBefore.toFixed(2)} before, ${load.toFixed(2)} after`,
    '',
    '| figure | dialer | listener |',
    '| --- | --- | --- |',
    `| warm, median of ${opts.count}: wall | ${fmt(d)} | ${fmt(l)} |`,
    `| warm, median of ${opts.count}: process CPU | ${fmt(dCpu)} | ${fmt(lCpu)} |`,
    ...(opts.cold > 0
      ? [
          `| cold (first of a process, the dialer derives the generator), median of ${opts.cold}: wall | ${fmt(coldD)} | ${fmt(coldL)} |`,
          `| cold, median of ${opts.cold}: process CPU | ${fmt(coldDCpu)} | ${fmt(coldLCpu)} |`,
        ]
      : []),
    '',
    `${opts.count} warm handshakes (both sides, state machines built included) in ${wallMs.toFixed(0)} ms wall and ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms process CPU: ${((cpu.user + cpu.system) / 1000 / opts.count).toFixed(3)} ms of CPU per handshake, both sides together.`,
  ];
  console.log(lines.join('\n'));
  mkdirSync(opts.out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  writeFileSync(`${opts.out}/handshake-${stamp}.json`, JSON.stringify({ environment: environment(loadBefore), options: opts, warm: { dialer: d, listener: l, dialerCpu: dCpu, listenerCpu: lCpu }, cold: { dialer: coldD, listener: coldL, dialerCpu: coldDCpu, listenerCpu: coldLCpu, samples: cold }, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }, null, 2));
  writeFileSync(`${opts.out}/handshake-${stamp}.md`, `${lines.join('\n')}\n`);
  return 0;
}
