// Formation benchmark: how fast N freshly started nodes (one per host of a virtual
// LAN, real mDNS, the built CLI) become a full mesh, and what an idle node costs.
// Per run: spawn N processes at once; wait for every `node ready` log (Node startup,
// reported separately); then time until every node's printed list holds all the
// others (what a user sees; the Printer ticks once a second) and until every node
// has logged `nodeup` for all the others (the mesh itself, no Printer quantization).
// Then sample idle CPU (% of one core, /proc utime+stime) and RSS per node.
// --hosts H puts the N nodes on H hosts (node I on host ((I-1) mod H)+1, each on its own
// port); --vs node-discover runs the side-by-side comparison instead (formation-vs.ts).
// Invariant: every process runs inside the virtual LAN (vlan.ts); nothing is left running.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createVirtualLan } from '../test/helpers/vlan.js';
import { CLI_BIN, startCliNode } from '../test/helpers/cli-process.js';
import type { CliNode, LogLine } from '../test/helpers/cli-process.js';
import { cpuPercent, readRssBytes, sampleCpu } from './proc-stats.js';
import type { CpuSample } from './proc-stats.js';
import { UsageError, environment, intOption, preflight, usageText } from './common.js';
import { summarize } from './stats.js';
import type { Summary } from './stats.js';

/** One-line description for the bench runner's usage. */
export const FORMATION_SUMMARY = 'mesh formation time, idle CPU and RSS of N nodes on a virtual LAN';

/** Targets printed beside the results. */
export const FORMATION_TARGETS = {
  /** Full mesh of 10 nodes, from all ready: 1 500 ms. */
  formationMs: 1500,
  /** Idle CPU per node: under 1 % of one core. */
  idleCpuPercent: 1,
  /** RSS per node: under 80 MB. */
  rssMb: 80,
  /** 20 nodes on 4 hosts started together: full mesh (nodeup) within 5 000 ms of launch. */
  launchToMeshMs: 5000,
} as const;

/** The peers --vs can run beside cluster-node. */
export const VS_PEERS = ['node-discover'] as const;
/** A peer --vs can run beside cluster-node. */
export type VsPeer = (typeof VS_PEERS)[number];

const USAGE = `usage: npm run bench -- formation [--nodes N] [--hosts H] [--runs R] [--idle-seconds S] [--settle-seconds Q] [--timeout-seconds T] [--out DIR]
       npm run bench -- formation --vs node-discover [--nodes 5,10,20] [--hosts H] [--runs R] [--timeout-seconds T] [--out DIR]
  --nodes N            node processes (default 10; with --vs a list, default 5,10,20)
  --hosts H            virtual hosts the nodes are spread over (default: one per node)
  --runs R             repetitions (default 5)
  --vs node-discover   side by side: in each run, node-discover and cluster-node one after the
                       other on the same virtual LAN (the order alternates per run); launch ->
                       full view of each and the ratio (formation-vs.ts)
  --idle-seconds S     idle CPU sampling window (default 5)
  --settle-seconds Q   wait between formation and the idle window (default 1)
  --timeout-seconds T  give up on a run that has not formed after T s from all ready (default 30)
  --out DIR            where results are written (default bench/results)
  -- ARGS...           extra arguments for every node, e.g. -- --no-singleton --heartbeat-interval 1000`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** Spawn to `node ready` for N processes at once on a small machine. */
const READY_TIMEOUT_MS = 60_000;

/** Parsed formation options. */
export interface FormationOptions {
  /** Node counts; one value unless --vs. */
  nodeCounts: number[];
  /** The first (plain formation: the only) node count. */
  nodes: number;
  /** Virtual hosts the nodes are spread over; 0 = one per node. */
  hosts: number;
  /** --vs: the peer run beside cluster-node. */
  vs: VsPeer | undefined;
  runs: number;
  idleSeconds: number;
  settleSeconds: number;
  timeoutSeconds: number;
  out: string;
  /** Extra CLI arguments for every node (after `--`). */
  cliArgs: string[];
}

/** What one run measured (ms figures are relative to the moment named). */
interface RunResult {
  run: number;
  ok: boolean;
  error?: string;
  /** Spawn until the last node logged `node ready` (Node startup + listen + mDNS start). */
  spawnToAllReadyMs?: number;
  /** Median over nodes of spawn until its own `node ready`. */
  spawnToReadyMedianMs?: number;
  /** All ready until every printed list holds all the others. */
  readyToListsMs?: number;
  /** All ready until every node has logged nodeup for all the others. */
  readyToMeshMs?: number;
  /** Spawn until every printed list holds all the others. */
  spawnToListsMs?: number;
  /** Spawn until every node has logged nodeup for all the others (the user's clock). */
  spawnToMeshMs?: number;
  /** Idle CPU per node, % of one core. */
  idleCpuPercent?: number[];
  /** RSS per node, MB. */
  rssMb?: number[];
  /** Every node still printed a full list at the end of the idle window. */
  stableWhileIdle?: boolean;
  /** nodedown log lines from all nodes, spawn to end of idle window (nobody failed: should be 0). */
  nodedownLogs?: number;
  /** `handshake failed` warnings with code ERR_HANDSHAKE_TIMEOUT from all nodes, spawn to end of idle window. */
  handshakeTimeouts?: number;
  /** Warning (and error) log lines from all nodes, spawn to end of idle window. */
  warnings?: number;
  /** nodedown log lines by reason. */
  nodedownReasons?: Record<string, number>;
}

function parseOptions(argv: string[]): FormationOptions | string {
  const dashes = argv.indexOf('--');
  const cliArgs = dashes >= 0 ? argv.slice(dashes + 1) : [];
  try {
    const v = parseArgs({
      args: dashes >= 0 ? argv.slice(0, dashes) : argv,
      options: {
        nodes: { type: 'string' },
        hosts: { type: 'string' },
        vs: { type: 'string' },
        runs: { type: 'string' },
        'idle-seconds': { type: 'string' },
        'settle-seconds': { type: 'string' },
        'timeout-seconds': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (v.help) return USAGE;
    if (v.vs !== undefined && !(VS_PEERS as readonly string[]).includes(v.vs)) throw new UsageError(`--vs takes ${VS_PEERS.join(' or ')}, got "${v.vs}"`);
    const vs = v.vs as VsPeer | undefined;
    const nodeList = (v.nodes ?? (vs ? '5,10,20' : '10')).split(',');
    if (nodeList.length > 1 && !vs) throw new UsageError('--nodes takes one number (a list only with --vs)');
    const nodeCounts = [...new Set(nodeList.map((x) => intOption('nodes', x.trim(), 10, 2, 100)))];
    return {
      nodeCounts,
      nodes: nodeCounts[0]!,
      hosts: intOption('hosts', v.hosts, 0, 1, 100),
      vs,
      runs: intOption('runs', v.runs, 5, 1, 100),
      idleSeconds: intOption('idle-seconds', v['idle-seconds'], 5, 1, 600),
      settleSeconds: intOption('settle-seconds', v['settle-seconds'], 1, 0, 600),
      timeoutSeconds: intOption('timeout-seconds', v['timeout-seconds'], 30, 1, 600),
      out: v.out ?? RESULTS_DIR,
      cliArgs,
    };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

/** Where node I (1-based) of N runs when spread over H hosts (0: one per node), and its name. */
export function placement(nodes: number, hosts: number): { name: string; host: number }[] {
  const h = hostCount(nodes, hosts);
  return Array.from({ length: nodes }, (_, i) => ({ name: `node${i + 1}@h${(i % h) + 1}`, host: (i % h) + 1 }));
}

/** How many virtual hosts placement(nodes, hosts) uses. */
export function hostCount(nodes: number, hosts: number): number {
  return hosts > 0 ? Math.min(hosts, nodes) : nodes;
}

function hasAll(members: readonly string[], others: readonly string[]): boolean {
  return others.every((o) => members.includes(o));
}

/**
 * performance.now() when a node has logged nodeup for every other node at least once,
 * or undefined. nodedown is not replayed here: a clean formation has none, and any
 * are counted separately (RunResult.nodedownLogs) so they show without hiding the time.
 */
export function meshedAt(logs: readonly LogLine[], others: readonly string[]): number | undefined {
  return coveredAt(
    logs.flatMap((l) => (l.message === 'nodeup' && typeof l.fields.peer === 'string' ? [{ peer: l.fields.peer, at: l.at }] : [])),
    others,
  );
}

/** The `at` of the first sighting by which every one of `others` has been seen at least once, or undefined. */
export function coveredAt(sightings: Iterable<{ peer: string; at: number }>, others: readonly string[]): number | undefined {
  const seen = new Set<string>();
  if (others.length === 0) return undefined;
  for (const s of sightings) {
    seen.add(s.peer);
    if (others.every((o) => seen.has(o))) return s.at;
  }
  return undefined;
}

function waitAll<T>(nodes: readonly CliNode[], find: (n: CliNode) => T | undefined, timeoutMs: number, what: string): Promise<T[]> {
  return Promise.all(nodes.map((n) => n.waitUntil(() => find(n), timeoutMs, what)));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `handshake failed` lines with code ERR_HANDSHAKE_TIMEOUT logged by all nodes so far. */
function countHandshakeTimeouts(nodes: readonly CliNode[]): number {
  return nodes.reduce((sum, n) => sum + n.logs.filter((l) => l.message === 'handshake failed' && l.fields.code === 'ERR_HANDSHAKE_TIMEOUT').length, 0);
}

/** Warning and error lines logged by all nodes so far. */
function countWarnings(nodes: readonly CliNode[]): number {
  return nodes.reduce((sum, n) => sum + n.logs.filter((l) => l.level === 'warn' || l.level === 'error').length, 0);
}

async function oneRun(run: number, o: FormationOptions): Promise<RunResult> {
  const lan = await createVirtualLan(hostCount(o.nodes, o.hosts));
  const nodes: CliNode[] = [];
  try {
    const spawnAt = performance.now();
    for (const p of placement(o.nodes, o.hosts)) nodes.push(startCliNode(lan, p.host, { name: p.name, cookie: `bench-formation-${run}`, args: o.cliArgs }));
    const names = nodes.map((n) => n.name);
    const othersOf = (n: CliNode): string[] => names.filter((x) => x !== n.name);

    const ready = await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));
    const allReadyAt = Math.max(...ready.map((r) => r.at));
    const formTimeout = o.timeoutSeconds * 1000 + (allReadyAt - performance.now());

    const [lists, mesh] = await Promise.all([
      waitAll(nodes, (n) => n.memberLines.find((l) => hasAll(l.members, othersOf(n)))?.at, formTimeout, 'a full member list'),
      waitAll(nodes, (n) => meshedAt(n.logs, othersOf(n)), formTimeout, 'nodeup for every other node'),
    ]);
    const listsAt = Math.max(...lists);
    const meshAt = Math.max(...mesh);

    await delay(o.settleSeconds * 1000);
    const before = nodes.map((n) => sampleCpu(n.pid));
    await delay(o.idleSeconds * 1000);
    const after = nodes.map((n) => sampleCpu(n.pid));
    const idleCpu: number[] = [];
    for (const [i, b] of before.entries()) {
      const a = after[i];
      if (!b || !a) throw new Error(`${nodes[i]!.name} exited during the idle window\n${nodes[i]!.tail()}`);
      idleCpu.push(cpuPercent(b as CpuSample, a));
    }
    const rss = nodes.map((n) => {
      const bytes = readRssBytes(n.pid);
      if (bytes === undefined) throw new Error(`${n.name} exited before its RSS was read`);
      return bytes / (1024 * 1024);
    });
    const stable = nodes.every((n) => hasAll(n.lastMembers() ?? [], othersOf(n)));
    const nodedownLogs = nodes.reduce((sum, n) => sum + n.logs.filter((l) => l.message === 'nodedown').length, 0);
    const handshakeTimeouts = countHandshakeTimeouts(nodes);
    const warnings = countWarnings(nodes);
    const nodedownReasons: Record<string, number> = {};
    for (const n of nodes) {
      for (const l of n.logs) {
        if (l.message !== 'nodedown') continue;
        const why = String(l.fields.reason).replace(/\d+ ms/, 'N ms');
        nodedownReasons[why] = (nodedownReasons[why] ?? 0) + 1;
      }
    }
    return {
      run,
      ok: true,
      spawnToAllReadyMs: allReadyAt - spawnAt,
      spawnToReadyMedianMs: summarize(ready.map((r) => r.at - spawnAt)).median,
      readyToListsMs: listsAt - allReadyAt,
      readyToMeshMs: meshAt - allReadyAt,
      spawnToListsMs: listsAt - spawnAt,
      spawnToMeshMs: meshAt - spawnAt,
      idleCpuPercent: idleCpu,
      rssMb: rss,
      stableWhileIdle: stable,
      nodedownLogs,
      handshakeTimeouts,
      warnings,
      nodedownReasons,
    };
  } catch (err) {
    return { run, ok: false, error: (err as Error).message, handshakeTimeouts: countHandshakeTimeouts(nodes), warnings: countWarnings(nodes) };
  } finally {
    await Promise.all(nodes.map((n) => n.stop(3000)));
    await lan.destroy();
  }
}

const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '-' : `${Math.round(ms)} ms`);
const fmtSummaryMs = (s: Summary): string => `median ${fmtMs(s.median)} (min ${fmtMs(s.min)}, max ${fmtMs(s.max)})`;
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

/** Run the formation benchmark with command-line arguments (after "formation"); resolves with the exit code. */
export async function runFormation(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const early = await preflight('formation', o, USAGE, true);
  if (early !== undefined || typeof o === 'string') return early ?? 2;
  if (o.vs) return (await import('./formation-vs.js')).runFormationVersus(o);
  const loadBefore = loadavg()[0]!;
  const extra = o.cliArgs.length ? ` ${o.cliArgs.join(' ')}` : '';
  const layout = o.hosts > 0 ? `on ${hostCount(o.nodes, o.hosts)} virtual hosts` : 'one per virtual host';
  console.log(`formation: ${o.nodes} nodes (${layout}), ${o.runs} runs, CLI ${CLI_BIN}${extra}`);
  const results: RunResult[] = [];
  for (let run = 1; run <= o.runs; run++) {
    const r = await oneRun(run, o);
    results.push(r);
    if (r.ok) {
      console.log(
        `run ${run}/${o.runs}: spawn->all ready ${fmtMs(r.spawnToAllReadyMs)}, ready->lists ${fmtMs(r.readyToListsMs)}, ` +
          `ready->mesh ${fmtMs(r.readyToMeshMs)}, spawn->lists ${fmtMs(r.spawnToListsMs)}, spawn->mesh ${fmtMs(r.spawnToMeshMs)}, ` +
          `idle CPU median ${summarize(r.idleCpuPercent!).median.toFixed(2)} %, RSS median ${summarize(r.rssMb!).median.toFixed(1)} MB` +
          (r.stableWhileIdle ? '' : ' (mesh NOT stable while idle)') +
          (r.nodedownLogs ? `, ${r.nodedownLogs} nodedown logs although no node failed (${JSON.stringify(r.nodedownReasons)})` : '') +
          `, ${r.handshakeTimeouts} handshake timeouts, ${r.warnings} warnings`,
      );
    } else {
      console.log(`run ${run}/${o.runs}: FAILED: ${r.error} (${r.handshakeTimeouts} handshake timeouts, ${r.warnings} warnings)`);
    }
  }

  const ok = results.filter((r) => r.ok);
  const pick = (f: (r: RunResult) => number | undefined): Summary => summarize(ok.map(f).filter((x): x is number => x !== undefined));
  const summary = {
    runsOk: ok.length,
    runsFailed: results.length - ok.length,
    spawnToAllReadyMs: pick((r) => r.spawnToAllReadyMs),
    spawnToReadyMedianMs: pick((r) => r.spawnToReadyMedianMs),
    readyToListsMs: pick((r) => r.readyToListsMs),
    readyToMeshMs: pick((r) => r.readyToMeshMs),
    spawnToListsMs: pick((r) => r.spawnToListsMs),
    spawnToMeshMs: pick((r) => r.spawnToMeshMs),
    idleCpuPercent: summarize(ok.flatMap((r) => r.idleCpuPercent ?? [])),
    rssMb: summarize(ok.flatMap((r) => r.rssMb ?? [])),
    stableWhileIdle: ok.every((r) => r.stableWhileIdle),
    nodedownLogs: summarize(ok.map((r) => r.nodedownLogs ?? 0)),
    handshakeTimeouts: summarize(ok.map((r) => r.handshakeTimeouts ?? 0)),
    warnings: summarize(ok.map((r) => r.warnings ?? 0)),
  };
  const t = FORMATION_TARGETS;
  const verdicts = {
    listsWithinTarget: summary.readyToListsMs.median <= t.formationMs,
    meshWithinTarget: summary.readyToMeshMs.median <= t.formationMs,
    idleCpuWithinTarget: summary.idleCpuPercent.median < t.idleCpuPercent,
    rssWithinTarget: summary.rssMb.median < t.rssMb,
    launchToMeshWithinTarget: summary.spawnToMeshMs.median <= t.launchToMeshMs,
  };
  const launchNote = o.nodes === 20 && hostCount(o.nodes, o.hosts) === 4 ? '' : ` (target is for 20 nodes on 4 hosts; this is ${o.nodes} on ${hostCount(o.nodes, o.hosts)})`;
  const targetNote = o.nodes === 10 ? '' : ` (target is for N=10; this is N=${o.nodes})`;
  const lines = [
    `## Formation benchmark: ${o.nodes} nodes ${layout}, ${summary.runsOk}/${results.length} runs formed${extra ? ` (node arguments:${extra})` : ''}`,
    '',
    `| measure | result | target |`,
    `| --- | --- | --- |`,
    `| spawn -> all \`node ready\` (Node startup) | ${fmtSummaryMs(summary.spawnToAllReadyMs)} | - |`,
    `| spawn -> own \`node ready\`, median node | ${fmtSummaryMs(summary.spawnToReadyMedianMs)} | - |`,
    `| all ready -> every printed list full | ${fmtSummaryMs(summary.readyToListsMs)} | <= ${t.formationMs} ms${targetNote}: ${verdict(verdicts.listsWithinTarget)} |`,
    `| all ready -> every node logged nodeup for all others | ${fmtSummaryMs(summary.readyToMeshMs)} | <= ${t.formationMs} ms${targetNote}: ${verdict(verdicts.meshWithinTarget)} |`,
    `| spawn -> every printed list full | ${fmtSummaryMs(summary.spawnToListsMs)} | - |`,
    `| spawn -> every node logged nodeup for all others (launch to full mesh) | ${fmtSummaryMs(summary.spawnToMeshMs)} | <= ${t.launchToMeshMs} ms${launchNote}: ${verdict(verdicts.launchToMeshWithinTarget)} |`,
    `| idle CPU per node (% of one core, ${o.idleSeconds} s window from ${o.settleSeconds} s after formation) | median ${summary.idleCpuPercent.median.toFixed(2)} % (min ${summary.idleCpuPercent.min.toFixed(2)}, max ${summary.idleCpuPercent.max.toFixed(2)}) | < ${t.idleCpuPercent} %: ${verdict(verdicts.idleCpuWithinTarget)} |`,
    `| RSS per node | median ${summary.rssMb.median.toFixed(1)} MB (min ${summary.rssMb.min.toFixed(1)}, max ${summary.rssMb.max.toFixed(1)}) | < ${t.rssMb} MB: ${verdict(verdicts.rssWithinTarget)} |`,
    '',
    `Mesh stayed full through every idle window: ${summary.stableWhileIdle ? 'yes' : 'NO'}.`,
    `nodedown log lines per run although no node failed (should be 0): median ${summary.nodedownLogs.median}, max ${summary.nodedownLogs.max}.`,
    `\`handshake failed\` ERR_HANDSHAKE_TIMEOUT warnings per run (all nodes): median ${summary.handshakeTimeouts.median}, max ${summary.handshakeTimeouts.max}; warning lines per run: median ${summary.warnings.median}, max ${summary.warnings.max}.`,
    `Printed lists are quantized by the Printer's 1 s tick; the nodeup row is the mesh itself.`,
  ];
  const failed = results.filter((r) => !r.ok);
  if (failed.length) lines.push('', '### Failed runs', '', ...failed.map((r) => `- run ${r.run}: ${r.error?.split('\n')[0]}`));
  const env = environment(loadBefore);
  lines.push(
    '',
    `Environment: ${env.date}, commit ${env.commit ?? '?'}, Node ${env.node}, ${env.cores} x ${env.cpu ?? '?'}, ` +
      `load average ${env.loadAverageBefore} before / ${env.loadAverageAfter} after.`,
  );
  const markdown = lines.join('\n') + '\n';
  console.log(`\n${markdown}`);

  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/formation-n${o.nodes}${o.hosts > 0 ? `-h${hostCount(o.nodes, o.hosts)}` : ''}-${stamp}`;
  writeFileSync(`${base}.json`, JSON.stringify({ benchmark: 'formation', env, options: o, targets: t, summary, verdicts, runs: results }, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown);
  console.log(`results written to ${base}.json and ${base}.md`);
  return failed.length === 0 ? 0 : 1;
}
