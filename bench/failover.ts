// Failover benchmark: how fast a Singleton moves when its holder fails, and whether
// two ever run at once. N nodes (default 5), one per host of a virtual LAN, run
// `cluster-node --failover` (default with a majority `--quorum`). Each trial waits for
// a steady cluster (all up and meshed, exactly one node roaring), then hits the holder
// with one of:
//   SIGKILL  — the process dies; the others see the connections close;
//   SIGSTOP  — the process freezes with its sockets open; the others must time it out.
//              After the takeover it gets SIGCONT and must stop without roaring again;
//   SIGTERM  — a clean stop: the holder hands the Singleton over as it leaves.
// and measures, from the signal, the time to the new holder's tenure line and first
// roar, and the time two nodes were roaring at once (timeline.ts; a frozen process
// cannot roar). Killed and stopped nodes are restarted so the cluster stays at N.
// --vs node-discover also runs node-discover's master re-election under the same faults
// and prints both side by side (failover-vs.ts).
// --lease etcd elects the Singleton through an etcd v3 lease instead (no --quorum): one
// etcd server runs inside the virtual LAN, in host h1's namespace at 10.77.0.1:2379
// (its own process, so a fault on h1's node never touches it), in a temporary data
// directory removed afterwards.
// Invariant: every process runs inside the virtual LAN (vlan.ts); nothing is left running.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { CLI_BIN } from '../test/helpers/cli-process.js';
import { ChaosCluster, pollUntil } from '../test/chaos/cluster.js';
import { buildTimeline, coveredMs, isRoar, parseTenureLine } from '../test/chaos/timeline.js';
import { UsageError, environment, intOption, preflight, usageText } from './common.js';
import { percentile } from './stats.js';
import type { ActionRecord, Timeline } from '../test/chaos/timeline.js';

/** The fault a trial applies to the holder. */
export type FailoverAction = 'SIGKILL' | 'SIGSTOP' | 'SIGTERM';
const ACTIONS: readonly FailoverAction[] = ['SIGKILL', 'SIGSTOP', 'SIGTERM'];

/** Targets printed beside the results: takeover time (p99) per action, and overlap with a quorum. */
export const FAILOVER_TARGETS: Readonly<{ takeoverMs: Readonly<Record<FailoverAction, number>>; overlapMs: number }> = {
  takeoverMs: { SIGKILL: 1000, SIGSTOP: 5000, SIGTERM: 500 },
  overlapMs: 0,
};

/**
 * Targets of --lease etcd: a killed holder cannot revoke its lease, so etcd expires it
 * one TTL (3 s with the default failure timeout) after its last keepalive: within 4 s.
 */
export const ETCD_FAILOVER_TARGETS: typeof FAILOVER_TARGETS = {
  takeoverMs: { SIGKILL: 4000, SIGSTOP: 5000, SIGTERM: 500 },
  overlapMs: 0,
};

/** Where the benchmark's etcd listens: host h1 of the virtual LAN. */
const BENCH_ETCD_ENDPOINT = 'http://10.77.0.1:2379';

const USAGE = `usage: npm run bench -- failover [--nodes N] [--trials T] [--quorum majority|none|Q] [--lease quorum|etcd] [--actions LIST] [--rest-ms MS] [--vs node-discover] [--out DIR]
  --nodes N        node processes, one per virtual host (default 5)
  --trials T       trials per action (default 20, with --vs 10; --trials 5 for a quick run)
  --vs node-discover  also run node-discover's master re-election under the same faults, side by side
                   (default actions then SIGKILL,SIGSTOP)
  --quorum Q       majority (default: 3 of 5), none (plain --failover) or a number of members
  --lease etcd     elect through an etcd v3 lease (etcd inside the virtual LAN, on h1); no --quorum
  --actions LIST   comma-separated subset of SIGKILL,SIGSTOP,SIGTERM (default all; trials interleave them)
  --rest-ms MS     wait this long in a steady cluster before each trial (default 1000)
  --out DIR        where results are written (default bench/results)`;

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** A new holder must appear within this long of the fault, or the trial fails. */
const TAKEOVER_TIMEOUT_MS = 20_000;
/** A cluster must be steady again within this long of the fault being undone. */
const STEADY_TIMEOUT_MS = 60_000;
/** After SIGCONT, watch the thawed node at least this long for a roar it must not make. */
const THAW_WATCH_MS = 2000;

/** Parsed failover options. */
export interface FailoverOptions {
  nodes: number;
  /** --vs: the peer whose master election runs beside ours. */
  vs: 'node-discover' | undefined;
  trials: number;
  quorum: number;
  /** Who elects the Singleton: the cluster itself (quorum) or etcd. */
  lease: 'quorum' | 'etcd';
  actions: FailoverAction[];
  restMs: number;
  out: string;
}

/** What one trial measured. Times are ms from the signal. */
interface TrialResult {
  trial: number;
  action: FailoverAction;
  ok: boolean;
  error?: string;
  oldHolder?: string;
  newHolder?: string;
  oldEpoch?: number;
  newEpoch?: number;
  /** Signal to the new holder's `Singleton tenure started` line. */
  takeoverMs?: number;
  /** Signal to the new holder's first roar. */
  firstRoarMs?: number;
  /** Time two or more nodes were roaring at once, from the signal to the end of the trial. */
  overlapMs?: number;
  /** SIGSTOP: roars of the thawed process after SIGCONT (must be 0). */
  roarsAfterThaw?: number;
  /** Nodes in the overlaps during the trial. */
  overlapNodes?: string[];
  /** SIGSTOP, when it roared or overlapped: what the thawed process printed after SIGCONT. */
  thawedOutput?: string[];
  /** SIGSTOP: how the thawed node's tenure ended (its log line), if it logged one. */
  thawedStop?: string;
  /** SIGTERM: exit code of the stopped holder (0 is a clean stop). */
  exitCode?: number | null;
  /** Signal to steady again (all N up, meshed, one roaring). */
  steadyMs?: number;
  /** Internal: absolute times for the overlap pass. */
  at?: number;
  endAt?: number;
  thawAt?: number;
  thawedProcess?: number;
}

function parseOptions(argv: string[]): FailoverOptions | string {
  try {
    const v = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        trials: { type: 'string' },
        quorum: { type: 'string' },
        lease: { type: 'string' },
        actions: { type: 'string' },
        'rest-ms': { type: 'string' },
        vs: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (v.help) return USAGE;
    const nodes = intOption('nodes', v.nodes, 5, 3, 9);
    if (v.vs !== undefined && v.vs !== 'node-discover') throw new UsageError(`--vs takes node-discover, got "${v.vs}"`);
    const vs = v.vs as 'node-discover' | undefined;
    const trials = intOption('trials', v.trials, vs ? 10 : 20, 1, 1000);
    const restMs = intOption('rest-ms', v['rest-ms'], 1000, 0, 60_000);
    const lease = v.lease ?? 'quorum';
    if (lease !== 'quorum' && lease !== 'etcd') throw new UsageError(`--lease takes quorum or etcd, got "${lease}"`);
    if (lease === 'etcd' && (v.quorum !== undefined || vs)) throw new UsageError('--lease etcd takes no --quorum and no --vs');
    const q = lease === 'etcd' ? 'none' : (v.quorum ?? 'majority');
    const quorum = q === 'majority' ? Math.floor(nodes / 2) + 1 : q === 'none' ? 0 : Number(q);
    if (!Number.isInteger(quorum) || quorum < 0 || quorum > nodes) throw new UsageError(`--quorum must be majority, none or 1-${nodes}, got "${q}"`);
    const actions = (v.actions ?? (vs ? 'SIGKILL,SIGSTOP' : ACTIONS.join(','))).split(',').map((s) => s.trim().toUpperCase());
    const unknown = actions.filter((a) => !ACTIONS.includes(a as FailoverAction));
    if (unknown.length || actions.length === 0) throw new UsageError(`--actions takes a subset of ${ACTIONS.join(',')}, got "${v.actions}"`);
    return { nodes, vs, trials, quorum, lease, actions: [...new Set(actions)] as FailoverAction[], restMs, out: v.out ?? RESULTS_DIR };
  } catch (err) {
    return usageText(err, USAGE);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Run one trial against the steady cluster's holder. */
async function oneTrial(cluster: ChaosCluster, trial: number, action: FailoverAction, holderHost: number): Promise<TrialResult> {
  const r: TrialResult = { trial, action, ok: false };
  const holder = cluster.live(holderHost)!;
  r.oldHolder = holder.name;
  const procIndex = cluster.processes.indexOf(holder);
  let fault: ActionRecord;
  let exited: Promise<unknown> = Promise.resolve();
  if (action === 'SIGKILL') {
    const p = cluster.sigkill(holderHost);
    fault = cluster.actions.at(-1)!;
    exited = p;
  } else if (action === 'SIGTERM') {
    const p = cluster.sigterm(holderHost);
    fault = cluster.actions.at(-1)!;
    exited = p;
  } else {
    fault = cluster.sigstop(holderHost);
  }
  r.at = fault.at;
  try {
    const next = await pollUntil(() => cluster.firstTenureSince(fault.at, holderHost), TAKEOVER_TIMEOUT_MS, `a new holder after ${action} of ${holder.name}`);
    r.newHolder = next.node.name;
    r.newEpoch = next.epoch;
    r.takeoverMs = next.at - fault.at;
    const roar = await pollUntil(() => next.node.stdoutLines.find((l) => l.at >= next.at && isRoar(l.text)), 5000, `the first roar of ${next.node.name}`).catch(() => undefined);
    if (roar) r.firstRoarMs = roar.at - fault.at;
    let restoreAt: number;
    if (action === 'SIGSTOP') {
      restoreAt = cluster.sigcont(holderHost).at;
      r.thawAt = restoreAt;
      r.thawedProcess = procIndex;
      await sleep(THAW_WATCH_MS);
    } else {
      await exited;
      r.exitCode = holder.exit?.code ?? null;
      restoreAt = cluster.restart(holderHost).at;
    }
    await cluster.waitSteady(restoreAt, STEADY_TIMEOUT_MS);
    r.endAt = performance.now();
    r.steadyMs = r.endAt - fault.at;
    if (action === 'SIGSTOP') {
      const stop = holder.logs.find((l) => l.at >= restoreAt && (l.message.startsWith('stale tenure of Singleton') || /^Singleton \(epoch \d+\) superseded/.test(l.message)));
      if (stop) r.thawedStop = stop.message;
    }
    r.ok = true;
  } catch (err) {
    r.error = (err as Error).message;
    r.endAt = performance.now();
    // Put the host back so later trials can run.
    if (cluster.isFrozen(holderHost)) cluster.sigcont(holderHost);
    if (action !== 'SIGSTOP') {
      await exited;
      if (!cluster.live(holderHost)) cluster.restart(holderHost);
    }
  }
  return r;
}

/** What the thawed process printed and logged after SIGCONT (member lists left out), times in ms from the SIGSTOP. */
function thawedOutput(n: ChaosCluster['processes'][number], faultAt: number, thawAt: number, endAt: number): string[] {
  const rel = (at: number): string => `+${Math.round(at - faultAt)} ms`;
  return [
    `${rel(thawAt)} SIGCONT`,
    ...[
      ...n.stdoutLines.filter((l) => !l.text.startsWith('[')).map((l) => ({ at: l.at, text: l.text })),
      ...n.logs.map((l) => ({ at: l.at, text: `${l.level}: ${l.message}` })),
    ]
      .filter((l) => l.at >= thawAt && l.at <= endAt)
      .sort((a, b) => a.at - b.at)
      .map((l) => `${rel(l.at)} ${l.text}`),
  ];
}

/** Fill in overlap figures from the whole-run timeline. */
function measureOverlaps(results: TrialResult[], timeline: Timeline, cluster: ChaosCluster): void {
  for (const r of results) {
    if (r.at === undefined || r.endAt === undefined) continue;
    r.overlapMs = coveredMs(timeline.overlaps, r.at, r.endAt);
    const old = timeline.tenures.filter((t) => t.node === r.oldHolder && t.startAt < r.at!).at(-1);
    if (old) r.oldEpoch = old.epoch;
    r.overlapNodes = [...new Set(timeline.overlaps.filter((x) => x.to > r.at! && x.from < r.endAt!).flatMap((x) => x.nodes))].sort();
    if (r.thawedProcess !== undefined && r.thawAt !== undefined) {
      // Roars of the frozen tenure after SIGCONT: up to the thawed node's next tenure line, if it started one.
      const lines = cluster.processes[r.thawedProcess]!.stdoutLines.filter((l) => l.at >= r.thawAt! && l.at <= r.endAt!);
      const nextTenure = lines.findIndex((l) => parseTenureLine(l.text) !== undefined);
      r.roarsAfterThaw = (nextTenure < 0 ? lines : lines.slice(0, nextTenure)).filter((l) => isRoar(l.text)).length;
      if (r.roarsAfterThaw > 0 || (r.overlapMs ?? 0) > 0) r.thawedOutput = thawedOutput(cluster.processes[r.thawedProcess]!, r.at!, r.thawAt, r.endAt!);
    }
  }
}

const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '-' : `${Math.round(ms)} ms`);

/** What one action's trials measured. */
export interface ActionSummary {
  trials: number;
  ok: number;
  takeoverP50: number;
  takeoverP99: number;
  takeoverMax: number;
  firstRoarP50: number;
  firstRoarP99: number;
  overlapP50: number;
  overlapP99: number;
  overlapMax: number;
  trialsWithOverlap: number;
  roarsAfterThaw: number;
  cleanExits: number;
}

function summarizeAction(rs: readonly TrialResult[]): ActionSummary {
  const ok = rs.filter((r) => r.ok);
  const take = ok.map((r) => r.takeoverMs!);
  const roar = ok.flatMap((r) => (r.firstRoarMs === undefined ? [] : [r.firstRoarMs]));
  const ov = ok.map((r) => r.overlapMs ?? 0);
  return {
    trials: rs.length,
    ok: ok.length,
    takeoverP50: percentile(take, 50),
    takeoverP99: percentile(take, 99),
    takeoverMax: take.length ? Math.max(...take) : NaN,
    firstRoarP50: percentile(roar, 50),
    firstRoarP99: percentile(roar, 99),
    overlapP50: percentile(ov, 50),
    overlapP99: percentile(ov, 99),
    overlapMax: ov.length ? Math.max(...ov) : NaN,
    trialsWithOverlap: ov.filter((x) => x > 0).length,
    roarsAfterThaw: ok.reduce((s, r) => s + (r.roarsAfterThaw ?? 0), 0),
    cleanExits: ok.filter((r) => r.exitCode === 0).length,
  };
}

/** Run the failover benchmark with command-line arguments (after "failover"); resolves with the exit code. */
export async function runFailover(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const early = await preflight('failover', o, USAGE, true);
  if (early !== undefined || typeof o === 'string') return early ?? 2;
  if (o.vs) return (await import('./failover-vs.js')).runFailoverVersus(o);
  if (o.lease === 'etcd') {
    const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      process.stderr.write('failover: --lease etcd needs an etcd binary (Debian: apt-get install etcd-server)\n');
      return 1;
    }
  }
  return (await measureFailover(o)).code;
}

/** What measureFailover resolves with: the exit code, the summary per action and the results file (without .json). */
export interface FailoverOutcome {
  code: number;
  summary: Partial<Record<FailoverAction, ActionSummary>>;
  file: string;
}

/** Run the failover trials with parsed options, print and write the results. */
export async function measureFailover(o: FailoverOptions): Promise<FailoverOutcome> {
  const loadBefore = loadavg()[0]!;
  const etcd = o.lease === 'etcd';
  const mode = etcd ? `--lease etcd` : o.quorum > 0 ? `--failover --quorum ${o.quorum}` : '--failover';
  console.log(`failover: ${o.nodes} nodes (${mode}), ${o.trials} trials x ${o.actions.join(', ')}, CLI ${CLI_BIN}`);

  const cluster = await ChaosCluster.create({
    hosts: o.nodes,
    quorum: o.quorum,
    cookie: `bench-failover-${process.pid}`,
    ...(etcd ? { args: ['--lease', 'etcd', '--etcd-endpoints', BENCH_ETCD_ENDPOINT] } : {}),
  });
  const etcdDir = etcd ? mkdtempSync(join(tmpdir(), 'cn-bench-etcd-')) : undefined;
  const results: TrialResult[] = [];
  let timeline: Timeline;
  let aborted: string | undefined;
  const startedAt = performance.now();
  try {
    if (etcdDir) await startBenchEtcd(cluster, etcdDir);
    await cluster.startAll();
    let since = 0;
    outer: for (let trial = 1; trial <= o.trials; trial++) {
      for (const action of o.actions) {
        let holderHost: number;
        try {
          await cluster.waitSteady(since, STEADY_TIMEOUT_MS);
          await sleep(o.restMs);
          holderHost = await cluster.waitSteady(since, STEADY_TIMEOUT_MS);
        } catch (err) {
          aborted = `cluster not steady before trial ${trial} (${action}): ${(err as Error).message.split('\n')[0]}`;
          console.log(aborted);
          break outer;
        }
        const r = await oneTrial(cluster, trial, action, holderHost);
        results.push(r);
        since = r.endAt ?? performance.now();
        console.log(
          r.ok
            ? `trial ${trial}/${o.trials} ${action.padEnd(7)} ${r.oldHolder} -> ${r.newHolder} (epoch ${r.newEpoch}): takeover ${fmtMs(r.takeoverMs)}, first roar ${fmtMs(r.firstRoarMs)}, steady after ${fmtMs(r.steadyMs)}` +
                // Its roars after SIGCONT are counted from the whole run's timeline, in the summary.
                (r.action === 'SIGSTOP' ? `, thawed holder: ${r.thawedStop ? `"${r.thawedStop.slice(0, 60)}"` : 'no stop log'}` : '') +
                (r.action === 'SIGTERM' ? `, exit ${r.exitCode}` : '')
            : `trial ${trial}/${o.trials} ${action} FAILED: ${r.error?.split('\n')[0]}`,
        );
      }
    }
    timeline = buildTimeline(cluster.processes, cluster.actions, { to: performance.now(), hosts: o.nodes });
    measureOverlaps(results, timeline, cluster);
  } finally {
    // The LAN's destroy() kills every process it started, etcd included.
    await cluster.destroy();
    if (etcdDir) rmSync(etcdDir, { recursive: true, force: true });
  }
  const wallMs = performance.now() - startedAt;

  const byAction = Object.fromEntries(o.actions.map((a) => [a, summarizeAction(results.filter((r) => r.action === a))])) as Partial<Record<FailoverAction, ActionSummary>>;
  const t = etcd ? ETCD_FAILOVER_TARGETS : FAILOVER_TARGETS;
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  const lines = [
    `## Failover benchmark: ${o.nodes} nodes, ${mode}, ${results.filter((r) => r.ok).length}/${results.length} trials completed`,
    '',
    '| action on the holder | trials | takeover p50 | takeover p99 (max) | first roar p50 / p99 | target (p99) | overlap p50 / p99 (max) | trials with overlap | target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const a of o.actions) {
    const s = byAction[a]!;
    const overlapTarget = o.quorum > 0 || etcd ? `0 ms: ${verdict(s.overlapMax === 0)}` : '- (no quorum)';
    lines.push(
      `| ${a} | ${s.ok}/${s.trials} | ${fmtMs(s.takeoverP50)} | ${fmtMs(s.takeoverP99)} (${fmtMs(s.takeoverMax)}) | ${fmtMs(s.firstRoarP50)} / ${fmtMs(s.firstRoarP99)} | ` +
        `<= ${t.takeoverMs[a]} ms: ${verdict(s.takeoverP99 <= t.takeoverMs[a])} | ${fmtMs(s.overlapP50)} / ${fmtMs(s.overlapP99)} (${fmtMs(s.overlapMax)}) | ${s.trialsWithOverlap} | ${overlapTarget} |`,
    );
  }
  lines.push('');
  const stop = byAction.SIGSTOP;
  if (stop) {
    const thawLogs = results.filter((r) => r.action === 'SIGSTOP' && r.ok && r.thawedStop).length;
    lines.push(`SIGSTOP: roars by the thawed holder after SIGCONT: ${stop.roarsAfterThaw} (must be 0: ${verdict(stop.roarsAfterThaw === 0)}); it logged its tenure's end after SIGCONT in ${thawLogs}/${stop.ok} trials.`);
  }
  const term = byAction.SIGTERM;
  if (term) lines.push(`SIGTERM: the holder exited 0 in ${term.cleanExits}/${term.ok} trials.`);
  lines.push(
    `Whole run: ${timeline.tenures.length} tenures, epochs ${timeline.epochViolations.length === 0 ? 'strictly increasing' : `NOT increasing (${timeline.epochViolations.length} violations)`}, ` +
      `${timeline.anomalies.length} anomalies (roars from stopped or superseded tenures), overlap ${fmtMs(timeline.overlapStats.totalMs)} in total.`,
    'Takeover is measured from the signal to the new holder\'s `Singleton tenure started` line (first roar right after); overlap is time two nodes were roaring (each roar counts for 1.25 s, cut at a kill, a freeze or a stop log).',
  );
  if (aborted) lines.push('', `Aborted: ${aborted}`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) lines.push('', '### Failed trials', '', ...failed.map((r) => `- trial ${r.trial} ${r.action}: ${r.error?.split('\n')[0]}`));
  if (timeline.anomalies.length) {
    lines.push('', `### Anomalies (${timeline.anomalies.length})`, '');
    for (const a of timeline.anomalies.slice(0, 20)) lines.push(`- ${((a.at - startedAt) / 1000).toFixed(3)} s ${a.kind} ${a.node}: ${a.detail}`);
  }
  const acted = results.filter((r) => r.thawedOutput);
  if (acted.length) {
    lines.push('', '### SIGSTOP trials where the thawed holder roared or overlapped', '');
    for (const r of acted) {
      lines.push(`- trial ${r.trial}: ${r.oldHolder} (epoch ${r.oldEpoch}) frozen, ${r.newHolder} took over (epoch ${r.newEpoch}) after ${fmtMs(r.takeoverMs)}; overlap ${fmtMs(r.overlapMs)} (${r.overlapNodes?.join(' + ')}); thawed output:`);
      for (const l of r.thawedOutput!.slice(0, 15)) lines.push(`  - ${l}`);
    }
  }
  const env = { ...environment(loadBefore), wallSeconds: Math.round(wallMs / 1000) };
  lines.push(
    '',
    `Environment: ${env.date}, commit ${env.commit ?? '?'}, Node ${env.node}, ${env.cores} x ${env.cpu ?? '?'}, ` +
      `load average ${env.loadAverageBefore} before / ${env.loadAverageAfter} after, ${env.wallSeconds} s wall time.`,
  );
  const markdown = lines.join('\n') + '\n';
  console.log(`\n${markdown}`);

  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/failover-n${o.nodes}-${etcd ? 'etcd' : `q${o.quorum}`}-${stamp}`;
  const trials = results.map(({ at: _at, endAt: _endAt, thawAt: _thawAt, thawedProcess: _p, ...rest }) => rest);
  const json = { benchmark: etcd ? 'failover-etcd' : 'failover', env, options: o, targets: t, summary: byAction, timeline: {
      overlapMs: timeline.overlapStats.totalMs,
      overlaps: timeline.overlaps.map((x) => ({ fromS: Number(((x.from - startedAt) / 1000).toFixed(3)), durationMs: Math.round(x.to - x.from), nodes: x.nodes, cause: x.cause })),
      epochViolations: timeline.epochViolations,
      anomalies: timeline.anomalies.map((a) => ({ ...a, at: Number(((a.at - startedAt) / 1000).toFixed(3)) })),
    }, trials };
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown);
  console.log(`results written to ${base}.json and ${base}.md`);
  return { code: failed.length === 0 && !aborted ? 0 : 1, summary: byAction, file: base };
}

/** Start one etcd in host h1's namespace (client and peer URLs on 10.77.0.1) and wait until it answers there. */
async function startBenchEtcd(cluster: ChaosCluster, dataDir: string): Promise<void> {
  const peer = 'http://10.77.0.1:2380';
  const child = cluster.lan.spawn(1, 'etcd', [
    '--name', 'bench',
    '--data-dir', dataDir,
    '--listen-client-urls', BENCH_ETCD_ENDPOINT,
    '--advertise-client-urls', BENCH_ETCD_ENDPOINT,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `bench=${peer}`,
    '--listen-metrics-urls', '',
    '--log-level', 'warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => void (log = (log + d).slice(-4000)));
  const probe = `fetch('${BENCH_ETCD_ENDPOINT}/v3/kv/range',{method:'POST',body:'{"key":"AA=="}',signal:AbortSignal.timeout(1000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  const deadline = performance.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${log}`);
    const r = await cluster.lan.exec(2, process.execPath, ['-e', probe], { timeoutMs: 5000 });
    if (r.code === 0) break;
    if (performance.now() > deadline) throw new Error(`etcd did not answer on ${BENCH_ETCD_ENDPOINT} within 20 s: ${log}`);
    await sleep(100);
  }
  console.log(`etcd ready at ${BENCH_ETCD_ENDPOINT} (in the virtual LAN, host h1), probed from h2`);
}
