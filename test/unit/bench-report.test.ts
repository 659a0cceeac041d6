// Benchmark report (bench/report.ts, bench/svg-chart.ts, bench/formation-vs.ts summaries):
// the SVG chart is well-formed and escapes its text, the report takes the latest result of
// each scenario, and the side-by-side figures (ratio per run, order per run) are right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, escapeXml, niceStep } from '../../bench/svg-chart.js';
import { buildReport, latestVsLayouts, normalizeResult } from '../../bench/report.js';
import type { ResultFile } from '../../bench/report.js';
import { runOrder, summarizeVs } from '../../bench/formation-vs.js';
import type { SystemRun, VsRun } from '../../bench/formation-vs.js';
import { coveredAt, placement } from '../../bench/formation.js';

test('niceStep picks 1, 2 or 5 times a power of ten', () => {
  const cases: [number, number][] = [
    [10, 2],
    [4000, 1000],
    [7771, 2000],
    [3, 1],
    [0.4, 0.1],
    [0, 1],
    [NaN, 1],
  ];
  for (const [max, want] of cases) assert.equal(niceStep(max), want, `max ${max}`);
});

test('barChart: one rect per present value, whiskers, escaped text, reference line', () => {
  const svg = barChart({
    title: 'a <b> & "c"',
    yLabel: 'ms',
    groups: ['N = 5', 'N = 10'],
    series: [
      { name: 'ours', values: [{ value: 100, low: 90, high: 130 }, undefined] },
      { name: "theirs'", values: [{ value: 200 }, { value: 300, label: '0.30 s' }] },
    ],
    reference: { value: 250, label: 'target' },
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;'), 'the title is escaped');
  assert.ok(!svg.includes('<b>'), 'no raw markup from a label');
  assert.ok(svg.includes('theirs&apos;'));
  // background + 3 bars + 2 legend swatches
  assert.equal(svg.match(/<rect /g)?.length, 6);
  assert.ok(svg.includes('>0.30 s</text>'), 'a given label is printed');
  assert.ok(svg.includes('stroke-dasharray'), 'the reference line is dashed');
  // one whisker: a vertical line and two caps
  assert.equal(svg.match(/stroke="#222"/g)?.length, 3);
  // Tags balance: every opened <text> and <title> is closed.
  for (const tag of ['text', 'title', 'svg']) assert.equal(svg.match(new RegExp(`<${tag}[ >]`, 'g'))?.length, svg.match(new RegExp(`</${tag}>`, 'g'))?.length, tag);
  assert.equal(escapeXml(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
});

test('barChart: a bar is as tall as its value on the axis', () => {
  const svg = barChart({ title: 't', yLabel: 'ms', groups: ['g'], series: [{ name: 's', values: [{ value: 500 }] }], height: 380 });
  // top 48, plot height 380 - 48 - 70 = 262; axis max 500 (step 100): the bar fills the plot.
  const m = /<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#1f77b4">/.exec(svg);
  assert.ok(m, svg);
  assert.equal(Number(m[1]), 48);
  assert.equal(Number(m[2]), 262);
});

test('placement spreads nodes over hosts round-robin with distinct names', () => {
  assert.deepEqual(placement(3, 0), [
    { name: 'node1@h1', host: 1 },
    { name: 'node2@h2', host: 2 },
    { name: 'node3@h3', host: 3 },
  ]);
  const p = placement(20, 4);
  assert.equal(new Set(p.map((x) => x.name)).size, 20);
  assert.deepEqual(
    [1, 2, 3, 4].map((h) => p.filter((x) => x.host === h).length),
    [5, 5, 5, 5],
  );
  assert.deepEqual(placement(2, 5).map((x) => x.host), [1, 2], 'never more hosts than nodes');
});

test('coveredAt: the sighting that completes the view, or undefined', () => {
  const s = [
    { peer: 'b', at: 1 },
    { peer: 'b', at: 2 },
    { peer: 'c', at: 5 },
    { peer: 'd', at: 9 },
  ];
  assert.equal(coveredAt(s, ['b', 'c']), 5);
  assert.equal(coveredAt(s, ['b', 'c', 'd']), 9);
  assert.equal(coveredAt(s, ['b', 'x']), undefined);
  assert.equal(coveredAt(s, []), undefined, 'nobody to see is not a full view');
});

const sys = (full: number | undefined): SystemRun => (full === undefined ? { ok: false, error: 'x' } : { ok: true, launchToFullViewMs: full, launchToAllReadyMs: full / 2, readyToFullViewMs: full / 2, rssMb: 50, flaps: 0 });
const vsRun = (nodes: number, run: number, ours: number | undefined, theirs: number | undefined): VsRun => {
  const r: VsRun = { nodes, hosts: nodes, run, order: runOrder(run), systems: { 'cluster-node': sys(ours), 'node-discover': sys(theirs) } };
  if (ours !== undefined && theirs !== undefined) r.ratio = ours / theirs;
  return r;
};

test('side by side: the order alternates and the ratio is the median of per-run ratios', () => {
  assert.deepEqual(runOrder(1), ['cluster-node', 'node-discover']);
  assert.deepEqual(runOrder(2), ['node-discover', 'cluster-node']);
  // Per-run ratios 0.5, 2, 1 -> median 1; the ratio of medians (2000/2000 = 1) agrees here by design, but
  // run 4 failed for one system: it counts for neither the ratio nor that system.
  const s = summarizeVs([vsRun(10, 1, 1000, 2000), vsRun(10, 2, 4000, 2000), vsRun(10, 3, 2000, 2000), vsRun(10, 4, undefined, 1500)]);
  assert.equal(s.ratio.count, 3);
  assert.equal(s.ratio.median, 1);
  assert.equal(s.systems['cluster-node'].ok, 3);
  assert.equal(s.systems['node-discover'].ok, 4);
  assert.equal(s.systems['node-discover'].launchToFullViewMs.median, 2000);
  assert.equal(s.systems['cluster-node'].launchToFullViewMs.p99, 4000);
  assert.equal(s.ratioWithinTarget, false);
  assert.equal(summarizeVs([vsRun(10, 1, 900, 2000)]).ratioWithinTarget, true);
  assert.equal(summarizeVs([vsRun(5, 1, 900, 2000)]).ratioWithinTarget, undefined, 'the target is for N = 10');
});

const vsFile = (file: string, date: string, runs: VsRun[][], commit = 'abc1234'): ResultFile =>
  normalizeResult(file, { benchmark: 'formation-vs', env: { date, commit, cores: 2, cpu: 'CPU', loadAverageBefore: 0.1, loadAverageAfter: 0.2 }, summaries: runs.map((r) => summarizeVs(r)) })!;

test('report: the latest result of each layout wins; charts and headline follow', () => {
  const older = vsFile('formation-vs-node-discover-n5_10-1.json', '2026-12-01T10:00:00.000Z', [[vsRun(5, 1, 1000, 2000)], [vsRun(10, 1, 9000, 2000)]], 'old0000');
  const newer = vsFile('formation-vs-node-discover-n10-2.json', '2026-12-01T11:00:00.000Z', [[vsRun(10, 1, 800, 2000)]], 'new0000');
  const onFour = vsFile('formation-vs-node-discover-n20-h4-3.json', '2026-12-01T09:00:00.000Z', [[{ ...vsRun(20, 1, 4000, 3000), hosts: 4 }]]);
  const hostile = normalizeResult('hostile-20261201T113158Z.json', { environment: { date: '2026-12-01T11:31:58.010Z', commit: '19bf0df' } })!;
  assert.equal(hostile.json.benchmark, 'hostile', 'the benchmark name comes from the file name when the file has none');
  assert.equal(normalizeResult('x.json', [1, 2]), undefined);

  const layouts = latestVsLayouts([newer, older, onFour]);
  assert.deepEqual(
    layouts.map((l) => [l.summary.nodes, l.summary.hosts, l.from.file]),
    [
      [5, 5, older.file],
      [10, 10, newer.file],
      [20, 4, onFour.file],
    ],
    'one process per host first, by N, then the other layouts',
  );
  const r = buildReport([newer, older, onFour, hostile], '2026-12-01T12:00:00Z');
  assert.ok(r.markdown.includes('ratio 0.40 (target <= 0.5: met)'), r.markdown);
  const row = (start: string): string | undefined => r.markdown.split('\n').find((l) => l.startsWith(start));
  assert.match(row('| 10 (one per host) |') ?? '', /\| new0000 \|/, 'N = 10 comes from the newer file');
  assert.match(row('| 5 (one per host) |') ?? '', /\| old0000 \|/, 'the older file still supplies N = 5');
  assert.ok(r.markdown.includes("20 processes on 4 hosts, started together: cluster-node's full mesh 4.00 s after launch (median of the 1 of 1 runs that formed within 30 s of all ready; target <= 5 s: met)"), r.markdown);
  assert.ok(r.markdown.includes('1-minute load average of 0.1 to 0.1 on 2 cores'), 'the headline says how busy the machine was');
  assert.ok(r.markdown.includes('- hostile: [hostile-20261201T113158Z.md](results/hostile-20261201T113158Z.md)'));
  assert.deepEqual(Object.keys(r.charts).sort(), ['formation-vs-layouts.svg', 'formation-vs-n.svg']);
  assert.ok(r.markdown.includes('](report/formation-vs-n.svg)'));
  assert.ok(r.markdown.includes('No `failover-vs` results yet'));
});

test('the report draws cost per node against N from the latest scale result: table, CPU chart with the target, bytes chart in and out', () => {
  const s = (median: number, max = median): { median: number; min: number; max: number; count: number } => ({ median, min: median, max, count: 10 });
  const row = (nodes: number, cpu: number, bytes: number) => ({
    nodes,
    runsOk: 1,
    runsFailed: 0,
    spawnToMeshMs: s(4000),
    runsNotMeshed: 0,
    handshakeTimeoutWarnings: s(0),
    formationWarnings: s(0),
    idleWarnings: s(0),
    idleNodedowns: s(0),
    cpuPercent: s(cpu, cpu * 2),
    rssMb: s(60),
    anonMb: s(18),
    pssMb: s(14),
    meshBytesInPerS: s(bytes),
    meshBytesOutPerS: s(bytes + 1),
    mdnsPacketsInPerS: s(1),
    mdnsPacketsOutPerS: s(0.1),
    viewsIdentical: true,
    printedListsFull: true,
    loadAverage: [1, 2],
  });
  const env = { date: '2026-12-01T16:00:00Z', commit: 'sc0000', cores: 2, cpu: 'x', loadAverageBefore: 1, loadAverageAfter: 2 };
  const older = normalizeResult('scale-n10-h5-a.json', { benchmark: 'scale', env: { ...env, date: '2026-12-01T15:00:00Z', commit: 'old000' }, options: { hosts: 5, idleSeconds: 60, runs: 1 }, rows: [row(10, 9, 9)] })!;
  const newer = normalizeResult('scale-n10_25-h5-b.json', { benchmark: 'scale', env, options: { hosts: 5, idleSeconds: 60, runs: 1 }, rows: [row(25, 0.4, 700), row(10, 0.3, 650)] })!;
  const r = buildReport([newer, older], '2026-12-01T17:00:00Z');
  assert.ok(r.markdown.includes('## Cost per node against N (5 virtual hosts, 1 run(s) per N, 60 s idle window)'), r.markdown);
  const lines = r.markdown.split('\n');
  const i10 = lines.findIndex((l) => l.startsWith('| 10 | 4.0 s |'));
  const i25 = lines.findIndex((l) => l.startsWith('| 25 | 4.0 s |'));
  assert.ok(i10 > 0 && i25 > i10, 'rows by N, from the newer file');
  assert.match(lines[i10]!, /\| 0\.30 \/ 0\.60 \|/);
  assert.ok(r.markdown.includes('Commit sc0000'));
  assert.ok(r.charts['scale-cpu.svg']!.includes('target 0.5 %'));
  assert.ok(r.charts['scale-bytes.svg']!.includes('>in<') && r.charts['scale-bytes.svg']!.includes('>out<'));
  assert.ok(r.markdown.includes('](report/scale-cpu.svg)') && r.markdown.includes('](report/scale-bytes.svg)'));
});
