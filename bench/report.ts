// Benchmark report: `npm run bench -- report` reads the result files under bench/results/
// (the JSON every benchmark writes) and writes bench/REPORT.md with SVG charts under
// bench/report/: formation side by side with node-discover (time against N, and other
// layouts such as 10 nodes on 1 host or 20 on 4), failover side by side (takeover p50/p99
// per fault), the launch -> full mesh figure of the plain formation benchmark, and links to
// the latest table of every other benchmark. Each table names the commit and machine.
// For each scenario the latest result wins (by its env.date), so rerunning a benchmark and
// then the report updates that part only. buildReport is pure (result objects in, Markdown
// and SVG text out); runReport does the file work.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { usageText } from './common.js';
import type { BenchEnvironment } from './common.js';
import type { ActionSummary, FailoverAction } from './failover.js';
import type { DiscoverActionSummary, ForgedMaster } from './failover-vs.js';
import type { VsSummary } from './formation-vs.js';
import { VS_TARGET_NODES, VS_TARGET_RATIO } from './formation-vs.js';
import type { Summary } from './stats.js';
import { SCALE_TARGETS, scaleTable } from './scale.js';
import type { ScaleRow } from './scale.js';
import { barChart } from './svg-chart.js';
import type { BarValue } from './svg-chart.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const REPORT_FILE = fileURLToPath(new URL('./REPORT.md', import.meta.url));
/** Where the charts go, relative to the report's folder. */
export const CHART_DIR = 'report';
/** 20 nodes on 4 hosts: launch -> full mesh target, ms (FORMATION_TARGETS.launchToMeshMs). */
const LAUNCH_MESH_TARGET_MS = 5000;

const USAGE = `usage: npm run bench -- report [--results DIR] [--out FILE]
  --results DIR   where the result files are (default bench/results)
  --out FILE      the report to write (default bench/REPORT.md); charts go to report/ beside it`;

/** A parsed result file. */
export interface ResultFile {
  /** File name (no folder), e.g. formation-n10-20261201T122813Z.json. */
  file: string;
  json: Record<string, unknown>;
}

/** The report: Markdown and the charts it links, by file name under CHART_DIR. */
export interface Report {
  markdown: string;
  charts: Record<string, string>;
}

/**
 * A result file's object with `benchmark` and `env` filled in: older files (hostile) name the
 * benchmark only in the file name and the environment as `environment`. Undefined for a
 * value that is not a result.
 */
export function normalizeResult(file: string, json: unknown): ResultFile | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const o = { ...(json as Record<string, unknown>) };
  o.benchmark ??= /^([a-z]+)-/.exec(file)?.[1];
  o.env ??= o.environment;
  return typeof o.benchmark === 'string' ? { file, json: o } : undefined;
}

/** Every *.json result in dir (see normalizeResult); files that do not parse are skipped. */
export function loadResults(dir: string): ResultFile[] {
  const out: ResultFile[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    try {
      const r = normalizeResult(file, JSON.parse(readFileSync(join(dir, file), 'utf8')));
      if (r) out.push(r);
    } catch {
      // not a result file
    }
  }
  return out;
}

const envOf = (r: ResultFile): Partial<BenchEnvironment> => (r.json.env ?? {}) as Partial<BenchEnvironment>;
const dateOf = (r: ResultFile): string => envOf(r).date ?? '';
const byDate = (a: ResultFile, b: ResultFile): number => dateOf(a).localeCompare(dateOf(b)) || a.file.localeCompare(b.file);

/** The latest result of each kind, keyed by key(r) (undefined: not of this kind). */
export function latestBy(results: readonly ResultFile[], key: (r: ResultFile) => string | undefined): Map<string, ResultFile> {
  const out = new Map<string, ResultFile>();
  for (const r of [...results].sort(byDate)) {
    const k = key(r);
    if (k !== undefined) out.set(k, r);
  }
  return out;
}

/** A formation-vs summary with the file it came from. */
interface VsEntry {
  summary: VsSummary;
  from: ResultFile;
}

/** The latest formation-vs summary of each layout (nodes, hosts), latest file first wins. */
export function latestVsLayouts(results: readonly ResultFile[]): VsEntry[] {
  const out = new Map<string, VsEntry>();
  for (const r of results.filter((x) => x.json.benchmark === 'formation-vs').sort(byDate)) {
    for (const s of (r.json.summaries ?? []) as VsSummary[]) out.set(`${s.nodes}/${s.hosts}`, { summary: s, from: r });
  }
  // One process per host first, by N; then the other layouts.
  const rank = (s: VsSummary): number => (s.hosts === s.nodes ? 0 : 1);
  return [...out.values()].sort((a, b) => rank(a.summary) - rank(b.summary) || a.summary.nodes - b.summary.nodes || a.summary.hosts - b.summary.hosts);
}

const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${Math.round(x)} ms`);
const sec = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${(x / 1000).toFixed(2)} s`);
const range = (s: Summary): string => (s.count ? `${Math.round(s.min)}-${Math.round(s.max)}` : '-');
const machine = (r: ResultFile): string => {
  const e = envOf(r);
  return `${e.cores ?? '?'} x ${e.cpu ?? '?'}, load ${e.loadAverageBefore ?? '?'}/${e.loadAverageAfter ?? '?'}`;
};
const commitOf = (r: ResultFile): string => envOf(r).commit ?? '?';
const layoutName = (s: { nodes: number; hosts: number }): string => (s.hosts === s.nodes ? `${s.nodes} (one per host)` : `${s.nodes} on ${s.hosts} host${s.hosts === 1 ? '' : 's'}`);
/** ' (ours formed 1/5)' when some of cluster-node's runs did not form, for a chart's group label. */
const formedNote = (s: VsSummary): string => {
  const u = s.systems['cluster-node'].ok;
  const t = s.systems['node-discover'].ok;
  return u === s.runs && t === s.runs ? '' : ` (formed ${u}/${s.runs}, ${t}/${s.runs})`;
};
const bar = (s: Summary, p99?: number): BarValue | undefined =>
  s.count ? { value: s.median, low: s.min, high: p99 ?? s.max, label: `${(s.median / 1000).toFixed(2)} s` } : undefined;

function formationSection(entries: readonly VsEntry[], charts: Record<string, string>): string[] {
  if (entries.length === 0) return ['## Formation side by side', '', 'No `formation-vs` results yet: run `npm run bench -- formation --vs node-discover`.', ''];
  const lines = [
    '## Formation side by side: cluster-node vs node-discover',
    '',
    'Launch to full view, by the user\'s clock: N processes started at once; cluster-node — every node has logged `nodeup` for all others; node-discover — every process has seen `added` for all others. ' +
      `Medians over runs, p99 by nearest rank (with a handful of runs it is the maximum); the ratio ours/theirs is taken within each run, the two systems one after the other on the same virtual LAN, the order alternating per run. Targets: ratio <= ${VS_TARGET_RATIO} at N = ${VS_TARGET_NODES}; 20 processes on 4 hosts: cluster-node's full mesh <= 5 s from launch. ` +
      'Lost peers: `nodedown` (ours) / `removed` (theirs) lines during formation, summed over the runs; nobody failed, so anything above 0 is a spurious loss. ' +
      '"Formed" counts the runs in which every process reached its full view within the timeout (30 s after all were ready); the others are left out of the medians, which therefore flatter a system that often did not form.',
    '',
    '| nodes | formed: ours, theirs (of runs) | cluster-node median (min-max) | p99 | node-discover median (min-max) | p99 | ratio ours/theirs median (min-max) | target | launch -> all ready / all ready -> full view, ours | same, theirs | lost peers, ours / theirs | commit | machine |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { summary: s, from } of entries) {
    const u = s.systems['cluster-node'];
    const t = s.systems['node-discover'];
    const target =
      s.nodes === VS_TARGET_NODES && s.ratio.count
        ? `ratio <= ${VS_TARGET_RATIO}: ${s.ratio.median <= VS_TARGET_RATIO ? 'PASS' : 'FAIL'}`
        : s.nodes === 20 && s.hosts === 4 && u.launchToFullViewMs.count
          ? `ours <= 5 s: ${u.launchToFullViewMs.median <= LAUNCH_MESH_TARGET_MS ? 'PASS' : 'FAIL'}`
          : '-';
    lines.push(
      `| ${layoutName(s)} | ${u.ok}, ${t.ok} (of ${s.runs}) | ${ms(u.launchToFullViewMs.median)} (${range(u.launchToFullViewMs)}) | ${ms(u.launchToFullViewMs.p99)} | ` +
        `${ms(t.launchToFullViewMs.median)} (${range(t.launchToFullViewMs)}) | ${ms(t.launchToFullViewMs.p99)} | ` +
        `${s.ratio.count ? `${s.ratio.median.toFixed(2)} (${s.ratio.min.toFixed(2)}-${s.ratio.max.toFixed(2)})` : '-'} | ${target} | ` +
        `${ms(u.launchToAllReadyMs.median)} / ${ms(u.readyToFullViewMs.median)} | ${ms(t.launchToAllReadyMs.median)} / ${ms(t.readyToFullViewMs.median)} | ${u.flaps} / ${t.flaps} | ${commitOf(from)} | ${machine(from)} |`,
    );
  }
  lines.push('');
  const perHost = entries.filter((e) => e.summary.hosts === e.summary.nodes);
  if (perHost.length) {
    charts['formation-vs-n.svg'] = barChart({
      title: 'Launch to full view, one process per host (median; whisker min to p99)',
      yLabel: 'ms from launch',
      groups: perHost.map((e) => `N = ${e.summary.nodes}` + formedNote(e.summary)),
      series: (['cluster-node', 'node-discover'] as const).map((sys) => ({
        name: sys,
        values: perHost.map((e) => bar(e.summary.systems[sys].launchToFullViewMs, e.summary.systems[sys].launchToFullViewMs.p99)),
      })),
    });
    lines.push(`![Launch to full view against N](${CHART_DIR}/formation-vs-n.svg)`, '');
  }
  const others = entries.filter((e) => e.summary.hosts !== e.summary.nodes);
  if (others.length) {
    charts['formation-vs-layouts.svg'] = barChart({
      title: 'Launch to full view, several processes per host (median; whisker min to p99)',
      yLabel: 'ms from launch',
      groups: others.map((e) => layoutName(e.summary) + formedNote(e.summary)),
      series: (['cluster-node', 'node-discover'] as const).map((sys) => ({
        name: sys,
        values: others.map((e) => bar(e.summary.systems[sys].launchToFullViewMs, e.summary.systems[sys].launchToFullViewMs.p99)),
      })),
      reference: { value: LAUNCH_MESH_TARGET_MS, label: 'target for 20 on 4 hosts: 5 s' },
    });
    lines.push(`![Launch to full view, several processes per host](${CHART_DIR}/formation-vs-layouts.svg)`, '');
  }
  return lines;
}

function failoverSection(latest: ResultFile | undefined, charts: Record<string, string>): string[] {
  if (!latest) return ['## Failover side by side', '', 'No `failover-vs` results yet: run `npm run bench -- failover --vs node-discover`.', ''];
  const o = (latest.json.options ?? {}) as { nodes?: number; quorum?: number; actions?: FailoverAction[]; trials?: number };
  const ours = ((latest.json.ours as { summary?: unknown } | undefined)?.summary ?? {}) as Partial<Record<FailoverAction, ActionSummary>>;
  const theirs = ((latest.json.theirs as { summary?: unknown } | undefined)?.summary ?? {}) as Partial<Record<FailoverAction, DiscoverActionSummary>>;
  const actions = o.actions ?? (['SIGKILL', 'SIGSTOP'] as FailoverAction[]);
  const lines = [
    `## Failover side by side: ${o.nodes ?? '?'} nodes, cluster-node --failover${o.quorum ? ` --quorum ${o.quorum}` : ''} vs node-discover`,
    '',
    'From the signal to the master/holder until a new one has taken over: cluster-node — the new holder\'s `Singleton tenure started` line; node-discover — another process\'s `promotion`. ' +
      '"Two at once": cluster-node — two nodes roaring; node-discover — two live, unfrozen processes that consider themselves master. ' +
      `Commit ${commitOf(latest)}, ${machine(latest)}, ${o.trials ?? '?'} trials per fault ([${latest.file.replace(/\.json$/, '.md')}](results/${latest.file.replace(/\.json$/, '.md')})).`,
    '',
    '| fault | system | trials | takeover p50 | takeover p99 | ratio p50 ours/theirs | trials with two at once | two at once, max |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const a of actions) {
    const u = ours[a];
    const t = theirs[a];
    if (u) lines.push(`| ${a} | cluster-node | ${u.ok}/${u.trials} | ${ms(u.takeoverP50)} | ${ms(u.takeoverP99)} | ${u && t && t.takeoverP50 > 0 ? (u.takeoverP50 / t.takeoverP50).toFixed(3) : '-'} | ${u.trialsWithOverlap} | ${ms(u.overlapMax)} |`);
    if (t) lines.push(`| ${a} | node-discover | ${t.ok}/${t.trials} | ${ms(t.takeoverP50)} | ${ms(t.takeoverP99)} | | ${t.trialsWithOverlap} | ${ms(t.overlapMax)} |`);
  }
  const forged = (latest.json.theirs as { forged?: ForgedMaster } | undefined)?.forged;
  const stop = theirs.SIGSTOP;
  if (stop) {
    lines.push(
      '',
      `What node-discover lacks, measured: after SIGCONT a frozen master goes on as master beside the new one (${stop.trialsWithOverlap}/${stop.ok} SIGSTOP trials, up to ${ms(stop.overlapMax)}); ` +
        `it drops its peers from its view on waking (${stop.trialsWithViewCollapse}/${stop.ok}); mastership goes back to it, a second change of master (${stop.trialsMasterWentBack}/${stop.ok}). ` +
        (forged?.ok
          ? `No authentication by default: one forged hello (a single UDP broadcast announcing a heavier master, no secret) made the real master demote itself after ${ms(forged.deposedMs)}, and the cluster had no master until ${ms(forged.reelectedMs)} after the packet. `
          : '') +
        'By design: no connections (a killed master is noticed only by silence, like a frozen one), no quorum, fencing epoch or lease.',
    );
  }
  lines.push('');
  const groups = actions.flatMap((a) => [`${a} p50`, `${a} p99`]);
  charts['failover-vs.svg'] = barChart({
    title: `Failover: signal to new master / holder, ${o.nodes ?? '?'} nodes`,
    yLabel: 'ms from the signal',
    groups,
    series: [
      { name: 'cluster-node (Singleton takeover)', values: actions.flatMap((a) => [ours[a]?.takeoverP50, ours[a]?.takeoverP99].map((v) => (v === undefined || !Number.isFinite(v) ? undefined : { value: v, label: ms(v) }))) },
      { name: 'node-discover (master re-election)', values: actions.flatMap((a) => [theirs[a]?.takeoverP50, theirs[a]?.takeoverP99].map((v) => (v === undefined || !Number.isFinite(v) ? undefined : { value: v, label: ms(v) }))) },
    ],
  });
  lines.push(`![Failover takeover p50 and p99](${CHART_DIR}/failover-vs.svg)`, '');
  return lines;
}

function plainFormationSection(results: readonly ResultFile[]): string[] {
  const latest = latestBy(results, (r) => {
    if (r.json.benchmark !== 'formation') return undefined;
    const o = (r.json.options ?? {}) as { nodes?: number; hosts?: number };
    return `${o.nodes}/${o.hosts && o.hosts > 0 ? Math.min(o.hosts, o.nodes ?? o.hosts) : o.nodes}`;
  });
  if (latest.size === 0) return [];
  const lines = [
    '## Formation (cluster-node alone)',
    '',
    '`npm run bench -- formation`: the mesh itself from all ready, and launch to full mesh (every node logged `nodeup` for all others). Target: 20 nodes on 4 hosts started together, full mesh within 5 s of launch.',
    '',
    '| nodes | runs | launch -> all ready | all ready -> full mesh | launch -> full mesh | idle CPU / RSS per node | commit | machine | table |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = [...latest.entries()].sort(([a], [b]) => {
    const [an, ah] = a.split('/').map(Number);
    const [bn, bh] = b.split('/').map(Number);
    return an! - bn! || ah! - bh!;
  });
  for (const [key, r] of rows) {
    const [nodes, hosts] = key.split('/').map(Number) as [number, number];
    const s = (r.json.summary ?? {}) as Record<string, Summary | number | boolean | undefined>;
    const get = (k: string): Summary | undefined => (typeof s[k] === 'object' ? (s[k] as Summary) : undefined);
    const mesh = get('spawnToMeshMs');
    const target = nodes === 20 && hosts === 4 && mesh?.count ? ` (<= 5 s: ${mesh.median <= LAUNCH_MESH_TARGET_MS ? 'PASS' : 'FAIL'})` : '';
    const cpu = get('idleCpuPercent');
    const rss = get('rssMb');
    lines.push(
      `| ${layoutName({ nodes, hosts })} | ${String(s.runsOk ?? '?')} | ${sec(get('spawnToAllReadyMs')?.median)} | ${sec(get('readyToMeshMs')?.median)} | ${mesh ? sec(mesh.median) + target : '- (older result: no such row)'} | ` +
        `${cpu?.count ? cpu.median.toFixed(2) : '-'} % / ${rss?.count ? rss.median.toFixed(0) : '-'} MB | ${commitOf(r)} | ${machine(r)} | [md](results/${r.file.replace(/\.json$/, '.md')}) |`,
    );
  }
  lines.push('');
  return lines;
}

/**
 * Cost per node against N: the latest scale result's table and two charts (idle CPU per
 * node; mesh bytes/s per node in and out), median with a whisker to the max node.
 */
function scaleSection(latest: ResultFile | undefined, charts: Record<string, string>): string[] {
  if (!latest) return ['## Cost per node against N', '', 'No `scale` results yet: run `npm run bench -- scale`.', ''];
  const rows = ((latest.json.rows ?? []) as ScaleRow[]).filter((r) => r.runsOk > 0).sort((a, b) => a.nodes - b.nodes);
  const o = (latest.json.options ?? {}) as { hosts?: number; idleSeconds?: number; runs?: number };
  const lines = [
    `## Cost per node against N (${o.hosts ?? '?'} virtual hosts, ${o.runs ?? '?'} run(s) per N, ${o.idleSeconds ?? '?'} s idle window)`,
    '',
    `\`npm run bench -- scale\`: N CLI processes (--no-singleton) started together; then, idle, each node's CPU (/proc), RSS (and its anonymous part, and PSS) and its own traffic counters (read from every member's status view by a hidden observer). ` +
      `Targets (issue 10): <= ${SCALE_TARGETS.idleCpuPercent} % of a core and <= ${SCALE_TARGETS.rssMb} MB per node at every N, bytes/s flat in N within x${SCALE_TARGETS.bytesFlatFactor}, 50 nodes meshed <= ${SCALE_TARGETS.launchToMeshMs / 1000} s from launch with no handshake timeout and no nodedown while idle. ` +
      `Commit ${commitOf(latest)}, ${machine(latest)} ([${latest.file.replace(/\.json$/, '.md')}](results/${latest.file.replace(/\.json$/, '.md')})).`,
    '',
    ...scaleTable(rows),
    '',
  ];
  if (rows.length === 0) return lines;
  const groups = rows.map((r) => `N = ${r.nodes}`);
  const pct = (x: Summary): BarValue | undefined => (x.count ? { value: x.median, low: x.min, high: x.max, label: `${x.median.toFixed(2)} %` } : undefined);
  const bps = (x: Summary): BarValue | undefined => (x.count ? { value: x.median, low: x.min, high: x.max, label: `${Math.round(x.median)}` } : undefined);
  charts['scale-cpu.svg'] = barChart({
    title: 'Idle CPU per node against N (median; whisker min to max node)',
    yLabel: '% of one core',
    groups,
    series: [{ name: 'idle CPU per node', values: rows.map((r) => pct(r.cpuPercent)) }],
    reference: { value: SCALE_TARGETS.idleCpuPercent, label: `target ${SCALE_TARGETS.idleCpuPercent} %` },
  });
  charts['scale-bytes.svg'] = barChart({
    title: 'Mesh bytes per second per node against N, idle (median; whisker min to max node)',
    yLabel: 'bytes/s',
    groups,
    series: [
      { name: 'in', values: rows.map((r) => bps(r.meshBytesInPerS)) },
      { name: 'out', values: rows.map((r) => bps(r.meshBytesOutPerS)) },
    ],
  });
  lines.push(`![Idle CPU per node against N](${CHART_DIR}/scale-cpu.svg)`, '', `![Bytes per second per node against N](${CHART_DIR}/scale-bytes.svg)`, '');
  return lines;
}

/** Build the report from parsed results (pure). `generatedAt` is printed in the header. */
export function buildReport(results: readonly ResultFile[], generatedAt: string): Report {
  const charts: Record<string, string> = {};
  const vs = latestVsLayouts(results);
  const failoverVs = latestBy(results, (r) => (r.json.benchmark === 'failover-vs' ? 'x' : undefined)).get('x');
  const scale = latestBy(results, (r) => (r.json.benchmark === 'scale' ? 'x' : undefined)).get('x');
  const headline: string[] = [];
  const loads = vs.map((e) => envOf(e.from).loadAverageBefore).filter((x): x is number => typeof x === 'number');
  if (loads.length) {
    headline.push(
      `- The formation runs below started at a 1-minute load average of ${Math.min(...loads)} to ${Math.max(...loads)} on ${envOf(vs[0]!.from).cores ?? '?'} cores ` +
        '(other work, and the decaying tail of a previous benchmark; during a run the N processes themselves add about N). Compare within a row; rerun on a quiet machine before quoting absolute times.',
    );
  }
  for (const e of vs) {
    if (e.summary.nodes !== VS_TARGET_NODES || !e.summary.ratio.count) continue;
    headline.push(
      `- ${layoutName(e.summary)}: cluster-node reaches a full view in ${sec(e.summary.systems['cluster-node'].launchToFullViewMs.median)}, node-discover in ${sec(e.summary.systems['node-discover'].launchToFullViewMs.median)}: ` +
        `ratio ${e.summary.ratio.median.toFixed(2)} (target <= ${VS_TARGET_RATIO}: ${e.summary.ratio.median <= VS_TARGET_RATIO ? 'met' : 'not met'}).`,
    );
  }
  const twentyOnFour = vs.find((e) => e.summary.nodes === 20 && e.summary.hosts === 4);
  if (twentyOnFour) {
    const m = twentyOnFour.summary.systems['cluster-node'].launchToFullViewMs.median;
    const s = twentyOnFour.summary;
    headline.push(
      `- 20 processes on 4 hosts, started together: cluster-node's full mesh ${sec(m)} after launch (median of the ${s.systems['cluster-node'].ok} of ${s.runs} runs that formed within 30 s of all ready; target <= 5 s: ${m <= LAUNCH_MESH_TARGET_MS ? 'met' : 'not met'}); node-discover ${sec(s.systems['node-discover'].launchToFullViewMs.median)}.`,
    );
  }
  if (failoverVs) {
    const ours = ((failoverVs.json.ours as { summary?: unknown } | undefined)?.summary ?? {}) as Partial<Record<FailoverAction, ActionSummary>>;
    const theirs = ((failoverVs.json.theirs as { summary?: unknown } | undefined)?.summary ?? {}) as Partial<Record<FailoverAction, DiscoverActionSummary>>;
    for (const a of ['SIGKILL', 'SIGSTOP'] as const) {
      if (ours[a] && theirs[a]) headline.push(`- Failover after ${a} of the master, p50: cluster-node ${ms(ours[a].takeoverP50)}, node-discover ${ms(theirs[a].takeoverP50)}; two at once in ${ours[a].trialsWithOverlap} vs ${theirs[a].trialsWithOverlap} of ${theirs[a].ok} trials.`);
    }
  }
  const others = latestBy(results, (r) => (['registry', 'hostile', 'failover', 'formation', 'scale', 'startup', 'handshake'].includes(String(r.json.benchmark)) ? String(r.json.benchmark) : undefined));
  const lines = [
    '# Benchmark report',
    '',
    `Generated by \`npm run bench -- report\` on ${generatedAt} from the latest results in \`bench/results/\`. ` +
      'Figures depend on the machine and its load: compare rows from the same machine; each table names the commit and the load average before/after its run. Charts are SVG drawn by `bench/svg-chart.ts`.',
    '',
    '## Headlines',
    '',
    ...(headline.length ? headline : ['- No side-by-side results yet.']),
    '',
    ...formationSection(vs, charts),
    ...failoverSection(failoverVs, charts),
    ...plainFormationSection(results),
    ...scaleSection(scale, charts),
    '## Latest result of every benchmark',
    '',
    ...[...others.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, r]) => `- ${name}: [${r.file.replace(/\.json$/, '.md')}](results/${r.file.replace(/\.json$/, '.md')}) (commit ${commitOf(r)}, ${dateOf(r) || 'no date'})`),
    '',
  ];
  return { markdown: lines.join('\n'), charts };
}

/** Run the report with command-line arguments (after "report"); resolves with the exit code. */
export async function runReport(argv: string[]): Promise<number> {
  let v: { results?: string; out?: string; help?: boolean };
  try {
    v = parseArgs({ args: argv, options: { results: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`${usageText(err, USAGE)}\n`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const resultsDir = v.results ?? RESULTS_DIR;
  const out = v.out ?? REPORT_FILE;
  const results = loadResults(resultsDir);
  const report = buildReport(results, new Date().toISOString());
  // Links in the report are relative to its folder: point results/ at the real folder.
  const rel = relative(dirname(out), resultsDir).replace(/\\/g, '/') || '.';
  const markdown = rel === 'results' ? report.markdown : report.markdown.replace(/\]\(results\//g, `](${rel}/`);
  mkdirSync(join(dirname(out), CHART_DIR), { recursive: true });
  for (const [name, svg] of Object.entries(report.charts)) writeFileSync(join(dirname(out), CHART_DIR, name), svg);
  writeFileSync(out, markdown);
  console.log(`report: ${results.length} result files read; wrote ${out} and ${Object.keys(report.charts).length} charts in ${join(dirname(out), CHART_DIR)}/ (${Object.keys(report.charts).map((c) => basename(c)).join(', ') || 'none'})`);
  return 0;
}
