// Scale benchmark: what one node costs against the cluster's size N. Per N (10, 25, 50
// by default) and run: start N CLI processes at once on H virtual-LAN hosts (real mDNS,
// --no-singleton), time launch -> full mesh (every node logged nodeup for every other),
// count warnings and handshake timeouts while forming; then over an idle window measure
// per node CPU (% of one core, /proc utime+stime), RSS, bytes per second in and out and
// mDNS datagrams per second (the node's own counters, read from every member's status
// view by a hidden observer, scale-observer.mjs), and count warnings and nodedown while idle; at the end,
// whether every member's view lists the same members. Memory is reported three ways:
// RSS (the issue's target; counts the ~40 MB of node binary code every process maps),
// its anonymous part (heap, buffers: what grows with connections) and PSS (shared pages
// divided among the processes sharing them: what N nodes on one machine really cost each).
// The observer's own exchanges are taken out of the byte rates: the counters are read
// three times (t0, t1 = t0 + idle window, t2 right after t1); t0->t1 and t1->t2 each hold
// exactly one observer exchange, so (d01 - d12) / (w01 - w12) is the idle rate alone
// (window lengths from each member's own uptime, so exact per member).
// Invariant: every process runs inside the virtual LAN (vlan.ts); nothing is left running.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createVirtualLan } from '../test/helpers/vlan.js';
import type { VirtualLan } from '../test/helpers/vlan.js';
import { CLI_BIN, startCliNode } from '../test/helpers/cli-process.js';
import type { CliNode, LogLine } from '../test/helpers/cli-process.js';
import { cpuPercent, readMemory, sampleCpu } from './proc-stats.js';
import { UsageError, environment, intOption, preflight, usageText } from './common.js';
import { summarize } from './stats.js';
import type { Summary } from './stats.js';
import { hostCount, meshedAt, placement } from './formation.js';
import type { TrafficCounts } from '../src/util/traffic.js';

/** Targets of issue 10, printed beside the results. */
export const SCALE_TARGETS = {
  /** Idle CPU per node, % of one core, at every N. */
  idleCpuPercent: 0.5,
  /** RSS per node at every N, MB. */
  rssMb: 70,
  /** Launch -> full mesh for 50 nodes on 5 hosts, ms. */
  launchToMeshMs: 20_000,
  /** Bytes per second per node in and out: largest N's median within this factor of the smallest N's. */
  bytesFlatFactor: 2,
} as const;

/**
 * Default wait between the full mesh and the idle window, s: 30. Idle cost is the steady
 * state; a node's first half minute holds its warm-up (V8 compiling the code that runs
 * every tick, the memory reducer's full collections at ~17 s, the code-cache rewrite),
 * which at N = 10, 5 s after the mesh, added ~0.1 point of a core to the window.
 */
const DEFAULT_SETTLE_SECONDS = 30;

const USAGE = `usage: npm run bench -- scale [--nodes 10,25,50] [--hosts H] [--runs R] [--idle-seconds S] [--settle-seconds Q] [--timeout-seconds T] [--out DIR] [-- ARGS...]
  --nodes LIST         node counts, comma-separated (default 10,25,50)
  --hosts H            virtual hosts the nodes are spread over (default 5)
  --runs R             repetitions per node count (default 1)
  --idle-seconds S     idle window (default 60)
  --settle-seconds Q   wait between the full mesh and the idle window (default 30: past a process's warm-up)
  --timeout-seconds T  launch -> full mesh deadline; a run that misses it is still measured idle (default 120)
  --quick              10 nodes, 2 hosts, 15 s idle, 1 s settle (a smoke test)
  --out DIR            where results are written (default bench/results)
  -- ARGS...           extra arguments for every node (after --no-singleton)`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** Spawn -> `node ready` of N processes at once on a small, busy machine. */
const READY_TIMEOUT_MS = 180_000;
/** How long the observer may take to connect to every member and hear every answer. */
const STATUS_TIMEOUT_MS = 20_000;
/** The observer (a hidden node of the built library) run on host 1 to read the members' views. */
const OBSERVER = fileURLToPath(new URL('./scale-observer.mjs', import.meta.url));

/** Parsed scale options. */
export interface ScaleOptions {
  nodeCounts: number[];
  hosts: number;
  runs: number;
  idleSeconds: number;
  settleSeconds: number;
  timeoutSeconds: number;
  out: string;
  cliArgs: string[];
}

/** Per-node figures of one run's idle window. */
interface NodeIdle {
  name: string;
  cpuPercent: number;
  rssMb: number;
  /** The anonymous part of RSS (heap, buffers): what the node itself holds, not the shared binary. */
  anonMb: number;
  /** Proportional set size: shared pages (the node binary) divided among the processes sharing them. */
  pssMb: number;
  meshBytesInPerS?: number;
  meshBytesOutPerS?: number;
  mdnsPacketsInPerS?: number;
  mdnsPacketsOutPerS?: number;
}

/** What one run measured. */
interface RunResult {
  nodes: number;
  run: number;
  ok: boolean;
  error?: string;
  /** Launch -> every node logged nodeup for all others; undefined when that did not happen in time. */
  spawnToMeshMs?: number;
  /** Ordered pairs (a saw b up) missing at the formation deadline (0 when meshed). */
  missingPairsAtDeadline?: number;
  spawnToAllReadyMs?: number;
  /** warn lines with code ERR_HANDSHAKE_TIMEOUT from launch to the start of the idle window (the failure log caps these at 5 per address per minute). */
  handshakeTimeoutWarnings?: number;
  /** warn and error lines from launch to the start of the idle window. */
  formationWarnings?: number;
  /** warn and error lines during the idle window, and the first few texts. */
  idleWarnings?: number;
  idleWarningSamples?: string[];
  /** nodedown lines during the idle window (nobody failed: should be 0). */
  idleNodedowns?: number;
  /** Idle window, s (CPU sampling). */
  idleWindowS?: number;
  perNode?: NodeIdle[];
  /** Every member answered and every view lists the same N members. */
  viewsIdentical?: boolean;
  /** Why viewsIdentical is false. */
  viewsProblem?: string;
  /** Every node's last printed list holds all the others. */
  printedListsFull?: boolean;
  /** Failed `cluster-node status` attempts (a busy machine); the byte rates of the members they missed are left out. */
  statusProblems?: string[];
  /** Bytes in+out of one observer exchange, per node, median (what was taken out of the rates). */
  observerBytesPerNode?: number;
}

function parseOptions(argv: string[]): ScaleOptions | string {
  const dashes = argv.indexOf('--');
  const cliArgs = dashes >= 0 ? argv.slice(dashes + 1) : [];
  try {
    const v = parseArgs({
      args: dashes >= 0 ? argv.slice(0, dashes) : argv,
      options: {
        nodes: { type: 'string' },
        hosts: { type: 'string' },
        runs: { type: 'string' },
        'idle-seconds': { type: 'string' },
        'settle-seconds': { type: 'string' },
        'timeout-seconds': { type: 'string' },
        quick: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (v.help) return USAGE;
    const q = v.quick === true;
    const nodeCounts = [...new Set((v.nodes ?? (q ? '10' : '10,25,50')).split(',').map((x) => intOption('nodes', x.trim(), 10, 2, 200)))];
    if (nodeCounts.length === 0) throw new UsageError('--nodes needs at least one count');
    return {
      nodeCounts,
      hosts: intOption('hosts', v.hosts, q ? 2 : 5, 1, 100),
      runs: intOption('runs', v.runs, 1, 1, 100),
      idleSeconds: intOption('idle-seconds', v['idle-seconds'], q ? 15 : 60, 5, 3600),
      settleSeconds: intOption('settle-seconds', v['settle-seconds'], q ? 1 : DEFAULT_SETTLE_SECONDS, 0, 600),
      timeoutSeconds: intOption('timeout-seconds', v['timeout-seconds'], 120, 5, 1200),
      out: v.out ?? RESULTS_DIR,
      cliArgs,
    };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

/** A member's answer as `status --json` prints it (only what we read). */
interface StatusView {
  node: string;
  upMs: number;
  members: { name: string }[];
  traffic?: TrafficCounts;
}

/** One reading of every member's counters. */
interface Reading {
  views: Map<string, StatusView>;
  silent: string[];
  agree: boolean;
}

/** Ask the cluster for its views from a hidden observer on host 1 (static seed, no mDNS of its own). */
async function readStatus(lan: VirtualLan, seeds: string[], cookie: string, expected: number, problems: string[]): Promise<Reading | undefined> {
  // The observer waits until it is connected to every member (or its deadline); on a
  // busy machine some may still be missing or silent. Ask again (up to 3 times) until
  // every member answered; keep the fullest reading. A reading that fails altogether
  // leaves the byte rates out of the run, not the run.
  let best: Reading | undefined;
  for (let i = 0; i < 3; i++) {
    try {
      const r = await readStatusOnce(lan, seeds, cookie, expected);
      if (!best || r.views.size > best.views.size) best = r;
      if (r.views.size >= expected && r.silent.length === 0) break;
    } catch (err) {
      problems.push((err as Error).message.split('\n')[0]!.slice(0, 200));
    }
  }
  return best;
}

async function readStatusOnce(lan: VirtualLan, seeds: string[], cookie: string, expected: number): Promise<Reading> {
  const r = await lan.exec(1, process.execPath, [OBSERVER, cookie, String(expected), String(STATUS_TIMEOUT_MS), ...seeds], { timeoutMs: STATUS_TIMEOUT_MS + 30_000 });
  if (r.code !== 0) throw new Error(`the observer exited ${r.code}: ${r.stderr.slice(0, 300)}`);
  const parsed = JSON.parse(r.stdout) as { agree: boolean; silent: string[]; views: StatusView[] };
  return { views: new Map(parsed.views.map((v) => [v.node, v])), silent: parsed.silent, agree: parsed.agree };
}

/**
 * Idle rate of one counter, per second: (d01 - d12) / (w01 - w12), where d is the
 * counter's growth and w the member's uptime growth (ms) between readings; each of the
 * two intervals holds one observer exchange, so its cost cancels. Undefined when a
 * reading lacks the member or its counters.
 */
export function idleRate(v0: StatusView | undefined, v1: StatusView | undefined, v2: StatusView | undefined, key: keyof TrafficCounts): number | undefined {
  if (!v0?.traffic || !v1?.traffic || !v2?.traffic) return undefined;
  const d01 = v1.traffic[key] - v0.traffic[key];
  const d12 = v2.traffic[key] - v1.traffic[key];
  const w = (v1.upMs - v0.upMs) - (v2.upMs - v1.upMs);
  if (w <= 0) return undefined;
  return Math.max(0, (d01 - d12) / (w / 1000));
}

function isHandshakeTimeout(l: LogLine): boolean {
  return l.level === 'warn' && l.fields.code === 'ERR_HANDSHAKE_TIMEOUT';
}

const isWarning = (l: LogLine): boolean => l.level === 'warn' || l.level === 'error';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function oneRun(n: number, run: number, o: ScaleOptions): Promise<RunResult> {
  const lan = await createVirtualLan(hostCount(n, o.hosts));
  const nodes: CliNode[] = [];
  const cookie = `bench-scale-${n}-${run}`;
  try {
    const spawnAt = performance.now();
    for (const p of placement(n, o.hosts)) {
      nodes.push(startCliNode(lan, p.host, { name: p.name, cookie, args: ['--no-singleton', ...o.cliArgs] }));
    }
    const names = nodes.map((x) => x.name);
    const othersOf = (x: CliNode): string[] => names.filter((y) => y !== x.name);
    const ready = await Promise.all(nodes.map((x) => x.waitReady(READY_TIMEOUT_MS)));
    const allReadyAt = Math.max(...ready.map((r) => r.at));

    // Formation: poll until every node logged nodeup for all others, or the deadline.
    const deadline = spawnAt + o.timeoutSeconds * 1000;
    let meshAt: number | undefined;
    for (;;) {
      const at = nodes.map((x) => meshedAt(x.logs, othersOf(x)));
      if (at.every((a) => a !== undefined)) {
        meshAt = Math.max(...(at as number[]));
        break;
      }
      if (performance.now() > deadline) break;
      await delay(250);
    }
    const missingPairs = nodes.reduce((sum, x) => {
      const up = new Set(x.logs.filter((l) => l.message === 'nodeup').map((l) => l.fields.peer));
      return sum + othersOf(x).filter((p) => !up.has(p)).length;
    }, 0);

    await delay(o.settleSeconds * 1000);
    const seeds = nodes.map((x, i) => `${x.host.address}:${String(ready[i]!.fields.port)}`);
    const statusProblems: string[] = [];
    const r0 = await readStatus(lan, seeds, cookie, n, statusProblems);
    const idleFrom = performance.now();
    const cpu0 = nodes.map((x) => sampleCpu(x.pid));
    await delay(o.idleSeconds * 1000);
    const cpu1 = nodes.map((x) => sampleCpu(x.pid));
    const idleTo = performance.now();
    const mem = nodes.map((x) => readMemory(x.pid));
    const r1 = await readStatus(lan, seeds, cookie, n, statusProblems);
    const r2 = await readStatus(lan, seeds, cookie, n, statusProblems);

    const perNode: NodeIdle[] = nodes.map((x, i) => {
      const a = cpu0[i];
      const b = cpu1[i];
      if (!a || !b) throw new Error(`${x.name} exited during the idle window\n${x.tail()}`);
      const [v0, v1, v2] = [r0, r1, r2].map((r) => r?.views.get(x.name));
      const rate = (k: keyof TrafficCounts): number | undefined => idleRate(v0, v1, v2, k);
      const MB = 1024 * 1024;
      const f: NodeIdle = { name: x.name, cpuPercent: cpuPercent(a, b), rssMb: (mem[i]?.rss ?? NaN) / MB, anonMb: (mem[i]?.anon ?? NaN) / MB, pssMb: (mem[i]?.pss ?? NaN) / MB };
      const figures: [keyof NodeIdle, keyof TrafficCounts][] = [
        ['meshBytesInPerS', 'meshBytesIn'],
        ['meshBytesOutPerS', 'meshBytesOut'],
        ['mdnsPacketsInPerS', 'mdnsPacketsIn'],
        ['mdnsPacketsOutPerS', 'mdnsPacketsOut'],
      ];
      for (const [to, from] of figures) {
        const v = rate(from);
        if (v !== undefined) (f as unknown as Record<string, number>)[to] = v;
      }
      return f;
    });
    const observerBytes = nodes.flatMap((x) => {
      const v1 = r1?.views.get(x.name)?.traffic;
      const v2 = r2?.views.get(x.name)?.traffic;
      const i = perNode.find((p) => p.name === x.name)!;
      const w12 = (r2?.views.get(x.name)?.upMs ?? 0) - (r1?.views.get(x.name)?.upMs ?? 0);
      if (!v1 || !v2 || i.meshBytesInPerS === undefined || i.meshBytesOutPerS === undefined) return [];
      const d = v2.meshBytesIn - v1.meshBytesIn + v2.meshBytesOut - v1.meshBytesOut;
      return [Math.max(0, d - ((i.meshBytesInPerS + i.meshBytesOutPerS) * w12) / 1000)];
    });

    const inWindow = (l: LogLine): boolean => l.at >= idleFrom && l.at <= idleTo;
    const beforeIdle = (l: LogLine): boolean => l.at < idleFrom;
    const idleWarn = nodes.flatMap((x) => x.logs.filter((l) => inWindow(l) && isWarning(l)).map((l) => `${x.name}: ${l.message}`));
    // The end of the window: the last reading in which every member answered.
    const last = [r2, r1].find((r) => r && r.silent.length === 0 && r.views.size === n) ?? r2 ?? r1;
    const everyone = [...names].sort().join(',');
    const differing = last ? [...last.views.values()].filter((v) => [v.node, ...v.members.map((m) => m.name)].sort().join(',') !== everyone) : [];
    const viewsIdentical = !!last && last.silent.length === 0 && last.views.size === n && differing.length === 0;
    const viewsProblem = viewsIdentical
      ? undefined
      : !last
        ? `no status reading succeeded (${statusProblems[0] ?? '?'})`
        : `${last.views.size}/${n} answered (silent: ${last.silent.slice(0, 5).join(', ') || 'none'}); ${differing.length} views differ` +
          (differing[0] ? ` (e.g. ${differing[0].node} lists ${differing[0].members.length + 1})` : '');
    return {
      nodes: n,
      run,
      ok: true,
      ...(meshAt !== undefined ? { spawnToMeshMs: meshAt - spawnAt } : {}),
      missingPairsAtDeadline: meshAt !== undefined ? 0 : missingPairs,
      spawnToAllReadyMs: allReadyAt - spawnAt,
      handshakeTimeoutWarnings: nodes.reduce((s, x) => s + x.logs.filter((l) => beforeIdle(l) && isHandshakeTimeout(l)).length, 0),
      formationWarnings: nodes.reduce((s, x) => s + x.logs.filter((l) => beforeIdle(l) && isWarning(l)).length, 0),
      idleWarnings: idleWarn.length,
      idleWarningSamples: idleWarn.slice(0, 5),
      idleNodedowns: nodes.reduce((s, x) => s + x.logs.filter((l) => inWindow(l) && l.message === 'nodedown').length, 0),
      idleWindowS: (idleTo - idleFrom) / 1000,
      perNode,
      viewsIdentical,
      ...(viewsProblem ? { viewsProblem } : {}),
      printedListsFull: nodes.every((x) => othersOf(x).every((p) => (x.lastMembers() ?? []).includes(p))),
      observerBytesPerNode: summarize(observerBytes).median,
      statusProblems,
    };
  } catch (err) {
    return { nodes: n, run, ok: false, error: (err as Error).message };
  } finally {
    await Promise.all(nodes.map((x) => x.stop(3000)));
    await lan.destroy();
  }
}

/** Figures of one node count over its runs. */
export interface ScaleRow {
  nodes: number;
  runsOk: number;
  runsFailed: number;
  spawnToMeshMs: Summary;
  /** Runs that did not reach a full mesh within the timeout. */
  runsNotMeshed: number;
  handshakeTimeoutWarnings: Summary;
  formationWarnings: Summary;
  idleWarnings: Summary;
  idleNodedowns: Summary;
  cpuPercent: Summary;
  rssMb: Summary;
  anonMb: Summary;
  pssMb: Summary;
  meshBytesInPerS: Summary;
  meshBytesOutPerS: Summary;
  mdnsPacketsInPerS: Summary;
  mdnsPacketsOutPerS: Summary;
  viewsIdentical: boolean;
  printedListsFull: boolean;
  loadAverage: [before: number, after: number];
}

function row(n: number, runs: RunResult[], load: [number, number]): ScaleRow {
  const ok = runs.filter((r) => r.ok);
  const per = (f: (x: NodeIdle) => number | undefined): Summary => summarize(ok.flatMap((r) => (r.perNode ?? []).map(f).filter((x): x is number => x !== undefined)));
  const pick = (f: (r: RunResult) => number | undefined): Summary => summarize(ok.map(f).filter((x): x is number => x !== undefined));
  return {
    nodes: n,
    runsOk: ok.length,
    runsFailed: runs.length - ok.length,
    spawnToMeshMs: pick((r) => r.spawnToMeshMs),
    runsNotMeshed: ok.filter((r) => r.spawnToMeshMs === undefined).length,
    handshakeTimeoutWarnings: pick((r) => r.handshakeTimeoutWarnings),
    formationWarnings: pick((r) => r.formationWarnings),
    idleWarnings: pick((r) => r.idleWarnings),
    idleNodedowns: pick((r) => r.idleNodedowns),
    cpuPercent: per((x) => x.cpuPercent),
    rssMb: per((x) => x.rssMb),
    anonMb: per((x) => x.anonMb),
    pssMb: per((x) => x.pssMb),
    meshBytesInPerS: per((x) => x.meshBytesInPerS),
    meshBytesOutPerS: per((x) => x.meshBytesOutPerS),
    mdnsPacketsInPerS: per((x) => x.mdnsPacketsInPerS),
    mdnsPacketsOutPerS: per((x) => x.mdnsPacketsOutPerS),
    viewsIdentical: ok.length > 0 && ok.every((r) => r.viewsIdentical),
    printedListsFull: ok.length > 0 && ok.every((r) => r.printedListsFull),
    loadAverage: load,
  };
}

// A figure read back from JSON is null where it was NaN: both print as '-'.
const bad = (x: number | null | undefined): x is null | undefined => typeof x !== 'number' || !Number.isFinite(x);
const f1 = (x: number): string => (bad(x) ? '-' : x.toFixed(1));
const f2 = (x: number): string => (bad(x) ? '-' : x.toFixed(2));
const f0 = (x: number): string => (bad(x) ? '-' : String(Math.round(x)));
const mm = (s: Summary, f: (x: number) => string): string => `${f(s.median)} / ${f(s.max)}`;
const sec = (ms: number): string => (bad(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** The results table (pure; also used by the report). */
export function scaleTable(rows: readonly ScaleRow[]): string[] {
  return [
    '| N | launch -> full mesh | handshake timeouts (warn lines) | warnings forming | CPU % of a core (median / max) | RSS MB (median / max) | of which anon MB (median) | PSS MB (median) | mesh bytes/s in (median / max) | mesh bytes/s out (median / max) | mDNS packets/s in / out (median) | warnings idle | nodedown idle | views identical | load avg before -> after |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) =>
      [
        '',
        r.nodes,
        r.runsNotMeshed === 0
          ? sec(r.spawnToMeshMs.median)
          : r.runsNotMeshed === r.runsOk
            ? 'NOT within the deadline'
            : `NOT in ${r.runsNotMeshed}/${r.runsOk} runs; ${sec(r.spawnToMeshMs.median)} in the others`,
        f0(r.handshakeTimeoutWarnings.median),
        f0(r.formationWarnings.median),
        mm(r.cpuPercent, f2),
        mm(r.rssMb, f1),
        f1(r.anonMb.median),
        f1(r.pssMb?.median ?? NaN),
        mm(r.meshBytesInPerS, f0),
        mm(r.meshBytesOutPerS, f0),
        `${f2(r.mdnsPacketsInPerS.median)} / ${f2(r.mdnsPacketsOutPerS.median)}`,
        f0(r.idleWarnings.median),
        f0(r.idleNodedowns.median),
        r.viewsIdentical ? 'yes' : 'NO',
        `${r.loadAverage[0].toFixed(1)} -> ${r.loadAverage[1].toFixed(1)}`,
        '',
      ].join(' | ').trim(),
    ),
  ];
}

/** Pass/fail against SCALE_TARGETS. */
export function scaleVerdicts(rows: readonly ScaleRow[]): Record<string, boolean> {
  const t = SCALE_TARGETS;
  const sorted = [...rows].sort((a, b) => a.nodes - b.nodes);
  const lo = sorted[0];
  const hi = sorted.at(-1);
  const flat = (k: 'meshBytesInPerS' | 'meshBytesOutPerS'): boolean => !!lo && !!hi && hi[k].median <= t.bytesFlatFactor * lo[k].median;
  const n50 = rows.find((r) => r.nodes === 50);
  return {
    idleCpu: rows.every((r) => r.cpuPercent.median <= t.idleCpuPercent),
    rss: rows.every((r) => r.rssMb.median <= t.rssMb),
    bytesInFlat: flat('meshBytesInPerS'),
    bytesOutFlat: flat('meshBytesOutPerS'),
    launchToMesh50: n50 !== undefined && n50.runsNotMeshed === 0 && n50.spawnToMeshMs.max <= t.launchToMeshMs,
    noHandshakeTimeouts: rows.every((r) => r.handshakeTimeoutWarnings.max === 0),
    noIdleNodedown: rows.every((r) => r.idleNodedowns.max === 0),
    viewsIdentical: rows.every((r) => r.viewsIdentical),
  };
}

/** Run the scale benchmark with command-line arguments (after "scale"); resolves with the exit code. */
export async function runScale(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const early = await preflight('scale', o, USAGE, true);
  if (early !== undefined || typeof o === 'string') return early ?? 2;
  const loadBefore = loadavg()[0]!;
  const extra = o.cliArgs.length ? ` ${o.cliArgs.join(' ')}` : '';
  console.log(`scale: N = ${o.nodeCounts.join(', ')} on ${o.hosts} virtual hosts, ${o.runs} run(s) each, idle window ${o.idleSeconds} s, CLI ${CLI_BIN} --no-singleton${extra}`);
  const all: RunResult[] = [];
  const rows: ScaleRow[] = [];
  for (const n of o.nodeCounts) {
    const runs: RunResult[] = [];
    const load0 = loadavg()[0]!;
    for (let run = 1; run <= o.runs; run++) {
      const r = await oneRun(n, run, o);
      runs.push(r);
      if (!r.ok) {
        console.log(`N=${n} run ${run}: FAILED: ${r.error}`);
        continue;
      }
      const s = (f: (x: NodeIdle) => number | undefined): Summary => summarize((r.perNode ?? []).map(f).filter((x): x is number => x !== undefined));
      console.log(
        `N=${n} run ${run}: launch->mesh ${r.spawnToMeshMs === undefined ? `NOT within ${o.timeoutSeconds} s (${r.missingPairsAtDeadline} pairs missing)` : sec(r.spawnToMeshMs)}, ` +
          `${r.handshakeTimeoutWarnings} handshake timeout warnings, idle CPU median ${f2(s((x) => x.cpuPercent).median)} %, RSS median ${f1(s((x) => x.rssMb).median)} MB, ` +
          `bytes/s in ${f0(s((x) => x.meshBytesInPerS).median)} out ${f0(s((x) => x.meshBytesOutPerS).median)}, ` +
          `${r.idleNodedowns} nodedown and ${r.idleWarnings} warnings idle, views identical: ${r.viewsIdentical ? 'yes' : `NO: ${r.viewsProblem}`}`,
      );
      for (const w of r.idleWarningSamples ?? []) console.log(`  idle warning: ${w}`);
    }
    all.push(...runs);
    rows.push(row(n, runs, [load0, loadavg()[0]!]));
  }
  const verdicts = scaleVerdicts(rows);
  const t = SCALE_TARGETS;
  const v = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  const env = environment(loadBefore);
  const lines = [
    `## Scale benchmark: cost per node against N (${o.hosts} virtual hosts, ${o.runs} run(s) per N, --no-singleton${extra})`,
    '',
    ...scaleTable(rows),
    '',
    `Idle window ${o.idleSeconds} s, from ${o.settleSeconds} s after the full mesh (or after the ${o.timeoutSeconds} s formation deadline). CPU is utime+stime from /proc over the window (robust on a shared machine); bytes/s are the node's own counters (mesh: after framing, handshakes included; the observer's exchanges taken out), read by a hidden observer from every member's status view.`,
    '',
    '| target (issue 10) | result |',
    '| --- | --- |',
    `| idle CPU <= ${t.idleCpuPercent} % of a core per node at every N | ${v(verdicts.idleCpu!)} |`,
    `| RSS <= ${t.rssMb} MB per node at every N | ${v(verdicts.rss!)} |`,
    `| bytes/s per node in, flat in N within x${t.bytesFlatFactor} | ${v(verdicts.bytesInFlat!)} |`,
    `| bytes/s per node out, flat in N within x${t.bytesFlatFactor} | ${v(verdicts.bytesOutFlat!)} |`,
    `| 50 nodes: launch -> full mesh <= ${t.launchToMeshMs / 1000} s | ${o.nodeCounts.includes(50) ? v(verdicts.launchToMesh50!) : 'not run'} |`,
    `| zero handshake timeouts | ${v(verdicts.noHandshakeTimeouts!)} |`,
    `| zero nodedown while idle | ${v(verdicts.noIdleNodedown!)} |`,
    `| every member list identical at the end | ${v(verdicts.viewsIdentical!)} |`,
  ];
  const failed = all.filter((r) => !r.ok);
  if (failed.length) lines.push('', '### Failed runs', '', ...failed.map((r) => `- N=${r.nodes} run ${r.run}: ${r.error?.split('\n')[0]}`));
  lines.push(
    '',
    `Environment: ${env.date}, commit ${env.commit ?? '?'}, Node ${env.node}, ${env.cores} x ${env.cpu ?? '?'}, load average ${env.loadAverageBefore} before / ${env.loadAverageAfter} after.`,
  );
  const markdown = lines.join('\n') + '\n';
  console.log(`\n${markdown}`);
  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/scale-n${o.nodeCounts.join('_')}-h${o.hosts}-${stamp}`;
  writeFileSync(`${base}.json`, JSON.stringify({ benchmark: 'scale', env, options: o, targets: t, rows, verdicts, runs: all }, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown);
  console.log(`results written to ${base}.json and ${base}.md`);
  return failed.length === 0 ? 0 : 1;
}
