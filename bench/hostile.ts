// Hostile-input benchmark: what a sender without the cookie can do to a node before
// any handshake. A victim node (bench/hostile-victim.ts) reports how late its event
// loop ran; this program attacks its TCP port from 127.0.0.2 and reports, per attack,
// the longest freeze, the peak memory and whether the victim survived:
//   dag      — one frame holding a msgpackr structured-clone DAG (a few hundred bytes
//              whose 2^26 leaves the old error path walked to print it);
//   dribble  — a frame announced at 1 MiB, sent in 2-byte segments for 5 s;
//   dribble4k— a 4 KiB frame (the pre-auth cap) sent in 2-byte segments;
//   slots    — 300 idle connections from one address, then a newcomer from 127.0.0.1
//              must still join (time to its handshake).
// `--dist DIR` attacks another build (e.g. an older commit's dist/) for comparison.
// Everything stays on loopback; no mDNS.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { Packr } from 'msgpackr';
import { environment, usageText } from './common.js';

const USAGE = `usage: npm run bench -- hostile [--dist DIR] [--runs N] [--out DIR]
  --dist DIR   the build to attack (default dist/ of this repository)
  --runs N     repetitions of each attack (default 3)
  --out DIR    where results are written (default bench/results)`;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const VICTIM = fileURLToPath(new URL('./hostile-victim.ts', import.meta.url));
const ATTACKER = '127.0.0.2';

interface Sample {
  lagMs: number;
  rssMb: number;
  at: number;
}

class Victim {
  readonly samples: Sample[] = [];
  port = 0;
  exited: number | null | undefined;
  private readonly proc;
  constructor(dist: string | undefined) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', '--max-old-space-size=1024', VICTIM, ...(dist ? [dist] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const v = JSON.parse(line) as { port?: number; lagMs?: number; rssMb?: number };
      if (v.port) this.port = v.port;
      else this.samples.push({ lagMs: v.lagMs!, rssMb: v.rssMb!, at: performance.now() });
    });
    this.proc.on('exit', (code) => (this.exited = code));
  }
  async ready(): Promise<void> {
    const until = performance.now() + 20_000;
    while (!this.port) {
      if (this.exited !== undefined || performance.now() > until) throw new Error('victim did not start');
      await sleep(20);
    }
  }
  /** Worst lag and peak RSS in samples that arrived after t (a frozen window is reported when the loop resumes). */
  since(t: number): { lagMs: number; rssMb: number } {
    const s = this.samples.filter((x) => x.at >= t);
    return { lagMs: Math.max(0, ...s.map((x) => x.lagMs)), rssMb: Math.max(0, ...s.map((x) => x.rssMb)) };
  }
  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length);
  out.set(body, 4);
  return out;
}

function connect(port: number, localAddress = ATTACKER): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.resume(); // read (and drop) what the victim sends, so its close is seen
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Wait until the socket closes or ms pass; returns whether it closed. */
function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.on('error', () => {});
  });
}

async function attackDag(port: number): Promise<string> {
  let x: unknown[] = [1];
  for (let i = 0; i < 26; i++) x = [x, x];
  // In the type field: the old error path stringified it.
  const payload = frame(new Packr({ structuredClone: true }).pack({ t: x }));
  const s = await connect(port);
  s.write(payload);
  const closed = await closedWithin(s, 3000);
  s.destroy();
  return `${payload.length} bytes; connection ${closed ? 'closed by the victim' : 'still open after 3 s'}`;
}

async function attackDribble(port: number, length: number, seconds: number): Promise<string> {
  const s = await connect(port);
  s.setNoDelay(true);
  s.on('error', () => {});
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length);
  s.write(header);
  let sent = 0;
  const until = performance.now() + seconds * 1000;
  const two = Buffer.from([0x90, 0x90]);
  while (!s.destroyed && sent < length && performance.now() < until) {
    for (let i = 0; i < 64 && sent < length; i++, sent += 2) s.write(two);
    await new Promise((r) => setImmediate(r));
  }
  const closed = s.destroyed || (await closedWithin(s, 1000));
  s.destroy();
  return `${sent} bytes sent in 2-byte writes; ${closed ? 'closed by the victim' : 'still open'}`;
}

async function attackSlots(port: number, dist: string | undefined): Promise<string> {
  const idle: net.Socket[] = [];
  for (let i = 0; i < 300; i++) {
    try {
      const s = await connect(port);
      s.on('error', () => {});
      idle.push(s);
    } catch {
      break;
    }
  }
  const open = idle.filter((s) => !s.destroyed).length;
  // The newcomer: a second node from 127.0.0.1 with the right cookie, seeded with the victim.
  const started = performance.now();
  const joined = await newcomerJoins(port, dist);
  const ms = Math.round(performance.now() - started);
  for (const s of idle) s.destroy();
  return `${open} of 300 attacker connections left open; newcomer ${joined ? `joined in ${ms} ms` : 'did NOT join within 10 s'}`;
}

async function newcomerJoins(port: number, dist: string | undefined): Promise<boolean> {
  const distDir = dist ?? fileURLToPath(new URL('../dist/', import.meta.url));
  const lib = (await import(pathToFileURL(resolve(distDir, 'index.js')).href)) as {
    createNode(o: Record<string, unknown>): { start(): Promise<void>; stop(): Promise<void>; members(): string[] };
  };
  const node = lib.createNode({ name: 'newcomer@bench', cookie: 'bench-hostile-cookie', host: '127.0.0.1', mdns: false, seeds: [`127.0.0.1:${port}`] });
  await node.start();
  const until = performance.now() + 10_000;
  try {
    while (performance.now() < until) {
      if (node.members().includes('victim@bench')) return true;
      await sleep(20);
    }
    return false;
  } finally {
    await node.stop();
  }
}

interface Row {
  attack: string;
  run: number;
  freezeMs: number;
  peakRssMb: number;
  survived: boolean;
  note: string;
}

export async function runHostile(argv: string[]): Promise<number> {
  let opts: { dist: string | undefined; runs: number; out: string };
  try {
    const { values } = parseArgs({ args: argv, options: { dist: { type: 'string' }, runs: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    opts = { dist: values.dist, runs: values.runs ? Number(values.runs) : 3, out: values.out ?? RESULTS_DIR };
  } catch (err) {
    process.stderr.write(`${usageText(err, USAGE)}\n`);
    return 2;
  }
  const loadBefore = loadavg()[0]!;
  const attacks: [string, (port: number) => Promise<string>][] = [
    ['dag', attackDag],
    ['dribble', (p) => attackDribble(p, 1024 * 1024, 5)],
    ['dribble4k', (p) => attackDribble(p, 4096, 5)],
    ['slots', (p) => attackSlots(p, opts.dist)],
  ];
  const rows: Row[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const [name, attack] of attacks) {
      const victim = new Victim(opts.dist);
      try {
        await victim.ready();
        await sleep(300);
        const t0 = performance.now();
        let note: string;
        try {
          note = await attack(victim.port);
        } catch (err) {
          note = `attack error: ${err instanceof Error ? err.message : 'unknown'}`;
        }
        // Let a frozen victim report its window (or die).
        const until = performance.now() + 120_000;
        while (victim.exited === undefined && !victim.samples.some((s) => s.at > t0 && s.at > performance.now() - 150) && performance.now() < until) await sleep(50);
        await sleep(300);
        const m = victim.since(t0);
        rows.push({ attack: name, run, freezeMs: m.lagMs, peakRssMb: m.rssMb, survived: victim.exited === undefined, note });
        console.log(`${name} run ${run}: freeze ${m.lagMs} ms, peak RSS ${m.rssMb} MB, ${victim.exited === undefined ? 'alive' : `exited ${victim.exited}`} — ${note}`);
      } finally {
        victim.stop();
      }
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const lines = [
    `## Hostile input before the handshake (${opts.dist ? `build ${opts.dist}` : 'this build'}, ${opts.runs} runs each)`,
    '',
    '| attack | freeze, median (max) | peak RSS, median | victim survived | last note |',
    '| --- | --- | --- | --- | --- |',
    ...attacks.map(([name]) => {
      const r = rows.filter((x) => x.attack === name);
      return `| ${name} | ${median(r.map((x) => x.freezeMs))} ms (${Math.max(...r.map((x) => x.freezeMs))} ms) | ${median(r.map((x) => x.peakRssMb))} MB | ${r.filter((x) => x.survived).length}/${r.length} | ${r.at(-1)!.note} |`;
    }),
  ];
  console.log(`\n${lines.join('\n')}`);
  mkdirSync(opts.out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  writeFileSync(`${opts.out}/hostile-${stamp}.json`, JSON.stringify({ environment: environment(loadBefore), options: opts, rows }, null, 2));
  writeFileSync(`${opts.out}/hostile-${stamp}.md`, `${lines.join('\n')}\n`);
  return 0;
}
