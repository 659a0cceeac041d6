// Soak runner: a failover cluster of N nodes (default 10) on H hosts (default 5) of a
// virtual LAN, with a majority quorum, under a seeded schedule of churn for a long time
// (the chaos schedule, ../chaos/schedule.ts: SIGKILL and restart, SIGSTOP and SIGCONT,
// a host's link down and up). Nodes 1..H (one per host) are long-lived: never killed
// (they may be frozen or cut off); every few seconds their RSS (and its anonymous part,
// where the V8 heap lives) and open file descriptors (/proc/PID/fd) are sampled, and the
// growth per hour is fitted by least squares (slope.ts). At the end every fault is
// undone, the cluster must become steady, and a hidden observer (`cluster-node status
// --json`) must find every member's view identical (members and registry holders).
// The Singleton invariants are the chaos timeline's (../chaos/timeline.ts): never two
// holders at once, epochs strictly increasing, no roar from a stopped or superseded tenure.
// Invariant: every wait has a deadline and everything started is stopped.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN } from '../helpers/cli-process.js';
import { pollUntil } from '../chaos/cluster.js';
import { describeStep, generateSchedule } from '../chaos/schedule.js';
import type { ChaosStep } from '../chaos/schedule.js';
import { buildTimeline } from '../chaos/timeline.js';
import type { Timeline } from '../chaos/timeline.js';
import { readMemory } from '../../bench/proc-stats.js';
import { SoakCluster } from './cluster.js';
import { slopePerHour } from './slope.js';
import { parseMemoryTrace } from './memory-trace.js';
import type { MemoryTrace } from './memory-trace.js';
import type { Sample } from './slope.js';

/** Options of a soak run. */
export interface SoakOptions {
  seed: number;
  /** Length of the churn phase, ms. */
  durationMs: number;
  /** Nodes; default 10. */
  nodes?: number;
  /** Hosts; default 5. The first `hosts` nodes (one per host) are long-lived. */
  hosts?: number;
  /** Faults in progress at once; default 2. */
  maxDisrupted?: number;
  /** Resource sampling interval, ms; default 5 000. */
  sampleMs?: number;
  /** After the last fault is undone, how long the cluster may take to become steady, ms; default 60 000. */
  settleMs?: number;
  /** Progress lines; default none. */
  log?: (line: string) => void;
  /**
   * A control for the memory figures: the first long-lived node forces a full GC this
   * often (ms), so the heap it keeps is sampled regularly while the others are left to
   * V8; default 0 (none).
   */
  gcControlMs?: number;
  /** Keep every process run's output in the report (transcripts), to diagnose a failure; default false. */
  keepTranscripts?: boolean;
}

/** Resource samples and fitted growth of one long-lived node. */
export interface NodeResources {
  node: string;
  rssMb: Sample[];
  anonMb: Sample[];
  fds: Sample[];
  rssMbPerHour: number;
  anonMbPerHour: number;
  fdsPerHour: number;
  /** First and last fd count sampled. */
  fdsFirst: number;
  fdsLast: number;
  /** The node's own view of its memory (memory-hook.cjs), MB: V8 heap, heap after each major GC, code, external. */
  heap: MemoryTrace;
  /** Growth per hour of the heap that survived major GCs: what the node keeps (NaN with fewer than two major GCs). */
  heapAfterMajorGcMbPerHour: number;
  heapUsedMbPerHour: number;
  heapTotalMbPerHour: number;
  codeMbPerHour: number;
  externalMbPerHour: number;
}

/** What a soak run measured and concluded. */
export interface SoakReport {
  options: Required<Omit<SoakOptions, 'log' | 'keepTranscripts'>> & { quorum: number };
  steps: { step: ChaosStep; target?: string; skipped?: string }[];
  faults: Record<string, number>;
  resources: NodeResources[];
  /**
   * performance.now() ms when the churn began. Step times (`steps[].step.at`) count from
   * it; timeline times (overlaps, epochViolations, anomalies) are raw performance.now()
   * ms — subtract this to put them on the steps' scale (the Markdown does).
   */
  chaosStartAt: number;
  timeline: Pick<Timeline, 'overlapStats' | 'overlaps' | 'gapStats' | 'epochViolations' | 'anomalies'> & { tenures: number; flaggedGaps: number };
  settledAfterMs: number | undefined;
  /** Every member answered the observer and every view agreed (members and holders). */
  viewsIdentical: boolean;
  viewsProblem?: string;
  /** Why the run failed, one line each; empty when it passed. */
  failures: string[];
  /** Liveness notes (gaps with a healthy majority): reported, not failures. */
  notes: string[];
  /** With keepTranscripts: every process run's stdout and logs in arrival order (times from the start), keyed `node1@h1 run 2`. */
  transcripts?: Record<string, string[]>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function countFds(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Run a soak; resolves with the report (rejects only if the cluster cannot be built or never becomes steady at the start). */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const nodes = o.nodes ?? 10;
  const hosts = Math.min(o.hosts ?? 5, nodes);
  const quorum = Math.floor(nodes / 2) + 1;
  const options = {
    seed: o.seed,
    durationMs: o.durationMs,
    nodes,
    hosts,
    maxDisrupted: o.maxDisrupted ?? 2,
    sampleMs: o.sampleMs ?? 5000,
    settleMs: o.settleMs ?? 60_000,
    gcControlMs: o.gcControlMs ?? 0,
    quorum,
  };
  const log = o.log ?? ((): void => {});
  const t0 = performance.now();
  const rel = (t: number): string => `${((t - t0) / 1000).toFixed(1)} s`;
  const schedule = generateSchedule(o.seed, { durationMs: options.durationMs, maxDisrupted: options.maxDisrupted });
  log(`soak seed ${o.seed}: ${nodes} nodes on ${hosts} hosts, --failover --quorum ${quorum}, ${schedule.length} faults over ${options.durationMs / 1000} s`);
  const traceDir = mkdtempSync(join(tmpdir(), 'soak-memory-'));
  const longLivedSlots = Array.from({ length: hosts }, (_, i) => i + 1);
  let cluster: SoakCluster;
  try {
    cluster = await SoakCluster.create({
      nodes,
      hosts,
      quorum,
      cookie: `soak-${o.seed}`,
      onAction: (a) => log(`  ${rel(a.at)} ${a.kind} ${a.node}`),
      memoryTrace: {
        dir: traceDir,
        slots: longLivedSlots,
        everyMs: options.sampleMs,
        ...(options.gcControlMs > 0 ? { forcedGc: { slots: longLivedSlots.slice(0, 1), everyMs: options.gcControlMs } } : {}),
      },
    });
  } catch (err) {
    rmSync(traceDir, { recursive: true, force: true });
    throw err;
  }
  const longLived = cluster.slots.slice(0, hosts);
  const churnable = cluster.slots.slice(hosts);
  const samples = new Map(longLived.map((s) => [s, { rssMb: [] as Sample[], anonMb: [] as Sample[], fds: [] as Sample[] }]));
  let sampler: ReturnType<typeof setInterval> | undefined;
  let traceFromMs = -Infinity;
  try {
    await cluster.startAll();
    await pollUntil(() => (cluster.unsteadyReason(0) === undefined ? true : undefined), 120_000, () => `a steady cluster: ${cluster.unsteadyReason(0)}`);
    log(`  ${rel(performance.now())} steady; churn begins`);
    const sample = (): void => {
      const at = performance.now();
      for (const s of longLived) {
        const n = cluster.live(s);
        if (!n) continue;
        const m = readMemory(n.pid);
        const fds = countFds(n.pid);
        const into = samples.get(s)!;
        if (m) {
          into.rssMb.push({ at, value: m.rss / 1048576 });
          into.anonMb.push({ at, value: m.anon / 1048576 });
        }
        if (fds !== undefined) into.fds.push({ at, value: fds });
      }
    };
    // The nodes' own memory traces count from here too (Date.now(): the hook's clock).
    traceFromMs = Date.now();
    sample();
    sampler = setInterval(sample, options.sampleMs);

    const chaosStartAt = performance.now();
    const busyUntil = new Map<number, number>();
    const steps: SoakReport['steps'] = [];
    const undo: Promise<void>[] = [];
    const harnessErrors: string[] = [];
    const free = (s: number, now: number): boolean => (busyUntil.get(s) ?? 0) <= now && cluster.live(s) !== undefined;
    for (const step of schedule) {
      await sleep(chaosStartAt + step.at - performance.now());
      const now = performance.now();
      const holder = cluster.roaringSlots()[0];
      const choose = (eligible: number[]): number | undefined =>
        step.target === 'holder' && holder !== undefined && eligible.includes(holder) ? holder : eligible[Math.floor(step.pick * eligible.length)];
      let slots: number[] = [];
      let target: string | undefined;
      let host: number | undefined;
      if (step.kind === 'partition') {
        const hostsFree = cluster.lan.hosts.map((h) => h.index).filter((h) => cluster.slots.filter((s) => cluster.hostOf(s) === h).every((s) => free(s, now)));
        const holderHost = holder !== undefined ? cluster.hostOf(holder) : undefined;
        host = step.target === 'holder' && holderHost !== undefined && hostsFree.includes(holderHost) ? holderHost : hostsFree[Math.floor(step.pick * hostsFree.length)];
        if (host !== undefined) {
          slots = cluster.slots.filter((s) => cluster.hostOf(s) === host);
          target = `h${host}`;
        }
      } else {
        const eligible = (step.kind === 'kill' ? churnable : cluster.slots).filter((s) => free(s, now));
        const s = choose(eligible);
        if (s !== undefined) {
          slots = [s];
          target = cluster.nodeName(s);
        }
      }
      if (!slots.length) {
        steps.push({ step, skipped: 'no eligible target' });
        continue;
      }
      steps.push({ step, target: target! });
      for (const s of slots) busyUntil.set(s, Infinity);
      undo.push(
        (async () => {
          const s = slots[0]!;
          try {
            if (step.kind === 'kill') await cluster.sigkill(s);
            else if (step.kind === 'freeze') cluster.sigstop(s);
            else await cluster.linkDown(host!);
            await sleep(step.holdMs);
          } catch (err) {
            harnessErrors.push(`step #${step.index} on ${target}: ${(err as Error).message}`);
          }
          try {
            if (step.kind === 'kill' && !cluster.live(s)) cluster.restart(s);
            else if (step.kind === 'freeze' && cluster.isFrozen(s)) cluster.sigcont(s);
            else if (step.kind === 'partition' && cluster.isCut(s)) await cluster.linkUp(host!);
          } catch (err) {
            harnessErrors.push(`undoing step #${step.index} on ${target}: ${(err as Error).message}`);
          }
          for (const x of slots) busyUntil.set(x, performance.now() + step.recoverMs);
        })(),
      );
    }
    await Promise.all(undo);
    const chaosEndAt = performance.now();

    let settledAfterMs: number | undefined;
    let settleError: string | undefined;
    try {
      await pollUntil(() => (cluster.unsteadyReason(chaosEndAt) === undefined ? true : undefined), options.settleMs, () => `a steady cluster: ${cluster.unsteadyReason(chaosEndAt)}`);
      settledAfterMs = performance.now() - chaosEndAt;
      await sleep(2000);
    } catch (err) {
      settleError = (err as Error).message;
    }
    clearInterval(sampler);
    sampler = undefined;
    sample();
    log(`  ${rel(performance.now())} ${settledAfterMs !== undefined ? `steady ${Math.round(settledAfterMs)} ms after the last fault was undone` : `NOT steady: ${settleError}`}`);

    // Every member's view, from a hidden observer on host 1 seeded with node 1.
    let viewsIdentical = false;
    let viewsProblem: string | undefined;
    const n1 = cluster.live(1);
    const port = n1?.logs.find((l) => l.message === 'node ready')?.fields.port;
    if (n1 && typeof port === 'number') {
      const r = await cluster.lan.exec(1, process.execPath, [CLI_BIN, 'status', '--cookie', `soak-${o.seed}`, '--no-mdns', '--seed', `${cluster.lan.host(1).address}:${port}`, '--json', '--timeout', '15000'], { timeoutMs: 45_000 });
      try {
        const st = JSON.parse(r.stdout) as { agree: boolean; silent: string[]; views: { node: string }[] };
        viewsIdentical = st.agree && st.silent.length === 0 && st.views.length === nodes;
        if (!viewsIdentical) viewsProblem = `${st.views.length}/${nodes} views, silent [${st.silent.join(', ')}], agree ${st.agree}`;
      } catch {
        viewsProblem = `status exited ${r.code}: ${r.stderr.slice(0, 200)}`;
      }
    } else viewsProblem = 'node 1 is not running';

    const timeline = buildTimeline(cluster.records(), cluster.actions, { to: performance.now(), hosts: nodes, healthStepMs: options.durationMs > 600_000 ? 500 : 100 });
    const resources: NodeResources[] = longLived.map((s) => {
      const x = samples.get(s)!;
      let text = '';
      try {
        text = readFileSync(cluster.memoryTracePath(s)!, 'utf8');
      } catch {
        // No trace (the hook could not write): the heap figures read as missing.
      }
      const heap = parseMemoryTrace(text, traceFromMs);
      return {
        node: cluster.nodeName(s),
        ...x,
        rssMbPerHour: slopePerHour(x.rssMb),
        anonMbPerHour: slopePerHour(x.anonMb),
        fdsPerHour: slopePerHour(x.fds),
        fdsFirst: x.fds[0]?.value ?? NaN,
        fdsLast: x.fds.at(-1)?.value ?? NaN,
        heap,
        heapAfterMajorGcMbPerHour: slopePerHour(heap.heapAfterMajorGcMb),
        heapUsedMbPerHour: slopePerHour(heap.heapUsedMb),
        heapTotalMbPerHour: slopePerHour(heap.heapTotalMb),
        codeMbPerHour: slopePerHour(heap.codeMb),
        externalMbPerHour: slopePerHour(heap.externalMb),
      };
    });
    const failures = harnessErrors.map((e) => `harness: ${e}`);
    if (timeline.overlapStats.count) failures.push(`safety: ${timeline.overlapStats.count} overlaps of two Singletons, ${Math.round(timeline.overlapStats.totalMs)} ms in total`);
    if (timeline.epochViolations.length) failures.push(`safety: ${timeline.epochViolations.length} epochs not above every earlier one`);
    const badRoars = timeline.anomalies.filter((a) => a.kind !== 'tenure-of-other-node');
    if (badRoars.length) failures.push(`safety: ${badRoars.length} roars from a stopped, superseded or unknown tenure`);
    if (settleError) failures.push(`not steady within ${options.settleMs} ms of the last fault: ${settleError}`);
    if (!viewsIdentical) failures.push(`views differ at the end: ${viewsProblem}`);
    const notes = timeline.flaggedGaps.map((g) => `nobody held the Singleton for ${Math.round(g.to - g.from)} ms at ${rel(g.from)} (after ${g.cause}) while a majority was healthy for ${Math.round(g.longestHealthyMs)} ms of it`);
    let transcripts: Record<string, string[]> | undefined;
    if (o.keepTranscripts) {
      transcripts = {};
      const seen = new Map<string, number>();
      for (const { node: n } of cluster.runs) {
        const run = (seen.get(n.name) ?? 0) + 1;
        seen.set(n.name, run);
        const r = (at: number): string => ((at - t0) / 1000).toFixed(3).padStart(9);
        transcripts[`${n.name} run ${run}`] = [
          `${r(n.spawnedAt)} spawned pid ${n.pid}`,
          ...[...n.stdoutLines.map((l) => ({ at: l.at, text: `${r(l.at)} out ${l.text}` })), ...n.logs.map((l) => ({ at: l.at, text: `${r(l.at)} log ${JSON.stringify(l.fields)}` }))]
            .sort((a, b) => a.at - b.at)
            .map((l) => l.text),
        ];
      }
    }
    const faults: Record<string, number> = {};
    for (const st of steps) if (!st.skipped) faults[st.step.kind] = (faults[st.step.kind] ?? 0) + 1;
    return {
      options,
      steps,
      faults,
      resources,
      chaosStartAt,
      timeline: {
        overlapStats: timeline.overlapStats,
        overlaps: timeline.overlaps,
        gapStats: timeline.gapStats,
        epochViolations: timeline.epochViolations,
        anomalies: timeline.anomalies,
        tenures: timeline.tenures.length,
        flaggedGaps: timeline.flaggedGaps.length,
      },
      settledAfterMs,
      viewsIdentical,
      ...(viewsProblem ? { viewsProblem } : {}),
      failures,
      notes,
      ...(transcripts ? { transcripts } : {}),
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await cluster.destroy();
    rmSync(traceDir, { recursive: true, force: true });
  }
}

const f = (x: number, d = 1): string => (Number.isNaN(x) ? '-' : x.toFixed(d));

/** The report as Markdown. */
export function formatSoakReport(r: SoakReport): string {
  const o = r.options;
  const lines = [
    `## Soak: ${o.nodes} nodes on ${o.hosts} hosts, --failover --quorum ${o.quorum}, ${(o.durationMs / 60_000).toFixed(1)} min of churn (seed ${o.seed})`,
    `replay: npm run soak -- --minutes ${o.durationMs / 60_000} --seed ${o.seed}`,
    '',
    `Faults: ${Object.entries(r.faults).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'} (${r.steps.filter((s) => s.skipped).length} skipped); at most ${o.maxDisrupted} at once.`,
    '',
    `Long-lived nodes (never killed), sampled every ${o.sampleMs / 1000} s; growth per hour by least squares:`,
    '',
    '| node | RSS MB first -> last | RSS MB/h | anon MB/h | fds first -> last | fds/h |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.resources.map(
      (x) => `| ${x.node} | ${f(x.rssMb[0]?.value ?? NaN)} -> ${f(x.rssMb.at(-1)?.value ?? NaN)} | ${f(x.rssMbPerHour)} | ${f(x.anonMbPerHour)} | ${x.fdsFirst} -> ${x.fdsLast} | ${f(x.fdsPerHour)} |`,
    ),
    '',
    `Their V8 heap as each node sees it (memory-hook.cjs): the heap that survived each major GC is what a node keeps; heap used also holds garbage not yet collected.${o.gcControlMs > 0 ? ` ${r.resources[0]?.node ?? 'The first'} is the control: it forces a full GC every ${o.gcControlMs / 1000} s.` : ''}`,
    '',
    '| node | heap after major GC MB first -> last (GCs) | after GC MB/h | heap used MB first -> last | heap used MB/h | heap reserved MB/h | code MB/h | external MB/h |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.resources.map((x) => {
      const h = x.heap;
      const span = (s: readonly { value: number }[]): string => `${f(s[0]?.value ?? NaN)} -> ${f(s.at(-1)?.value ?? NaN)}`;
      return `| ${x.node} | ${span(h.heapAfterMajorGcMb)} (${h.heapAfterMajorGcMb.length}) | ${f(x.heapAfterMajorGcMbPerHour)} | ${span(h.heapUsedMb)} | ${f(x.heapUsedMbPerHour)} | ${f(x.heapTotalMbPerHour)} | ${f(x.codeMbPerHour)} | ${f(x.externalMbPerHour)} |`;
    }),
    '',
    `Singleton: ${r.timeline.tenures} tenures; overlaps ${r.timeline.overlapStats.count}; epoch violations ${r.timeline.epochViolations.length}; anomalies ${r.timeline.anomalies.length}; gaps ${r.timeline.gapStats.count} (longest ${Math.round(r.timeline.gapStats.maxMs)} ms), ${r.timeline.flaggedGaps} with a healthy majority over the limit.`,
    `Settled: ${r.settledAfterMs !== undefined ? `${Math.round(r.settledAfterMs)} ms after the last fault was undone` : 'NO'}. Views identical at the end: ${r.viewsIdentical ? 'yes' : `NO (${r.viewsProblem})`}.`,
  ];
  if (r.notes.length) lines.push('', 'Notes (liveness, reported only):', ...r.notes.map((n) => `- ${n}`));
  lines.push('', r.failures.length ? ['FAILED:', ...r.failures.map((x) => `- ${x}`)].join('\n') : 'PASSED');
  // Safety findings on the steps' time scale (seconds since the churn began), so they line up with the schedule.
  const churn = (at: number): string => `${((at - r.chaosStartAt) / 1000).toFixed(3)} s`;
  const t = r.timeline;
  const details = [
    ...t.overlaps.map((x) => `- overlap of ${x.nodes.join(' and ')} from ${churn(x.from)} for ${(x.to - x.from).toFixed(1)} ms (latest action before it: ${x.cause})`),
    ...t.epochViolations.map((v) => `- ${v.node} started epoch ${v.epoch} at ${churn(v.at)}, after ${v.previousNode} had started epoch ${v.previousMax}`),
    ...t.anomalies.map((a) => `- ${a.kind} on ${a.node} at ${churn(a.at)}: ${a.detail}`),
  ];
  if (details.length) lines.push('', 'Safety findings (times in seconds since the churn began, as the steps):', ...details);
  return lines.join('\n');
}

export { describeStep };
