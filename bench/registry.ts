// Registry benchmark: how fast the global registry spreads, repairs and heals, and
// what a large registry costs. Every node runs in its own process (bench/registry-worker.ts,
// driven over IPC), listening on 127.0.0.1 with static seeds and mDNS off, with the
// default timings (anti-entropy 1 s, fanout 4). Parts, in the order they run:
// 0. views: N nodes started at once, as a user would; does every node's registry see
//    every connected member? (A replaced duplicate connection can leave it blind.)
// 1. latency: register on one node -> whereis answers on every node (p50/p99); the
//    register() call itself (claim -> confirmed by every member -> won: the
//    claim-to-start latency); and every node registering one name at once (contended).
// 2. repair: one node loses every push of a name's release; time until anti-entropy brings it.
// 3. heal: two clusters each register the same name, a bridging node joins them;
//    time until every node names one holder.
// 4. scale: 100 000 names on one node: its memory, and how long a new node takes to
//    receive them all.
// Parts 1-3 check the registry views after forming their clusters (and form again if a
// view is wrong), so they measure the registry itself, not the formation race of part 0.
// Times cross processes: workers stamp events with performance.timeOrigin + now(), and
// the coordinator measures each worker's offset over IPC round trips and corrects it.
// Invariant: every worker process is ended before the benchmark returns.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_ANTI_ENTROPY_INTERVAL_MS, DEFAULT_REGISTRY_FANOUT } from '../src/registry/sync.js';
import { compareClaims } from '../src/registry/registry.js';
import type { Claim } from '../src/registry/registry.js';
import { clockTicksPerSecond, readCpuTicks } from './proc-stats.js';
import type { CommandName, MemorySample, RepairPath, Traffic, WorkerCommands, WorkerEvent, WorkerReply } from './registry-worker.js';
import { UsageError, gitCommit, intOption, usageText } from './common.js';

/** One-line description for the bench runner's usage. */
export const REGISTRY_SUMMARY = 'registry spread p50/p99, anti-entropy repair, partition heal, 100k names (N node processes on 127.0.0.1)';

/** Targets printed beside the results. */
export const REGISTRY_TARGETS = {
  /** register -> whereis on every node, p99: 10 ms. */
  spreadP99Ms: 10,
  /** A dropped push repaired by anti-entropy: 2 s. */
  repairMs: 2000,
  /** Partition heal -> every node names one holder: 500 ms. */
  healMs: 500,
} as const;

const PARTS = ['views', 'latency', 'repair', 'heal', 'scale'] as const;
type Part = (typeof PARTS)[number];

const USAGE = `usage: npm run bench -- registry [--nodes N] [--registrations R] [--warmup W] [--contended C] [--repair-trials T]
                 [--heal-trials H] [--view-trials V] [--names M] [--join-trials J] [--parts LIST] [--out DIR]
  --nodes N            node processes (default 10; the heal part adds one bridging node)
  --registrations R    timed registrations for the latency part (default 500)
  --warmup W           untimed registrations before them (default 20)
  --contended C        names every node registers at once, one after another (default 50)
  --repair-trials T    dropped-release trials (default 20)
  --heal-trials H      partition-heal trials (default 5)
  --view-trials V      concurrent starts checked by the views part (default 2)
  --names M            names registered on one node for the scale part (default 100000)
  --join-trials J      new nodes that receive the whole registry, one after another (default 3)
  --parts LIST         comma-separated subset of ${PARTS.join(',')} (default all)
  --out DIR            where results are written (default bench/results)`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const WORKER = fileURLToPath(new URL('./registry-worker.ts', import.meta.url));
/** Give up on one registration reaching every node after this long (anti-entropy alone needs <= 1.5 s per round). */
const CONVERGE_TIMEOUT_MS = 10_000;
const MESH_TIMEOUT_MS = 20_000;

interface RegistryOptions {
  nodes: number;
  registrations: number;
  warmup: number;
  contended: number;
  repairTrials: number;
  healTrials: number;
  viewTrials: number;
  names: number;
  joinTrials: number;
  parts: Part[];
  out: string;
  /** The arguments as given, for the report. */
  argv: string[];
}

function parseOptions(argv: string[]): RegistryOptions | string {
  try {
    const v = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        registrations: { type: 'string' },
        warmup: { type: 'string' },
        contended: { type: 'string' },
        'repair-trials': { type: 'string' },
        'heal-trials': { type: 'string' },
        'view-trials': { type: 'string' },
        names: { type: 'string' },
        'join-trials': { type: 'string' },
        parts: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (v.help) return USAGE;
    const nodes = intOption('nodes', v.nodes, 10, 4, 50);
    const registrations = intOption('registrations', v.registrations, 500, 1, 100_000);
    const warmup = intOption('warmup', v.warmup, 20, 0, 10_000);
    const contended = intOption('contended', v.contended, 50, 0, 10_000);
    const repairTrials = intOption('repair-trials', v['repair-trials'], 20, 1, 1000);
    const healTrials = intOption('heal-trials', v['heal-trials'], 5, 1, 100);
    const viewTrials = intOption('view-trials', v['view-trials'], 2, 1, 100);
    const names = intOption('names', v.names, 100_000, 1, 999_999);
    const joinTrials = intOption('join-trials', v['join-trials'], 3, 1, 100);
    let parts: Part[] = [...PARTS];
    if (v.parts !== undefined) {
      const list = v.parts.split(',').map((x) => x.trim()).filter(Boolean);
      const unknown = list.filter((x) => !(PARTS as readonly string[]).includes(x));
      if (unknown.length || list.length === 0) throw new UsageError(`--parts takes a comma-separated subset of ${PARTS.join(',')}, got "${v.parts}"`);
      parts = PARTS.filter((x) => list.includes(x));
    }
    if (joinTrials > nodes) throw new UsageError(`--join-trials must be at most --nodes (${nodes})`);
    return { nodes, registrations, warmup, contended, repairTrials, healTrials, viewTrials, names, joinTrials, parts, out: v.out ?? RESULTS_DIR, argv };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

// ---- statistics ------------------------------------------------------------------

/** Percentiles of a list of numbers (nearest rank). */
export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles; NaN figures for an empty list. */
export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN };
  const s = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { count: s.length, p50: rank(50), p90: rank(90), p99: rank(99), min: s[0]!, max: s.at(-1)!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

// ---- workers ---------------------------------------------------------------------

/** This process's clock in the workers' timebase (wall-based, sub-millisecond). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Anything a worker reported; waiters re-check their condition on each. */
const listeners = new Set<() => void>();

function notify(): void {
  for (const l of [...listeners]) l();
}

/** Resolve once cond() holds, re-checked on every worker event; reject after timeoutMs. */
function waitFor(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what()}: not within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      listeners.delete(check);
    };
    listeners.add(check);
  });
}

/** Poll an asynchronous condition every 25 ms until it holds; reject after timeoutMs. */
async function pollUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(25);
  }
}

interface Seen {
  owner: string | null;
  at: number;
}

/** One worker process and what it reported. */
class Worker {
  nodeName = '';
  port = 0;
  incarnation = '';
  /** Worker clock minus coordinator clock, ms, and its uncertainty (half the best round trip). */
  offsetMs = 0;
  offsetErrMs = Infinity;
  /** 'registered' events per name, in order. */
  readonly seen = new Map<string, Seen[]>();
  nodeups: { peer: string; at: number }[] = [];
  nodedowns: { peer: string; reason: string; at: number }[] = [];
  /** Members this node's events say are up (nodeup minus nodedown): what its registry believes. */
  readonly up = new Set<string>();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited: string | undefined;

  constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (raw: unknown) => this.onMessage(raw));
    child.on('exit', (code, signal) => {
      this.exited = `worker ${index} exited (code ${code}, signal ${signal})`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(this.exited));
      }
      this.pending.clear();
      notify();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Run one command in the worker. */
  call<K extends CommandName>(cmd: K, args: WorkerCommands[K]['args'], timeoutMs = 60_000): Promise<WorkerCommands[K]['result']> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${this.index} (${this.nodeName || 'no node'}): ${cmd} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  /** A worker timestamp in the coordinator's timebase. */
  local(t: number): number {
    return t - this.offsetMs;
  }

  /** Create and start this worker's node; forget earlier observations. */
  async start(name: string, cookie: string, seeds: string[]): Promise<WorkerCommands['start']['result']> {
    this.seen.clear();
    this.nodeups = [];
    this.nodedowns = [];
    this.up.clear();
    const r = await this.call('start', { name, cookie, seeds });
    this.nodeName = name;
    this.port = r.port;
    this.incarnation = r.incarnation;
    return r;
  }

  async stop(): Promise<void> {
    await this.call('stop', {});
    this.nodeName = '';
    this.port = 0;
  }

  /** When this node's whereis(name) first answered owner (worker clock), if it has. */
  firstSeen(name: string, owner: string): number | undefined {
    return this.seen.get(name)?.find((s) => s.owner === owner)?.at;
  }

  /** What this node's whereis(name) answers now, as far as its events tell. */
  current(name: string): string | null | undefined {
    return this.seen.get(name)?.at(-1)?.owner;
  }

  /** Measure the clock offset: keep the round trip with the smallest delay. */
  async calibrate(rounds = 30): Promise<void> {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < rounds; i++) {
      const t1 = nowMs();
      const { at } = await this.call('clock', {});
      const t2 = nowMs();
      if (t2 - t1 < best.rtt) best = { rtt: t2 - t1, offset: at - (t1 + t2) / 2 };
    }
    this.offsetMs = best.offset;
    this.offsetErrMs = best.rtt / 2;
  }

  /** End the process: ask its node to stop, then SIGTERM if it lingers. */
  async end(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGTERM'), 3000);
    await gone;
    clearTimeout(timer);
  }

  private onMessage(raw: unknown): void {
    if (Array.isArray(raw)) {
      for (const e of raw as WorkerEvent[]) this.onEvent(e);
      notify();
      return;
    }
    const r = raw as WorkerReply | WorkerEvent;
    if ('ev' in r) {
      this.onEvent(r);
      notify();
      return;
    }
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.result);
    else p.reject(new Error(`worker ${this.index} (${this.nodeName || 'no node'}): ${r.error}`));
  }

  private onEvent(e: WorkerEvent): void {
    if (e.ev === 'registered') {
      let list = this.seen.get(e.name);
      if (!list) this.seen.set(e.name, (list = []));
      list.push({ owner: e.owner, at: e.at });
    } else if (e.ev === 'nodeup') {
      this.nodeups.push({ peer: e.peer, at: e.at });
      this.up.add(e.peer);
    } else if (e.ev === 'nodedown') {
      this.nodedowns.push({ peer: e.peer, reason: e.reason, at: e.at });
      this.up.delete(e.peer);
    }
  }
}

/** Fork n workers and wait until each has loaded. */
async function spawnWorkers(n: number): Promise<Worker[]> {
  const workers: Worker[] = [];
  const loads: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const child = fork(WORKER, [], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    loads.push(
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${i} did not load within 60 s`)), 60_000);
        child.once('message', () => {
          clearTimeout(timer);
          resolve();
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`worker ${i} exited with code ${code} while loading`));
        });
      }),
    );
    workers.push(new Worker(i, child));
  }
  try {
    await Promise.all(loads);
  } catch (err) {
    await Promise.all(workers.map((w) => w.end()));
    throw err;
  }
  return workers;
}

/**
 * Start one node per worker the way a user would: the first, then all others at once
 * seeded with it (they find each other by gossip); wait for a full mesh.
 */
async function startCluster(group: Worker[], names: string[], cookie: string): Promise<void> {
  const [first, ...rest] = group;
  await first!.start(names[0]!, cookie, []);
  const seed = `127.0.0.1:${first!.port}`;
  await Promise.all(rest.map((w, i) => w.start(names[i + 1]!, cookie, [seed])));
  await waitMesh(group, group.length - 1);
}

/** Whether every node's registry sees the members its mesh has. */
interface RegistryViews {
  /** nodedown events although no node stopped. */
  spuriousNodedowns: number;
  /** (node, peer) pairs connected in the mesh that the node's registry treats as down: it ignores the peer's names. */
  blindPairs: { node: string; peer: string }[];
}

/**
 * Compare each node's nodeup/nodedown history (which is what its RegistrySync was told)
 * with its mesh's members(). They differ when a duplicate connection replaced the active
 * one: the mesh keeps the peer, but closing the old connection emitted a nodedown.
 */
async function registryViews(group: Worker[]): Promise<RegistryViews> {
  const members = await Promise.all(group.map((w) => w.call('members', {})));
  const blindPairs: RegistryViews['blindPairs'] = [];
  for (const [i, w] of group.entries()) for (const peer of members[i]!.members) if (!w.up.has(peer)) blindPairs.push({ node: w.nodeName, peer });
  return { spuriousNodedowns: group.reduce((n, w) => n + w.nodedowns.length, 0), blindPairs };
}

/** Start a cluster and check that every registry sees every member; up to 3 attempts. */
async function startCleanCluster(group: Worker[], names: string[], cookie: string): Promise<{ attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    await startCluster(group, names, cookie);
    const v = await registryViews(group);
    if (v.blindPairs.length === 0) return { attempts: attempt };
    await stopAll(group);
    if (attempt === 3) {
      throw new Error(`3 formations in a row left registries blind to connected members (${v.blindPairs.length} pairs, ${v.spuriousNodedowns} spurious nodedowns)`);
    }
  }
}

async function waitMesh(group: Worker[], others: number): Promise<void> {
  await pollUntil(async () => (await Promise.all(group.map((w) => w.call('members', {})))).every((m) => m.members.length === others), MESH_TIMEOUT_MS, `full mesh of ${group.length} nodes`);
}

async function stopAll(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
}

async function setWatch(workers: Worker[], on: boolean): Promise<void> {
  await Promise.all(workers.map((w) => w.call('watch', { on })));
}

function pickOther<T>(list: readonly T[], not?: T): T {
  const pool = list.filter((x) => x !== not);
  return pool[Math.floor(Math.random() * pool.length)]!;
}

// ---- 0. registry views after a concurrent start ---------------------------------------

interface ViewsTrial {
  spuriousNodedowns: number;
  /** (node, peer) pairs the registry treats as down although connected. */
  blindPairs: number;
  /** Nodes with at least one blind pair. */
  nodesAffected: number;
  /** One name registered on every node at once: (node, name) pairs whose whereis still had no answer after VIEWS_WAIT_MS. */
  unresolved: number;
  /** register() call durations on every node, ms. */
  registerCallMs: number[];
}

const VIEWS_WAIT_MS = 3000;

/** Start N nodes the way a user would (all at once) and check that every registry sees every member. */
async function viewsTrial(ws: Worker[], t: number): Promise<ViewsTrial> {
  await startCluster(ws, ws.map((_, i) => `n${i + 1}@local`), `bench-registry-views-${process.pid}-${t}`);
  await setWatch(ws, true);
  const views = await registryViews(ws);
  const names = ws.map((w) => `views-${t}-${w.nodeName}`);
  const regs = await Promise.all(ws.map((w, i) => w.call('register', { name: names[i]! })));
  const resolved = (): number => ws.reduce((sum, w) => sum + ws.filter((o) => w.firstSeen(`views-${t}-${o.nodeName}`, o.nodeName) !== undefined).length, 0);
  await waitFor(() => resolved() === ws.length * ws.length, VIEWS_WAIT_MS, () => 'every name on every node').catch(() => undefined);
  const unresolved = ws.length * ws.length - resolved();
  await stopAll(ws);
  return {
    spuriousNodedowns: views.spuriousNodedowns,
    blindPairs: views.blindPairs.length,
    nodesAffected: new Set(views.blindPairs.map((p) => p.node)).size,
    unresolved,
    registerCallMs: regs.map((r) => r.doneAt - r.at),
  };
}

// ---- 1. spread latency -------------------------------------------------------------

interface LatencyResult {
  /** register -> whereis answers on every node, ms, per timed registration. */
  everyNodeMs: number[];
  /** register -> whereis answers on one other node, ms, per (registration, node). */
  oneNodeMs: number[];
  /** How long register() itself took on the registering node, ms. */
  registerCallMs: number[];
  /** Timed registrations that reached some node only after 100 ms (so by anti-entropy, not by push). */
  lateRegistrations: number;
  timeouts: number;
  /** CPU used during the timed registrations by the node processes, % of the whole machine (all cores). */
  nodesCpuPercentOfMachine: number;
  /** Same for the coordinator (this process: IPC and bookkeeping). */
  coordinatorCpuPercentOfMachine: number;
  /** Same for every other process on the machine (other work competing for the cores). */
  othersCpuPercentOfMachine: number;
  /** Node CPU time per registration, summed over the nodes, ms. */
  nodesCpuMsPerRegistration: number;
  /** Event-loop delay in the node processes during the timed registrations: the median node's p99, and the worst max, ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Registry messages all nodes sent per timed registration, by kind (includes background anti-entropy). */
  messagesPerRegistration: Record<string, number>;
  /** Every node registers one fresh name at once (IPC calls sent together), per trial. */
  contended: ContendedTrial[];
}

interface ContendedTrial {
  /** Nodes whose register() won (must be 1). */
  winners: number;
  /** The winner's register() call, ms (claim -> confirmed -> won). */
  winnerCallMs: number;
  /** The losers' register() calls, ms. */
  loserCallMs: number[];
}

/** Sum the traffic counters of several nodes (and reset them). */
async function totalTraffic(ws: Worker[], reset: boolean): Promise<Traffic> {
  const all = await Promise.all(ws.map((w) => w.call('traffic', { reset })));
  const sum: Traffic = {};
  for (const t of all) {
    for (const [k, v] of Object.entries(t)) {
      const x = (sum[k] ??= { messages: 0, entries: 0 });
      x.messages += v.messages;
      x.entries += v.entries;
    }
  }
  return sum;
}

/** Busy CPU seconds of the whole machine so far, all cores (/proc/stat: user+nice+system+irq+softirq+steal). */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by the worker processes (from /proc), by this process, and by the whole machine. */
function cpuSeconds(ws: Worker[]): { nodes: number; coordinator: number; machine: number; at: number } {
  let ticks = 0;
  for (const w of ws) ticks += (w.pid !== undefined ? readCpuTicks(w.pid) : undefined) ?? 0;
  const own = process.cpuUsage();
  return { nodes: ticks / clockTicksPerSecond(), coordinator: (own.user + own.system) / 1e6, machine: machineBusySeconds(), at: performance.now() };
}

async function measureLatency(ws: Worker[], o: RegistryOptions): Promise<LatencyResult> {
  await setWatch(ws, true);
  const r: LatencyResult = {
    everyNodeMs: [],
    oneNodeMs: [],
    registerCallMs: [],
    lateRegistrations: 0,
    timeouts: 0,
    nodesCpuPercentOfMachine: NaN,
    coordinatorCpuPercentOfMachine: NaN,
    othersCpuPercentOfMachine: NaN,
    nodesCpuMsPerRegistration: NaN,
    loopDelayP99Ms: NaN,
    loopDelayMaxMs: NaN,
    messagesPerRegistration: {},
    contended: [],
  };
  const total = o.warmup + o.registrations;
  let cpu0 = cpuSeconds(ws);
  for (let i = 0; i < total; i++) {
    if (i === o.warmup) {
      await Promise.all(ws.map((w) => w.call('loopDelay', { reset: true })));
      await totalTraffic(ws, true);
      cpu0 = cpuSeconds(ws);
    }
    const owner = ws[i % ws.length]!;
    const name = `spread-${i}`;
    const reg = await owner.call('register', { name });
    if (!reg.won) throw new Error(`${owner.nodeName} did not win the fresh name ${name}`);
    try {
      await waitFor(() => ws.every((w) => w.firstSeen(name, owner.nodeName) !== undefined), CONVERGE_TIMEOUT_MS, () => `${name} on every node`);
    } catch {
      if (i >= o.warmup) r.timeouts++;
      continue;
    }
    if (i >= o.warmup) {
      const t0 = owner.local(reg.at);
      const per = ws.filter((w) => w !== owner).map((w) => w.local(w.firstSeen(name, owner.nodeName)!) - t0);
      const worst = Math.max(...per);
      r.everyNodeMs.push(worst);
      r.oneNodeMs.push(...per);
      r.registerCallMs.push(reg.doneAt - reg.at);
      if (worst > 100) r.lateRegistrations++;
    }
    for (const w of ws) w.seen.delete(name);
    if ((i + 1) % 100 === 0) process.stdout.write(`  latency: ${i + 1}/${total} registrations\n`);
  }
  const cpu1 = cpuSeconds(ws);
  const loops = await Promise.all(ws.map((w) => w.call('loopDelay', { reset: true })));
  for (const [k, v] of Object.entries(await totalTraffic(ws, true))) r.messagesPerRegistration[k] = v.messages / o.registrations;
  const machine = ((cpu1.at - cpu0.at) / 1000) * cpus().length;
  r.nodesCpuPercentOfMachine = (100 * (cpu1.nodes - cpu0.nodes)) / machine;
  r.coordinatorCpuPercentOfMachine = (100 * (cpu1.coordinator - cpu0.coordinator)) / machine;
  r.othersCpuPercentOfMachine = Math.max(0, (100 * (cpu1.machine - cpu0.machine)) / machine - r.nodesCpuPercentOfMachine - r.coordinatorCpuPercentOfMachine);
  r.nodesCpuMsPerRegistration = (1000 * (cpu1.nodes - cpu0.nodes)) / o.registrations;
  r.loopDelayP99Ms = distribution(loops.map((l) => l.p99Ms)).p50;
  r.loopDelayMaxMs = Math.max(...loops.map((l) => l.maxMs));
  for (let i = 0; i < o.contended; i++) {
    const name = `contended-${i}`;
    const regs = await Promise.all(ws.map((w) => w.call('register', { name })));
    const winners = regs.filter((x) => x.won);
    const winner = winners[0];
    r.contended.push({
      winners: winners.length,
      winnerCallMs: winner ? winner.doneAt - winner.at : NaN,
      loserCallMs: regs.filter((x) => !x.won).map((x) => x.doneAt - x.at),
    });
    await waitFor(() => ws.every((w) => winner !== undefined && w.firstSeen(name, winner.owner) !== undefined), CONVERGE_TIMEOUT_MS, () => `${name} on every node`).catch(() => undefined);
    for (const w of ws) w.seen.delete(name);
  }
  return r;
}

// ---- 2. anti-entropy repair ----------------------------------------------------------

interface RepairTrial {
  victim: string;
  owner: string;
  /** unregister on owner -> the victim's whereis answers nobody, ms. */
  repairMs: number;
  /** unregister -> whereis answers nobody on every other node, ms (the pushes the victim lost). */
  othersMs: number;
  /** Deltas carrying the name the victim discarded (pushes and forwards). */
  dropped: number;
  path: RepairPath | null;
}

/** When this node's whereis(name) first answered nobody after answering owner (worker clock), if it has. */
function firstGone(w: Worker, name: string, owner: string): number | undefined {
  const list = w.seen.get(name) ?? [];
  const held = list.findIndex((s) => s.owner === owner);
  if (held < 0) return undefined;
  return list.slice(held + 1).find((s) => s.owner === null)?.at;
}

/**
 * A lost update repaired by anti-entropy. The name is registered normally first (a claim
 * is confirmed by every member before it counts, so a member that never saw the claim
 * would refuse it: there would be nothing to repair). Then the victim loses every push
 * and forward of the owner's release of it, and only anti-entropy can tell it the name is free.
 */
async function measureRepair(ws: Worker[], o: RegistryOptions): Promise<{ trials: RepairTrial[]; timeouts: number }> {
  await setWatch(ws, true);
  const trials: RepairTrial[] = [];
  let timeouts = 0;
  for (let t = 0; t < o.repairTrials; t++) {
    const victim = pickOther(ws);
    const owner = pickOther(ws, victim);
    const name = `repair-${t}`;
    const reg = await owner.call('register', { name });
    if (!reg.won) throw new Error(`${owner.nodeName} could not register ${name}`);
    await waitFor(() => ws.every((w) => w.firstSeen(name, owner.nodeName) !== undefined), CONVERGE_TIMEOUT_MS, () => `${name} on every node`);
    await victim.call('drop', { name });
    const un = await owner.call('unregister', { name });
    if (!un.released) throw new Error(`${owner.nodeName} did not hold ${name}`);
    try {
      await waitFor(() => ws.every((w) => firstGone(w, name, owner.nodeName) !== undefined), CONVERGE_TIMEOUT_MS, () => `${name} freed on ${victim.nodeName}`);
    } catch {
      timeouts++;
      await victim.call('dropStatus', { name });
      continue;
    }
    const st = await victim.call('dropStatus', { name });
    const t0 = owner.local(un.at);
    const others = ws.filter((w) => w !== owner && w !== victim).map((w) => w.local(firstGone(w, name, owner.nodeName)!) - t0);
    trials.push({
      victim: victim.nodeName,
      owner: owner.nodeName,
      repairMs: victim.local(firstGone(victim, name, owner.nodeName)!) - t0,
      othersMs: Math.max(...others),
      dropped: st.dropped,
      path: st.path,
    });
    const last = trials.at(-1)!;
    process.stdout.write(`  repair ${t + 1}/${o.repairTrials}: ${Math.round(last.repairMs)} ms (${last.dropped} pushes dropped, via ${last.path})\n`);
    for (const w of ws) w.seen.delete(name);
    // Decorrelate the next release from the anti-entropy round that just ran.
    await delay(Math.random() * 300);
  }
  return { trials, timeouts };
}

// ---- 3. partition heal ------------------------------------------------------------------

interface HealTrial {
  winner: string;
  loser: string;
  /** Every node named the winner within HEAL_TIMEOUT_MS. */
  agreed: boolean;
  /** Nodes still naming someone else at the deadline. */
  disagreeing: string[];
  /** The bridge's nodeups with both sides -> every node names the winner, ms. */
  healToAgreeMs?: number;
  /** Same start -> every node has had nodeup with every other (the mesh, for context), ms. */
  healToMeshMs: number;
  /** Bridge start() called -> bridge connected to both sides, ms. */
  bridgeStartToHealMs: number;
  /** For each node that switched holder: its nodeup with the winner -> its switch, ms. */
  nodeupToSwitchMs: number[];
  /** Registry views after the heal (see registryViews). */
  spuriousNodedowns: number;
  blindPairs: number;
}

/** How long the heal part waits for agreement once the bridge is up. */
const HEAL_TIMEOUT_MS = 5000;

async function healTrial(ws: Worker[], t: number): Promise<HealTrial> {
  const n = ws.length - 1;
  const half = Math.floor(n / 2);
  const a = ws.slice(0, half);
  const b = ws.slice(half, n);
  const bridge = ws[n]!;
  const cookie = `bench-registry-heal-${process.pid}-${t}`;
  await Promise.all([
    startCleanCluster(a, a.map((_, i) => `a${i + 1}@local`), cookie),
    startCleanCluster(b, b.map((_, i) => `b${i + 1}@local`), cookie),
  ]);
  await setWatch(ws, true);
  const name = `contested-${t}`;
  const [firstSide, secondSide] = t % 2 === 0 ? [a, b] : [b, a];
  const h1 = pickOther(firstSide);
  const h2 = pickOther(secondSide);
  const r1 = await h1.call('register', { name });
  const r2 = await h2.call('register', { name });
  if (!r1.won || !r2.won) throw new Error(`both sides should win ${name} while apart: ${r1.won}, ${r2.won}`);
  await waitFor(
    () => firstSide.every((w) => w.current(name) === h1.nodeName) && secondSide.every((w) => w.current(name) === h2.nodeName),
    CONVERGE_TIMEOUT_MS,
    () => `${name} on each side`,
  );
  const claim = (r: WorkerCommands['register']['result']): Claim => ({ name, owner: r.owner, incarnation: r.incarnation, stamp: r.stamp, version: 0 });
  const [winner, loser] = compareClaims(claim(r1), claim(r2)) < 0 ? [h1, h2] : [h2, h1];

  const all = [...a, ...b, bridge];
  const bridgeCall = nowMs();
  await bridge.start('bridge@local', cookie, [`127.0.0.1:${a[0]!.port}`, `127.0.0.1:${b[0]!.port}`]);
  let agreed = true;
  try {
    await waitFor(() => all.every((w) => w.current(name) === winner.nodeName), HEAL_TIMEOUT_MS, () => `every node naming ${winner.nodeName} for ${name}`);
  } catch {
    agreed = false;
  }
  await waitMesh(all, all.length - 1);
  const owners = await Promise.all(all.map((w) => w.call('whereis', { names: [name] })));
  const disagreeing = all.filter((_, i) => owners[i]!.owners[0] !== winner.nodeName).map((w) => w.nodeName);
  if (agreed && disagreeing.length) throw new Error(`events said every node names ${winner.nodeName}, but whereis on ${disagreeing.join(', ')} does not`);
  const views = await registryViews(all);

  const aNames = new Set(a.map((w) => w.nodeName));
  const bNames = new Set(b.map((w) => w.nodeName));
  const firstUp = (side: Set<string>): number => {
    const up = bridge.nodeups.find((u) => side.has(u.peer));
    if (!up) throw new Error('the bridge never connected to one side');
    return bridge.local(up.at);
  };
  const healAt = Math.max(firstUp(aNames), firstUp(bNames));
  let agreeAt = healAt;
  const nodeupToSwitchMs: number[] = [];
  for (const w of all) {
    const list = w.seen.get(name) ?? [];
    const last = list.at(-1);
    if (!last || last.owner !== winner.nodeName) continue;
    // Nodes on the winner's side named it all along (one event, before the heal); everyone else switched.
    const switched = w === bridge || list.length > 1;
    if (!switched) continue;
    agreeAt = Math.max(agreeAt, w.local(last.at));
    const up = w.nodeups.find((u) => u.peer === winner.nodeName);
    if (up) nodeupToSwitchMs.push(last.at - up.at);
  }
  let meshAt = healAt;
  for (const w of all) {
    const others = new Set(all.filter((x) => x !== w).map((x) => x.nodeName));
    for (const u of w.nodeups) {
      others.delete(u.peer);
      if (others.size === 0) {
        meshAt = Math.max(meshAt, w.local(u.at));
        break;
      }
    }
  }
  const winnerName = winner.nodeName;
  const loserName = loser.nodeName;
  await stopAll(all);
  return {
    winner: winnerName,
    loser: loserName,
    agreed,
    disagreeing,
    ...(agreed ? { healToAgreeMs: agreeAt - healAt } : {}),
    healToMeshMs: meshAt - healAt,
    bridgeStartToHealMs: healAt - bridgeCall,
    nodeupToSwitchMs,
    spuriousNodedowns: views.spuriousNodedowns,
    blindPairs: views.blindPairs.length,
  };
}

// ---- 4. scale ----------------------------------------------------------------------------

interface JoinTrial {
  /** The new node's start() -> registered events for every name, ms. */
  startToAllMs: number;
  /** Its first nodeup -> every name, ms. */
  nodeupToAllMs: number;
  /** registered().length when done. */
  registered: number;
  /** Memory of the new node's process after receiving, minus before its node was created. */
  rssDeltaBytes: number;
  heapDeltaBytes: number;
  /** Longest event-loop stall of the holder while the new node joined, ms. */
  holderMaxLoopDelayMs: number;
  /** Delta entries the holder sent to the new node (the registry is `names` entries). */
  holderEntriesSent: number;
  holderDeltaMessages: number;
}

interface ScaleResult {
  names: number;
  registerAllMs: number;
  /** The holder process: before its node existed, with an idle empty node, with every name. */
  holderBefore: MemorySample;
  holderIdle: MemorySample;
  holderFull: MemorySample;
  joins: JoinTrial[];
}

async function measureScale(ws: Worker[], o: RegistryOptions): Promise<ScaleResult> {
  const holder = ws[0]!;
  const cookie = `bench-registry-scale-${process.pid}`;
  await setWatch(ws, false);
  const holderBefore = await holder.call('mem', { gc: true });
  await holder.start('holder@local', cookie, []);
  const holderIdle = await holder.call('mem', { gc: true });
  const reg = await holder.call('registerMany', { prefix: 'service-', count: o.names }, 600_000);
  if (reg.won !== o.names) throw new Error(`the holder won ${reg.won} of ${o.names} fresh names`);
  const holderFull = await holder.call('mem', { gc: true });
  process.stdout.write(`  scale: ${o.names} names registered on one node in ${Math.round(reg.ms)} ms\n`);
  const joins: JoinTrial[] = [];
  for (let j = 1; j <= o.joinTrials; j++) {
    const w = ws[j]!;
    const before = await w.call('mem', { gc: true });
    await holder.call('loopDelay', { reset: true });
    await holder.call('traffic', { reset: true });
    const s = await w.start(`joiner${j}@local`, cookie, [`127.0.0.1:${holder.port}`]);
    const done = await w.call('waitCount', { count: o.names, timeoutMs: 300_000 }, 310_000);
    const loop = await holder.call('loopDelay', { reset: false });
    if (done.at === null || done.firstNodeupAt === null) throw new Error(`joiner${j} received ${done.events} of ${o.names} names within 300 s`);
    const counts = await w.call('counts', {});
    // Let whatever the holder still sends to the new node go out before counting it.
    let sent = await holder.call('traffic', { reset: false });
    for (;;) {
      await delay(200);
      const again = await holder.call('traffic', { reset: false });
      if (JSON.stringify(again) === JSON.stringify(sent)) break;
      sent = again;
    }
    const after = await w.call('mem', { gc: true });
    joins.push({
      startToAllMs: done.at - s.startAt,
      nodeupToAllMs: done.at - done.firstNodeupAt,
      registered: counts.registered,
      rssDeltaBytes: after.rss - before.rss,
      heapDeltaBytes: after.heapUsed - before.heapUsed,
      holderMaxLoopDelayMs: loop.maxMs,
      holderEntriesSent: sent.delta?.entries ?? 0,
      holderDeltaMessages: sent.delta?.messages ?? 0,
    });
    const last = joins.at(-1)!;
    process.stdout.write(`  scale: joiner${j} had all ${last.registered} names ${Math.round(last.startToAllMs)} ms after start (holder stalled up to ${Math.round(last.holderMaxLoopDelayMs)} ms)\n`);
    await w.stop();
  }
  await holder.stop();
  return { names: o.names, registerAllMs: reg.ms, holderBefore, holderIdle, holderFull, joins };
}

// ---- report ------------------------------------------------------------------------------

const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '-' : v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);
const mb = (bytes: number): string => (Math.abs(bytes) < 1024 * 1024 ? `${Math.round(bytes / 1024)} kB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`);
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
const defined = (values: readonly (number | undefined)[]): number[] => values.filter((v): v is number => v !== undefined);

/** The commit, with '+modified' when src/ differs from it (what was measured is the working tree). */
interface Results {
  views?: ViewsTrial[];
  /** Formations parts 1-2 needed for a cluster whose registries see every member. */
  formationAttempts?: number;
  latency?: LatencyResult;
  repair?: { trials: RepairTrial[]; timeouts: number };
  heal?: HealTrial[];
  scale?: ScaleResult;
  errors: { part: Part; error: string }[];
}

function summarizeResults(r: Results): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  if (r.views) {
    s.views = {
      spuriousNodedowns: distribution(r.views.map((t) => t.spuriousNodedowns)),
      blindPairs: distribution(r.views.map((t) => t.blindPairs)),
      nodesAffected: distribution(r.views.map((t) => t.nodesAffected)),
      unresolved: distribution(r.views.map((t) => t.unresolved)),
      registerCallMs: distribution(r.views.flatMap((t) => t.registerCallMs)),
    };
  }
  if (r.latency) {
    s.latency = {
      formationAttempts: r.formationAttempts,
      everyNodeMs: distribution(r.latency.everyNodeMs),
      oneNodeMs: distribution(r.latency.oneNodeMs),
      registerCallMs: distribution(r.latency.registerCallMs),
      contendedWinnerCallMs: distribution(r.latency.contended.map((t) => t.winnerCallMs)),
      contendedLoserCallMs: distribution(r.latency.contended.flatMap((t) => t.loserCallMs)),
      contendedWinners: r.latency.contended.map((t) => t.winners),
      pushOnlyEveryNodeMs: distribution(r.latency.everyNodeMs.filter((x) => x <= 100)),
      lateRegistrations: r.latency.lateRegistrations,
      timeouts: r.latency.timeouts,
      nodesCpuPercentOfMachine: r.latency.nodesCpuPercentOfMachine,
      coordinatorCpuPercentOfMachine: r.latency.coordinatorCpuPercentOfMachine,
      othersCpuPercentOfMachine: r.latency.othersCpuPercentOfMachine,
      nodesCpuMsPerRegistration: r.latency.nodesCpuMsPerRegistration,
      loopDelayP99Ms: r.latency.loopDelayP99Ms,
      loopDelayMaxMs: r.latency.loopDelayMaxMs,
      messagesPerRegistration: r.latency.messagesPerRegistration,
    };
  }
  if (r.repair) {
    const paths: Record<string, number> = {};
    for (const t of r.repair.trials) paths[t.path ?? 'none'] = (paths[t.path ?? 'none'] ?? 0) + 1;
    s.repair = {
      repairMs: distribution(r.repair.trials.map((t) => t.repairMs)),
      othersMs: distribution(r.repair.trials.map((t) => t.othersMs)),
      dropped: distribution(r.repair.trials.map((t) => t.dropped)),
      paths,
      timeouts: r.repair.timeouts,
    };
  }
  if (r.heal) {
    s.heal = {
      trials: r.heal.length,
      agreed: r.heal.filter((t) => t.agreed).length,
      healToAgreeMs: distribution(defined(r.heal.map((t) => t.healToAgreeMs))),
      healToMeshMs: distribution(r.heal.map((t) => t.healToMeshMs)),
      bridgeStartToHealMs: distribution(r.heal.map((t) => t.bridgeStartToHealMs)),
      nodeupToSwitchMs: distribution(r.heal.flatMap((t) => t.nodeupToSwitchMs)),
      spuriousNodedowns: distribution(r.heal.map((t) => t.spuriousNodedowns)),
      blindPairs: distribution(r.heal.map((t) => t.blindPairs)),
    };
  }
  if (r.scale) {
    const sc = r.scale;
    s.scale = {
      names: sc.names,
      registerAllMs: sc.registerAllMs,
      holderRssDeltaBytes: sc.holderFull.rss - sc.holderIdle.rss,
      holderHeapDeltaBytes: sc.holderFull.heapUsed - sc.holderIdle.heapUsed,
      emptyNodeRssBytes: sc.holderIdle.rss - sc.holderBefore.rss,
      emptyNodeHeapBytes: sc.holderIdle.heapUsed - sc.holderBefore.heapUsed,
      startToAllMs: distribution(sc.joins.map((j) => j.startToAllMs)),
      nodeupToAllMs: distribution(sc.joins.map((j) => j.nodeupToAllMs)),
      joinerRssDeltaBytes: distribution(sc.joins.map((j) => j.rssDeltaBytes)),
      joinerHeapDeltaBytes: distribution(sc.joins.map((j) => j.heapDeltaBytes)),
      holderMaxLoopDelayMs: distribution(sc.joins.map((j) => j.holderMaxLoopDelayMs)),
      holderEntriesSentPerJoin: distribution(sc.joins.map((j) => j.holderEntriesSent)),
    };
  }
  return s;
}

interface ClockCheck {
  /** Largest |worker clock - coordinator clock| measured, ms. */
  maxOffsetMs: number;
  /** Largest uncertainty of a measured offset (half the best IPC round trip), ms. */
  maxErrMs: number;
}

function markdown(o: RegistryOptions, r: Results, env: Record<string, unknown>, clock: ClockCheck | undefined): { text: string; verdicts: Record<string, boolean> } {
  const t = REGISTRY_TARGETS;
  const verdicts: Record<string, boolean> = {};
  const note = o.nodes === 10 ? '' : ` (target is for N=10)`;
  const lines = [
    `## Registry benchmark: ${o.nodes} nodes, one process each, default timings (anti-entropy ${DEFAULT_ANTI_ENTROPY_INTERVAL_MS} ms, fanout ${DEFAULT_REGISTRY_FANOUT})`,
    '',
    '| measure | result | target |',
    '| --- | --- | --- |',
  ];
  if (r.views) {
    const blind = distribution(r.views.map((x) => x.blindPairs));
    const downs = distribution(r.views.map((x) => x.spuriousNodedowns));
    const affected = distribution(r.views.map((x) => x.nodesAffected));
    const unresolved = distribution(r.views.map((x) => x.unresolved));
    const call = distribution(r.views.flatMap((x) => x.registerCallMs));
    verdicts.views = blind.max === 0 && unresolved.max === 0;
    lines.push(
      `| 0. ${o.nodes} nodes started at once: (node, connected member) pairs whose registry treats the member as down (${r.views.length} starts) | median ${blind.p50} of ${o.nodes * (o.nodes - 1)}, max ${blind.max}; nodes affected median ${affected.p50}; nodedown events although no node stopped: median ${downs.p50} | 0: ${verdict(verdicts.views)} |`,
      `| ... then one name registered on every node: (node, name) pairs still unresolved after ${VIEWS_WAIT_MS / 1000} s; register() call | median ${unresolved.p50} of ${o.nodes * o.nodes}, max ${unresolved.max}; register() p50 ${ms(call.p50)}, max ${ms(call.max)} | - |`,
    );
  }
  if (r.latency) {
    const every = distribution(r.latency.everyNodeMs);
    const one = distribution(r.latency.oneNodeMs);
    const call = distribution(r.latency.registerCallMs);
    const pushOnly = distribution(r.latency.everyNodeMs.filter((x) => x <= 100));
    verdicts.spreadP99 = every.p99 <= t.spreadP99Ms && r.latency.timeouts === 0;
    lines.push(
      `| 1. register -> whereis answers on **every** node (${every.count} registrations, round-robin owner) | p50 ${ms(every.p50)}, p90 ${ms(every.p90)}, **p99 ${ms(every.p99)}**, max ${ms(every.max)} | p99 <= ${t.spreadP99Ms} ms${note}: ${verdict(verdicts.spreadP99)} |`,
      `| ... on one other node (${one.count} deliveries) | p50 ${ms(one.p50)}, p90 ${ms(one.p90)}, p99 ${ms(one.p99)}, max ${ms(one.max)} | - |`,
      `| ... registrations some node got only after 100 ms (every push missed it; anti-entropy brought it) | ${r.latency.lateRegistrations} of ${every.count} (${((100 * r.latency.lateRegistrations) / Math.max(1, every.count)).toFixed(1)} %); ${r.latency.timeouts} never arrived within ${CONVERGE_TIMEOUT_MS / 1000} s | - |`,
      `| ... excluding those: push alone (${pushOnly.count} registrations) | p50 ${ms(pushOnly.p50)}, p90 ${ms(pushOnly.p90)}, p99 ${ms(pushOnly.p99)}, max ${ms(pushOnly.max)} | - |`,
      `| ... register() call on the registering node: claim -> confirmed by all ${o.nodes - 1} members -> won (claim-to-start) | p50 ${ms(call.p50)}, p90 ${ms(call.p90)}, **p99 ${ms(call.p99)}**, max ${ms(call.max)} | - |`,
      `| ... CPU while registering, % of all ${cpus().length} cores: node processes / coordinator / other processes on the machine; node CPU per registration (all nodes) | ${r.latency.nodesCpuPercentOfMachine.toFixed(0)} % / ${r.latency.coordinatorCpuPercentOfMachine.toFixed(0)} % / ${r.latency.othersCpuPercentOfMachine.toFixed(0)} %; ${r.latency.nodesCpuMsPerRegistration.toFixed(1)} ms | - |`,
      `| ... event-loop delay inside the nodes meanwhile: median node's p99; worst max | ${ms(r.latency.loopDelayP99Ms)}; ${ms(r.latency.loopDelayMaxMs)} | - |`,
      `| ... registry messages sent per registration, all nodes (deltas; digests and other background) | ${(r.latency.messagesPerRegistration.delta ?? 0).toFixed(1)} deltas (${o.nodes - 1} would reach everyone once); ${Object.entries(r.latency.messagesPerRegistration).filter(([k]) => k !== 'delta').map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') || 'none'} | - |`,
    );
    if (r.latency.contended.length) {
      const c = r.latency.contended;
      const win = distribution(c.map((x) => x.winnerCallMs));
      const lose = distribution(c.flatMap((x) => x.loserCallMs));
      verdicts.contendedOneWinner = c.every((x) => x.winners === 1);
      lines.push(
        `| 1b. all ${o.nodes} nodes register one fresh name at once (${c.length} names): winners per name | ${[...new Set(c.map((x) => x.winners))].sort().join(', ')} | exactly 1: ${verdict(verdicts.contendedOneWinner)} |`,
        `| ... the winner's register() call (claim-to-start under contention) | p50 ${ms(win.p50)}, p90 ${ms(win.p90)}, **p99 ${ms(win.p99)}**, max ${ms(win.max)} | - |`,
        `| ... the losers' register() calls (until they know the holder) | p50 ${ms(lose.p50)}, p99 ${ms(lose.p99)}, max ${ms(lose.max)} | - |`,
      );
    }
  }
  if (r.repair) {
    const rep = distribution(r.repair.trials.map((x) => x.repairMs));
    const others = distribution(r.repair.trials.map((x) => x.othersMs));
    const dropped = distribution(r.repair.trials.map((x) => x.dropped));
    const own = r.repair.trials.filter((x) => x.path === 'own-round').length;
    verdicts.repair = rep.max <= t.repairMs && r.repair.timeouts === 0 && rep.count > 0;
    lines.push(
      `| 2. dropped release repaired by anti-entropy: unregister -> whereis answers nobody on the node that lost every push and forward of the release (${rep.count} trials) | median ${ms(rep.p50)}, p90 ${ms(rep.p90)}, **max ${ms(rep.max)}** (min ${ms(rep.min)}) | <= ${t.repairMs} ms: ${verdict(verdicts.repair)} |`,
      `| ... pushes/forwards discarded per trial; repaired in the victim's own round / a peer's round | median ${dropped.p50}, max ${dropped.max}; ${own} / ${rep.count - own}; ${r.repair.timeouts} never repaired | - |`,
      `| ... meanwhile every other node had it by push | median ${ms(others.p50)}, max ${ms(others.max)} | - |`,
    );
  }
  if (r.heal) {
    const agreedTrials = r.heal.filter((x) => x.agreed);
    const agree = distribution(defined(r.heal.map((x) => x.healToAgreeMs)));
    const mesh = distribution(r.heal.map((x) => x.healToMeshMs));
    const sw = distribution(r.heal.flatMap((x) => x.nodeupToSwitchMs));
    const bridge = distribution(r.heal.map((x) => x.bridgeStartToHealMs));
    const blind = distribution(r.heal.map((x) => x.blindPairs));
    const half = Math.floor(o.nodes / 2);
    verdicts.heal = agreedTrials.length === r.heal.length && agree.max <= t.healMs;
    lines.push(
      `| 3. partition heal: two sides (${half} + ${o.nodes - half} nodes) each hold the name; from the bridge node being connected to both sides -> all ${o.nodes + 1} nodes name one holder | ${agreedTrials.length} of ${r.heal.length} trials agreed within ${HEAL_TIMEOUT_MS / 1000} s; of those median ${ms(agree.p50)}, **max ${ms(agree.max)}** (min ${ms(agree.min)}) | <= ${t.healMs} ms, every trial: ${verdict(verdicts.heal)} |`,
      `| ... of which the mesh: bridge connected to both -> every node has had nodeup with every other | median ${ms(mesh.p50)}, max ${ms(mesh.max)} | - |`,
      `| ... the registry alone: a node's nodeup with the winning holder -> its whereis switches (${sw.count} nodes) | median ${ms(sw.p50)}, p99 ${ms(sw.p99)}, max ${ms(sw.max)} | - |`,
      `| ... after the heal, (node, member) pairs whose registry treats the connected member as down | median ${blind.p50}, max ${blind.max} | - |`,
      `| ... bridge start() -> connected to both sides (not counted above) | median ${ms(bridge.p50)}, max ${ms(bridge.max)} | - |`,
    );
  }
  if (r.scale) {
    const sc = r.scale;
    const perName = (bytes: number): string => `${Math.round(bytes / sc.names)} B/name`;
    const hr = sc.holderFull.rss - sc.holderIdle.rss;
    const hh = sc.holderFull.heapUsed - sc.holderIdle.heapUsed;
    const start = distribution(sc.joins.map((j) => j.startToAllMs));
    const up = distribution(sc.joins.map((j) => j.nodeupToAllMs));
    const jr = distribution(sc.joins.map((j) => j.rssDeltaBytes)).p50;
    const jh = distribution(sc.joins.map((j) => j.heapDeltaBytes)).p50;
    const emptyHeap = sc.holderIdle.heapUsed - sc.holderBefore.heapUsed;
    const stall = distribution(sc.joins.map((j) => j.holderMaxLoopDelayMs));
    const sentEntries = distribution(sc.joins.map((j) => j.holderEntriesSent));
    const sentMessages = distribution(sc.joins.map((j) => j.holderDeltaMessages));
    lines.push(
      `| 4. ${sc.names} names registered one after another on a lone node | ${ms(sc.registerAllMs)} (${((1000 * sc.registerAllMs) / sc.names).toFixed(1)} µs/name) | - |`,
      `| ... memory of the holder, full vs. the same node empty (after GC) | RSS +${mb(hr)} (${perName(hr)}), heap +${mb(hh)} (${perName(hh)}); RSS ${mb(sc.holderFull.rss)} in all | - |`,
      `| ... a new node receives the whole registry: its start() -> registered().length = ${sc.names} (${start.count} joins) | median ${ms(start.p50)}, max ${ms(start.max)} | - |`,
      `| ... from its nodeup | median ${ms(up.p50)}, max ${ms(up.max)} | - |`,
      `| ... memory of the new node, after vs. before it was created (after GC; an empty node is ${mb(emptyHeap)} of heap) | RSS +${mb(jr)}, heap +${mb(jh)} (${perName(jh - emptyHeap)} net of the empty node) | - |`,
      `| ... longest event-loop stall of the holder while a new node joins | median ${ms(stall.p50)}, max ${ms(stall.max)} | - |`,
      `| ... delta entries the holder sent to each new node (in messages) | median ${sentEntries.p50} in ${sentMessages.p50} (${(sentEntries.p50 / sc.names).toFixed(2)} x the registry) | - |`,
    );
  }
  if (r.formationAttempts !== undefined) {
    lines.push('', `Parts 1-2 ran on a cluster checked after formation: every registry saw every member (${r.formationAttempts} formation${r.formationAttempts === 1 ? '' : 's'} needed). Part 3 checks each side the same way before the heal.`);
  }
  if (clock) {
    lines.push('', `Timing: every node is its own process; events are stamped in the node's process (performance.timeOrigin + performance.now()) and corrected by each process's measured clock offset (largest ${clock.maxOffsetMs.toFixed(3)} ms, each known to within ±${clock.maxErrMs.toFixed(3)} ms).`);
  }
  if (r.errors.length) lines.push('', '### Parts that did not complete', '', ...r.errors.map((e) => `- ${e.part}: ${e.error.split('\n')[0]}`));
  lines.push('', `Environment: ${String(env.date)}, commit ${String(env.commit ?? '?')}, Node ${String(env.node)}, ${String(env.cores)} x ${String(env.cpu ?? '?')}, load average ${String(env.loadAverageAtStart)} at start, ${String(env.totalSeconds)} s in all. Command: \`npm run bench -- registry${o.argv.length ? ' ' + o.argv.join(' ') : ''}\`.`);
  return { text: lines.join('\n') + '\n', verdicts };
}

/** Run the registry benchmark with command-line arguments (after "registry"); resolves with the exit code. */
export async function runRegistry(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  if (typeof o === 'string') {
    const isHelp = o === USAGE;
    (isHelp ? process.stdout : process.stderr).write(`${o}\n`);
    return isHelp ? 0 : 2;
  }
  const wanted = (p: Part): boolean => o.parts.includes(p);
  const workerCount = wanted('heal') ? o.nodes + 1 : o.nodes;
  console.log(`registry: ${o.nodes} nodes, parts ${o.parts.join(', ')}; forking ${workerCount} node processes`);
  const t0 = performance.now();
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  if (loadAtStart[0]! > cpus().length) console.log(`  note: load average ${loadAtStart[0]} on ${cpus().length} cores already; other work will inflate the latency rows`);
  const ws = await spawnWorkers(workerCount);
  const results: Results = { errors: [] };
  let clock: ClockCheck | undefined;
  const calibrate = async (): Promise<void> => {
    for (const w of ws) await w.calibrate();
    const maxOffsetMs = Math.max(...ws.map((w) => Math.abs(w.offsetMs)));
    const maxErrMs = Math.max(...ws.map((w) => w.offsetErrMs));
    clock = { maxOffsetMs: Math.max(clock?.maxOffsetMs ?? 0, maxOffsetMs), maxErrMs: Math.max(clock?.maxErrMs ?? 0, maxErrMs) };
  };
  const part = async (p: Part, run: () => Promise<void>): Promise<void> => {
    if (!wanted(p)) return;
    const start = performance.now();
    try {
      await run();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results.errors.push({ part: p, error: message });
      console.log(`  ${p}: FAILED: ${message}`);
      await stopAll(ws).catch(() => undefined);
    }
    console.log(`  ${p}: done in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  };
  const cluster = ws.slice(0, o.nodes);
  const clusterNames = cluster.map((_, i) => `n${i + 1}@local`);
  try {
    await part('views', async () => {
      results.views = [];
      for (let t = 0; t < o.viewTrials; t++) {
        const v = await viewsTrial(cluster, t);
        results.views.push(v);
        console.log(`  views ${t + 1}/${o.viewTrials}: ${v.blindPairs} blind (node, member) pairs on ${v.nodesAffected} nodes, ${v.spuriousNodedowns} spurious nodedowns, ${v.unresolved} unresolved names`);
      }
    });
    if (wanted('latency') || wanted('repair')) {
      let formError: string | undefined;
      try {
        await calibrate();
        results.formationAttempts = (await startCleanCluster(cluster, clusterNames, `bench-registry-${process.pid}`)).attempts;
      } catch (err) {
        formError = `could not form the cluster: ${err instanceof Error ? err.message : String(err)}`;
        console.log(`  ${formError}`);
      }
      for (const p of ['latency', 'repair'] as const) if (formError && wanted(p)) results.errors.push({ part: p, error: formError });
      if (!formError) {
        await part('latency', async () => {
          results.latency = await measureLatency(cluster, o);
        });
        await part('repair', async () => {
          results.repair = await measureRepair(cluster, o);
        });
      }
      await stopAll(cluster).catch(() => undefined);
    }
    await part('heal', async () => {
      await calibrate();
      results.heal = [];
      for (let t = 0; t < o.healTrials; t++) {
        const h = await healTrial(ws, t);
        results.heal.push(h);
        console.log(
          `  heal ${t + 1}/${o.healTrials}: ` +
            (h.agreed ? `agreement ${Math.round(h.healToAgreeMs!)} ms after the bridge joined both sides` : `NO agreement within ${HEAL_TIMEOUT_MS / 1000} s (${h.disagreeing.join(', ')} disagree)`) +
            ` (mesh ${Math.round(h.healToMeshMs)} ms, ${h.blindPairs} blind pairs), ${h.winner} beat ${h.loser}`,
        );
      }
    });
    await part('scale', async () => {
      results.scale = await measureScale(ws, o);
    });
  } finally {
    await Promise.all(ws.map((w) => w.end()));
  }

  const env = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    totalSeconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  const { text, verdicts } = markdown(o, results, env, clock);
  console.log(`\n${text}`);
  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/registry-n${o.nodes}-${stamp}`;
  const json = { benchmark: 'registry', env, options: o, targets: REGISTRY_TARGETS, clock, summary: summarizeResults(results), verdicts, errors: results.errors, raw: results };
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(`${base}.md`, text);
  console.log(`results written to ${base}.json and ${base}.md`);
  const incomplete = results.errors.length > 0 || (results.latency?.timeouts ?? 0) > 0 || (results.repair?.timeouts ?? 0) > 0;
  return incomplete ? 1 : 0;
}
