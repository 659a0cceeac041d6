// Chaos runner: starts a failover cluster (3-5 hosts of a virtual LAN, one node each,
// optionally with a majority quorum), waits for the first Singleton, plays a seeded
// schedule of faults (schedule.ts) for a bounded time, undoes every fault, gives the
// cluster a bounded time to settle, then measures the Singleton timeline (timeline.ts)
// and judges it:
//   safety (with a quorum) — never two nodes active at once (overlap 0 ms), epochs
//     strictly increasing across starts, no roar from a stopped or superseded tenure;
//   liveness — no gap in which a healthy majority waited longer than gapLimitMs, and a
//     steady cluster (all up, meshed, one roaring) at the end.
// Without a quorum a cut-off holder keeps its Singleton by design (split brain), so
// overlaps and epoch repeats are reported but do not fail the run.
// Invariant: the run ends by itself (every wait has a deadline) and leaves nothing behind.
import { performance } from 'node:perf_hooks';
import { ChaosCluster } from './cluster.js';
import type { ChaosStep } from './schedule.js';
import { describeStep, generateSchedule } from './schedule.js';
import { buildTimeline, DEFAULT_GAP_LIMIT_MS } from './timeline.js';
import type { ActionRecord, DurationStats, Timeline } from './timeline.js';

/** Options of a chaos run. */
export interface ChaosOptions {
  seed: number;
  /** Hosts, one node each: 3 to 5. */
  hosts: number;
  /** --quorum for every node; 0 for plain --failover. */
  quorum: number;
  /** Length of the fault phase, ms. */
  durationMs: number;
  /** Most faults in progress at once; default: a minority, floor((hosts - 1) / 2). */
  maxDisrupted?: number;
  /** After the last fault is undone, how long the cluster may take to become steady, ms; default 20 000. */
  settleMs?: number;
  /** Flag a gap whose longest healthy stretch exceeds this, ms; default 6 000. */
  gapLimitMs?: number;
  /** --log-level of the nodes (debug shows quorum rounds); default 'info'. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Progress lines (actions as they happen); default: none. */
  log?: (line: string) => void;
}

/** A step as it ran: the plan and the host it hit (or why it was skipped). */
export interface StepRun {
  step: ChaosStep;
  host?: number;
  holderHit?: boolean;
  skipped?: string;
}

/** What a chaos run measured and concluded. */
export interface ChaosReport {
  options: Required<Omit<ChaosOptions, 'log' | 'logLevel'>>;
  /** performance.now() at the LAN's creation: report times are relative to it. */
  t0: number;
  chaosStartAt: number;
  chaosEndAt: number;
  steps: StepRun[];
  actions: ActionRecord[];
  timeline: Timeline;
  /** ms from the last fault undone to a steady cluster, or undefined if it never got steady. */
  settledAfterMs: number | undefined;
  settleError?: string;
  /** Roars per node over the run. */
  roarsPerNode: Record<string, number>;
  safetyChecked: boolean;
  safetyOk: boolean;
  livenessOk: boolean;
  /** Why the run failed, one line each; empty when it passed. */
  failures: string[];
  /** Every process run's output (stdout lines and JSON logs) in arrival order, times relative to t0, keyed `node1@h1 run 2`. */
  transcripts: Record<string, string[]>;
}

/** A process run's stdout and logs merged in arrival order, each line prefixed with its time relative to t0. */
function transcript(n: ChaosCluster['processes'][number], t0: number): string[] {
  const rel = (at: number): string => ((at - t0) / 1000).toFixed(3).padStart(8);
  const lines = [
    ...n.stdoutLines.map((l) => ({ at: l.at, text: `${rel(l.at)} out ${l.text}` })),
    ...n.logs.map((l) => ({ at: l.at, text: `${rel(l.at)} log ${JSON.stringify(l.fields)}` })),
    ...n.stderrRaw.map((l) => ({ at: l.at, text: `${rel(l.at)} err ${l.text}` })),
  ].sort((a, b) => a.at - b.at);
  const exit = n.exit ? [`${rel(n.exit.at)} exit ${n.exit.code ?? n.exit.signal}`] : [];
  return [`${rel(n.spawnedAt)} spawned pid ${n.pid}`, ...lines.map((l) => l.text), ...exit];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Run chaos once; resolves with the report (rejects only if the cluster cannot be built or never elects). */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  if (!Number.isInteger(o.hosts) || o.hosts < 3 || o.hosts > 5) throw new Error(`chaos: hosts must be 3 to 5, got ${o.hosts}`);
  const options = {
    seed: o.seed,
    hosts: o.hosts,
    quorum: o.quorum,
    durationMs: o.durationMs,
    maxDisrupted: o.maxDisrupted ?? Math.max(1, Math.floor((o.hosts - 1) / 2)),
    settleMs: o.settleMs ?? 20_000,
    gapLimitMs: o.gapLimitMs ?? DEFAULT_GAP_LIMIT_MS,
  };
  const log = o.log ?? ((): void => {});
  const t0 = performance.now();
  const rel = (t: number): string => `${((t - t0) / 1000).toFixed(3)} s`;
  const schedule = generateSchedule(o.seed, { durationMs: options.durationMs, maxDisrupted: options.maxDisrupted });
  log(`seed ${o.seed}: ${schedule.length} faults over ${options.durationMs / 1000} s, ${o.hosts} hosts, ${o.quorum > 0 ? `--quorum ${o.quorum}` : 'no quorum'}`);
  for (const s of schedule) log(`  plan ${describeStep(s)}`);

  const cluster = await ChaosCluster.create({
    hosts: o.hosts,
    quorum: o.quorum,
    cookie: `chaos-${o.seed}`,
    logLevel: o.logLevel ?? 'info',
    onAction: (a) => log(`  ${rel(a.at)} ${a.kind} ${a.node}`),
  });
  try {
    await cluster.startAll();
    const first = await cluster.waitSteady(0, 30_000);
    log(`  ${rel(performance.now())} steady, ${cluster.nodeName(first)} holds the Singleton; faults begin`);

    const chaosStartAt = performance.now();
    const busyUntil = new Map<number, number>();
    const undo: Promise<void>[] = [];
    const steps: StepRun[] = [];
    const harnessErrors: string[] = [];
    for (const step of schedule) {
      await sleep(chaosStartAt + step.at - performance.now());
      const now = performance.now();
      const eligible = cluster.hosts.filter((h) => (busyUntil.get(h) ?? 0) <= now && cluster.live(h));
      const holder = cluster.roaringHosts()[0];
      let host: number | undefined;
      if (step.target === 'holder' && holder !== undefined && eligible.includes(holder)) host = holder;
      else if (eligible.length) host = eligible[Math.floor(step.pick * eligible.length)];
      if (host === undefined) {
        steps.push({ step, skipped: 'no eligible host' });
        log(`  ${rel(now)} step #${step.index} skipped: no eligible host`);
        continue;
      }
      steps.push({ step, host, holderHit: host === holder });
      busyUntil.set(host, Infinity);
      const h = host;
      undo.push(
        (async () => {
          try {
            if (step.kind === 'kill') await cluster.sigkill(h);
            else if (step.kind === 'freeze') cluster.sigstop(h);
            else await cluster.linkDown(h);
            await sleep(step.holdMs);
          } catch (err) {
            harnessErrors.push(`step #${step.index} on h${h}: ${(err as Error).message}`);
          }
          // Undo whatever the fault did, even if part of it failed.
          try {
            if (step.kind === 'kill' && !cluster.live(h)) cluster.restart(h);
            else if (step.kind === 'freeze' && cluster.isFrozen(h)) cluster.sigcont(h);
            else if (step.kind === 'partition' && cluster.isCut(h)) await cluster.linkUp(h);
          } catch (err) {
            harnessErrors.push(`undoing step #${step.index} on h${h}: ${(err as Error).message}`);
          }
          busyUntil.set(h, performance.now() + step.recoverMs);
        })(),
      );
    }
    await Promise.all(undo);
    const chaosEndAt = performance.now();

    let settledAfterMs: number | undefined;
    let settleError: string | undefined;
    try {
      await cluster.waitSteady(chaosEndAt, options.settleMs);
      settledAfterMs = performance.now() - chaosEndAt;
      // Watch the steady cluster a little longer: it must stay that way.
      await sleep(2000);
    } catch (err) {
      settleError = (err as Error).message;
    }
    log(`  ${rel(performance.now())} ${settledAfterMs !== undefined ? `steady ${Math.round(settledAfterMs)} ms after the last fault was undone` : `NOT steady: ${settleError}`}`);

    const timeline = buildTimeline(cluster.processes, cluster.actions, { to: performance.now(), hosts: o.hosts, gapLimitMs: options.gapLimitMs });
    const roarsPerNode: Record<string, number> = {};
    for (const t of timeline.tenures) roarsPerNode[t.node] = (roarsPerNode[t.node] ?? 0) + t.roars.length;
    const transcripts: Record<string, string[]> = {};
    const runs = new Map<string, number>();
    for (const n of cluster.processes) {
      const run = (runs.get(n.name) ?? 0) + 1;
      runs.set(n.name, run);
      transcripts[`${n.name} run ${run}`] = transcript(n, t0);
    }

    const safetyChecked = o.quorum > 0;
    const failures: string[] = harnessErrors.map((e) => `harness: ${e}`);
    const safetyProblems: string[] = [];
    if (timeline.overlapStats.count) safetyProblems.push(`${timeline.overlapStats.count} overlaps, ${Math.round(timeline.overlapStats.totalMs)} ms in total`);
    if (timeline.epochViolations.length) safetyProblems.push(`${timeline.epochViolations.length} epochs not above every earlier one`);
    const badRoars = timeline.anomalies.filter((a) => a.kind !== 'tenure-of-other-node');
    if (badRoars.length) safetyProblems.push(`${badRoars.length} roars from a stopped, superseded or unknown tenure`);
    if (timeline.anomalies.some((a) => a.kind === 'tenure-of-other-node')) failures.push('a node printed a tenure line naming another node');
    if (safetyChecked) failures.push(...safetyProblems.map((p) => `safety: ${p}`));
    const livenessProblems: string[] = [];
    for (const g of timeline.flaggedGaps) {
      livenessProblems.push(`liveness: nobody roared for ${Math.round(g.to - g.from)} ms at ${rel(g.from)} (after ${g.cause}) while a majority was healthy for ${Math.round(g.longestHealthyMs)} ms of it (limit ${options.gapLimitMs} ms)`);
    }
    if (settleError) livenessProblems.push(`liveness: not steady within ${options.settleMs} ms of the last fault: ${settleError}`);
    failures.push(...livenessProblems);

    return {
      options,
      t0,
      chaosStartAt,
      chaosEndAt,
      steps,
      actions: cluster.actions,
      timeline,
      settledAfterMs,
      ...(settleError ? { settleError } : {}),
      roarsPerNode,
      safetyChecked,
      safetyOk: safetyProblems.length === 0,
      livenessOk: livenessProblems.length === 0,
      failures,
      transcripts,
    };
  } finally {
    await cluster.destroy();
  }
}

const ms = (x: number): string => `${Math.round(x)} ms`;
const stats = (s: DurationStats): string => `${s.count} (total ${ms(s.totalMs)}, max ${ms(s.maxMs)})`;

/** The report as text: plan, timeline of tenures, overlaps, gaps, verdicts. */
export function formatReport(r: ChaosReport): string {
  const rel = (t: number): string => `${((t - r.t0) / 1000).toFixed(3)} s`;
  const tl = r.timeline;
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `## Chaos run: seed ${o.seed}, ${o.hosts} hosts, ${o.quorum > 0 ? `--failover --quorum ${o.quorum}` : '--failover (no quorum)'}, ${o.durationMs / 1000} s of faults`,
    `replay: npm run chaos -- --seed ${o.seed} --hosts ${o.hosts} --quorum ${o.quorum > 0 ? o.quorum : 'none'} --duration ${o.durationMs / 1000}` +
      (o.maxDisrupted !== Math.max(1, Math.floor((o.hosts - 1) / 2)) ? ` --max-disrupted ${o.maxDisrupted}` : ''),
    '',
    '### Faults',
  );
  for (const s of r.steps) {
    lines.push(`- ${describeStep(s.step)} -> ${s.skipped ? `skipped (${s.skipped})` : `h${s.host}${s.holderHit ? ' (the holder)' : ''}`}`);
  }
  lines.push('', '### Tenures (start, end, how the end is known)');
  for (const t of tl.tenures) {
    lines.push(`- ${t.node} epoch ${t.epoch}: ${rel(t.startAt)} -> ${rel(t.endAt)} (${t.endHow}), ${t.roars.length} roars`);
  }
  lines.push('', `Roars per node: ${Object.entries(r.roarsPerNode).map(([n, c]) => `${n} ${c}`).join(', ') || 'none'}.`);
  lines.push('', `### Overlap (two nodes active at once): ${stats(tl.overlapStats)}`);
  for (const [cause, s] of Object.entries(tl.overlapByCause)) lines.push(`- after ${cause}: ${stats(s)}`);
  for (const x of tl.overlaps) lines.push(`  - ${rel(x.from)} for ${ms(x.to - x.from)}: ${x.nodes.join(' + ')} (after ${x.cause})`);
  lines.push('', `### Gaps (nobody active), from the first tenure: ${stats(tl.gapStats)}`);
  for (const [cause, s] of Object.entries(tl.gapByCause)) lines.push(`- after ${cause}: ${stats(s)}`);
  for (const g of tl.gaps) {
    lines.push(`  - ${rel(g.from)} for ${ms(g.to - g.from)} (after ${g.cause}); healthy majority for ${ms(g.healthyMs)}, longest stretch ${ms(g.longestHealthyMs)}${g.flagged ? ` > ${o.gapLimitMs} ms: FLAGGED` : ''}`);
  }
  lines.push('', `### Epochs: ${tl.epochViolations.length === 0 ? `strictly increasing over ${tl.tenures.length} starts` : `${tl.epochViolations.length} violations`}`);
  for (const v of tl.epochViolations) lines.push(`- ${v.node} started epoch ${v.epoch} at ${rel(v.at)}, but ${v.previousNode} had already started epoch ${v.previousMax}`);
  if (tl.anomalies.length) {
    lines.push('', `### Anomalies: ${tl.anomalies.length}`);
    for (const a of tl.anomalies) lines.push(`- ${rel(a.at)} ${a.kind} ${a.node}: ${a.detail}`);
  }
  lines.push(
    '',
    `Settled: ${r.settledAfterMs !== undefined ? `${ms(r.settledAfterMs)} after the last fault was undone` : `NO (${r.settleError?.split('\n')[0]})`}.`,
    `Safety: ${r.safetyOk ? 'OK' : 'VIOLATED'}${r.safetyChecked ? '' : ' (not enforced without a quorum: a cut-off holder keeps running by design)'}. Liveness: ${r.livenessOk ? 'OK' : 'VIOLATED'}.`,
  );
  if (r.failures.length) lines.push('', 'FAILED:', ...r.failures.map((f) => `- ${f}`));
  else lines.push('', 'PASSED');
  return lines.join('\n');
}
