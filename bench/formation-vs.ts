// Formation side by side: cluster-node against a peer (node-discover) on the same virtual
// LAN, by the user's clock. For each N (--nodes 5,10,20) and run, one LAN is built and the
// two systems form on it one after the other (the order alternates per run, so neither
// always gets the quieter machine): spawn N processes at once (placement() of formation.ts:
// one per host, or spread over --hosts H), then time
//   launch -> every process ready  (cluster-node: `node ready`; node-discover: socket bound)
//   launch -> full view            (cluster-node: every node logged nodeup for all others;
//                                   node-discover: every process saw `added` for all others)
// then stop them all before the other system starts. The ratio ours/theirs is taken per run
// (both systems of one run saw the same machine a few seconds apart) and summarized.
// Invariant: every process of both systems runs inside the virtual LAN (vlan.ts), and the
// node-discover runner broadcasts only on the LAN's subnet; nothing is left running.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createVirtualLan } from '../test/helpers/vlan.js';
import type { VirtualLan } from '../test/helpers/vlan.js';
import { CLI_BIN, startCliNode } from '../test/helpers/cli-process.js';
import type { CliNode } from '../test/helpers/cli-process.js';
import { environment } from './common.js';
import { FORMATION_TARGETS, coveredAt, hostCount, meshedAt, placement } from './formation.js';
import type { FormationOptions } from './formation.js';
import { discoverEvents, startNodeDiscover } from './node-discover.js';
import { readRssBytes } from './proc-stats.js';
import { percentile, summarize } from './stats.js';
import type { Summary } from './stats.js';

/** The two systems of a side-by-side run. */
export type VsSystem = 'cluster-node' | 'node-discover';

/** Target: cluster-node's launch -> full view at most this fraction of node-discover's, at N = 10. */
export const VS_TARGET_RATIO = 0.5;
/** The node count the ratio target is for. */
export const VS_TARGET_NODES = 10;
/** Spawn to every process ready, N processes at once on a small machine. */
const READY_TIMEOUT_MS = 60_000;

/** What one system did in one run; ms from its own launch. */
export interface SystemRun {
  ok: boolean;
  error?: string;
  /** Launch until the last process was ready. */
  launchToAllReadyMs?: number;
  /** Launch until every process saw all the others (the user's clock). */
  launchToFullViewMs?: number;
  /** All ready until every process saw all the others. */
  readyToFullViewMs?: number;
  /** Median RSS per process at full view, MB. */
  rssMb?: number;
  /** Peers lost again during formation (nodedown / removed lines); nobody failed, so should be 0. */
  flaps?: number;
}

/** One run at one N: both systems, in the order they ran, and the ratio. */
export interface VsRun {
  nodes: number;
  hosts: number;
  run: number;
  order: VsSystem[];
  systems: Record<VsSystem, SystemRun>;
  /** cluster-node / node-discover launch -> full view, when both formed. */
  ratio?: number;
}

/** Summary of one system at one N. */
export interface SystemSummary {
  ok: number;
  launchToFullViewMs: Summary & { p99: number };
  launchToAllReadyMs: Summary;
  readyToFullViewMs: Summary;
  rssMb: Summary;
  flaps: number;
}

/** Summary of one N. */
export interface VsSummary {
  nodes: number;
  hosts: number;
  runs: number;
  systems: Record<VsSystem, SystemSummary>;
  /** Per-run ratios ours/theirs. */
  ratio: Summary;
  /** The ratio target applies (N = 10) and the median ratio meets it; undefined at other N. */
  ratioWithinTarget: boolean | undefined;
}

/** Order of the systems in run `run` (1-based): odd runs start cluster-node, even runs node-discover. */
export function runOrder(run: number): VsSystem[] {
  return run % 2 === 1 ? ['cluster-node', 'node-discover'] : ['node-discover', 'cluster-node'];
}

/** Summarize the runs of one N. */
export function summarizeVs(runs: readonly VsRun[]): VsSummary {
  const first = runs[0]!;
  const sys = (s: VsSystem): SystemSummary => {
    const ok = runs.map((r) => r.systems[s]).filter((x) => x.ok);
    const pick = (f: (x: SystemRun) => number | undefined): number[] => ok.map(f).filter((x): x is number => x !== undefined);
    const full = pick((x) => x.launchToFullViewMs);
    return {
      ok: ok.length,
      launchToFullViewMs: { ...summarize(full), p99: percentile(full, 99) },
      launchToAllReadyMs: summarize(pick((x) => x.launchToAllReadyMs)),
      readyToFullViewMs: summarize(pick((x) => x.readyToFullViewMs)),
      rssMb: summarize(pick((x) => x.rssMb)),
      flaps: ok.reduce((a, x) => a + (x.flaps ?? 0), 0),
    };
  };
  const ratio = summarize(runs.flatMap((r) => (r.ratio === undefined ? [] : [r.ratio])));
  return {
    nodes: first.nodes,
    hosts: first.hosts,
    runs: runs.length,
    systems: { 'cluster-node': sys('cluster-node'), 'node-discover': sys('node-discover') },
    ratio,
    ratioWithinTarget: first.nodes === VS_TARGET_NODES && ratio.count > 0 ? ratio.median <= VS_TARGET_RATIO : undefined,
  };
}

const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '-' : `${Math.round(ms)} ms`);
const fmtRange = (s: Summary): string => (s.count === 0 ? '-' : `${fmtMs(s.median)} (${Math.round(s.min)}-${Math.round(s.max)})`);
const fmtRatio = (s: Summary): string => (s.count === 0 ? '-' : `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`);

/** Spawn one system's N processes at once, wait for the full view, measure, stop them all. */
async function formSystem(lan: VirtualLan, system: VsSystem, o: FormationOptions, nodes: number, run: number): Promise<SystemRun> {
  const procs: CliNode[] = [];
  const places = placement(nodes, o.hosts);
  const names = places.map((p) => p.name);
  const othersOf = (n: CliNode): string[] => names.filter((x) => x !== n.name);
  try {
    const launchAt = performance.now();
    for (const p of places) {
      procs.push(
        system === 'cluster-node'
          ? startCliNode(lan, p.host, { name: p.name, cookie: `bench-vs-${run}`, args: o.cliArgs })
          : startNodeDiscover(lan, p.host, { name: p.name }),
      );
    }
    const readyAt = (n: CliNode): number | undefined =>
      system === 'cluster-node' ? n.logs.find((l) => l.message === 'node ready')?.at : discoverEvents(n).find((e) => e.kind === 'ready')?.at;
    const fullAt = (n: CliNode): number | undefined =>
      system === 'cluster-node'
        ? meshedAt(n.logs, othersOf(n))
        : coveredAt(discoverEvents(n).flatMap((e) => (e.kind === 'added' && e.peer ? [{ peer: e.peer, at: e.at }] : [])), othersOf(n));
    const ready = await Promise.all(procs.map((n) => n.waitUntil(() => readyAt(n), READY_TIMEOUT_MS, 'ready')));
    const allReadyAt = Math.max(...ready);
    const timeout = o.timeoutSeconds * 1000 + (allReadyAt - performance.now());
    const full = await Promise.all(procs.map((n) => n.waitUntil(() => fullAt(n), timeout, 'a full view')));
    const fullViewAt = Math.max(...full);
    const rss = procs.flatMap((n) => {
      const b = readRssBytes(n.pid);
      return b === undefined ? [] : [b / (1024 * 1024)];
    });
    const flaps = procs.reduce(
      (a, n) => a + (system === 'cluster-node' ? n.logs.filter((l) => l.message === 'nodedown').length : discoverEvents(n).filter((e) => e.kind === 'removed').length),
      0,
    );
    return {
      ok: true,
      launchToAllReadyMs: allReadyAt - launchAt,
      launchToFullViewMs: fullViewAt - launchAt,
      readyToFullViewMs: fullViewAt - allReadyAt,
      rssMb: summarize(rss).median,
      flaps,
    };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    await Promise.all(procs.map((n) => n.stop(3000)));
  }
}

async function oneRun(o: FormationOptions, nodes: number, run: number): Promise<VsRun> {
  const hosts = hostCount(nodes, o.hosts);
  const order = runOrder(run);
  const lan = await createVirtualLan(hosts);
  const systems = {} as Record<VsSystem, SystemRun>;
  try {
    for (const s of order) systems[s] = await formSystem(lan, s, o, nodes, run);
  } finally {
    await lan.destroy();
  }
  const ours = systems['cluster-node'].launchToFullViewMs;
  const theirs = systems['node-discover'].launchToFullViewMs;
  const r: VsRun = { nodes, hosts, run, order, systems };
  if (ours !== undefined && theirs !== undefined && theirs > 0) r.ratio = ours / theirs;
  return r;
}

/** The Markdown table of a side-by-side formation run. */
export function formationVsMarkdown(summaries: readonly VsSummary[], header: string, envLine: string): string {
  const lines = [
    header,
    '',
    '| nodes (hosts) | runs | cluster-node launch -> full view | node-discover launch -> full view | ratio ours/theirs, per run | target | launch -> all ready (ours / theirs) | all ready -> full view (ours / theirs) | RSS per process (ours / theirs) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of summaries) {
    const ours = s.systems['cluster-node'];
    const theirs = s.systems['node-discover'];
    const launch = ours.launchToFullViewMs;
    const target =
      s.ratioWithinTarget !== undefined
        ? `ratio <= ${VS_TARGET_RATIO}: ${s.ratioWithinTarget ? 'PASS' : 'FAIL'}`
        : s.nodes === 20 && s.hosts === 4 && launch.count
          ? `ours <= ${FORMATION_TARGETS.launchToMeshMs} ms: ${launch.median <= FORMATION_TARGETS.launchToMeshMs ? 'PASS' : 'FAIL'}`
          : '-';
    lines.push(
      `| ${s.nodes} (${s.hosts}) | ${Math.min(ours.ok, theirs.ok)}/${s.runs} | ${fmtRange(ours.launchToFullViewMs)} | ${fmtRange(theirs.launchToFullViewMs)} | ${fmtRatio(s.ratio)} | ${target} | ` +
        `${fmtMs(ours.launchToAllReadyMs.median)} / ${fmtMs(theirs.launchToAllReadyMs.median)} | ${fmtMs(ours.readyToFullViewMs.median)} / ${fmtMs(theirs.readyToFullViewMs.median)} | ` +
        `${ours.rssMb.count ? ours.rssMb.median.toFixed(0) : '-'} / ${theirs.rssMb.count ? theirs.rssMb.median.toFixed(0) : '-'} MB |`,
    );
  }
  const flaps = summaries.map((s) => `N=${s.nodes}: ${s.systems['cluster-node'].flaps} / ${s.systems['node-discover'].flaps}`).join(', ');
  lines.push(
    '',
    'Medians over runs (min-max). Full view: cluster-node — every node logged `nodeup` for all others; node-discover — every process saw `added` for all others. ' +
      'The ratio is taken within each run (both systems on the same virtual LAN, one after the other; the order alternates per run). ' +
      `Targets: ratio <= ${VS_TARGET_RATIO} at N = ${VS_TARGET_NODES}; 20 nodes on 4 hosts: cluster-node's full mesh <= ${FORMATION_TARGETS.launchToMeshMs} ms from launch. node-discover runs with its defaults (hello every 1 s, node timeout 2 s), broadcasting on the virtual LAN's subnet.`,
    `Peers lost during formation although nobody failed (nodedown / removed lines, ours / theirs): ${flaps}.`,
    '',
    envLine,
  );
  return lines.join('\n') + '\n';
}

/** Run `formation --vs node-discover` with parsed options; resolves with the exit code. */
export async function runFormationVersus(o: FormationOptions): Promise<number> {
  const loadBefore = loadavg()[0]!;
  const layout = o.hosts > 0 ? `spread over ${o.hosts === 1 ? 'one virtual host' : `up to ${o.hosts} virtual hosts`}` : 'one per virtual host';
  console.log(`formation --vs node-discover: N = ${o.nodeCounts.join(', ')} (${layout}), ${o.runs} runs each, CLI ${CLI_BIN}`);
  const startedAt = performance.now();
  const all: VsRun[] = [];
  for (const nodes of o.nodeCounts) {
    for (let run = 1; run <= o.runs; run++) {
      const r = await oneRun(o, nodes, run);
      all.push(r);
      const part = (s: VsSystem): string => {
        const x = r.systems[s];
        return x.ok ? `${s} ${fmtMs(x.launchToFullViewMs)} (ready ${fmtMs(x.launchToAllReadyMs)})` : `${s} FAILED: ${x.error?.split('\n')[0]}`;
      };
      console.log(`N=${nodes} run ${run}/${o.runs}: ${r.order.map(part).join(', then ')}${r.ratio === undefined ? '' : `; ratio ${r.ratio.toFixed(2)}`}`);
    }
  }
  const summaries = o.nodeCounts.map((n) => summarizeVs(all.filter((r) => r.nodes === n)));
  const env = { ...environment(loadBefore), wallSeconds: Math.round((performance.now() - startedAt) / 1000) };
  const envLine =
    `Environment: ${env.date}, commit ${env.commit ?? '?'}, Node ${env.node}, ${env.cores} x ${env.cpu ?? '?'}, ` +
    `load average ${env.loadAverageBefore} before / ${env.loadAverageAfter} after, ${env.wallSeconds} s wall time.`;
  const markdown = formationVsMarkdown(summaries, `## Formation side by side: cluster-node vs node-discover, ${layout}`, envLine);
  console.log(`\n${markdown}`);

  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/formation-vs-node-discover-n${o.nodeCounts.join('_')}${o.hosts > 0 ? `-h${o.hosts}` : ''}-${stamp}`;
  writeFileSync(`${base}.json`, JSON.stringify({ benchmark: 'formation-vs', peer: 'node-discover', env, options: o, summaries, runs: all }, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown);
  console.log(`results written to ${base}.json and ${base}.md`);
  const failed = all.some((r) => !r.systems['cluster-node'].ok || !r.systems['node-discover'].ok);
  return failed ? 1 : 0;
}
