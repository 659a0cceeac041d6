// Failover side by side: our Singleton takeover (failover.ts, unchanged) and then
// node-discover's master re-election under the same faults on the master, N processes
// (default 5), one per host of a virtual LAN:
//   SIGKILL  — the master dies (node-discover has no connections: its peers notice only
//              when its hellos stop, after masterTimeout); it is restarted afterwards;
//   SIGSTOP  — the master freezes; after another process has promoted itself it gets
//              SIGCONT, wakes up still believing it is master, and says so at once.
// Measured from the signal: the time until another process logs `promotion` (p50/p99),
// and, from the whole run's master timeline (master-timeline.ts), the time two or more
// processes acted as master at once. For SIGSTOP also: whether the thawed master dropped
// its whole view on waking (it times its peers out against its own stale clock) and
// whether mastership went back to it (a second change of master). Last, once: one forged
// hello (a UDP broadcast announcing a master, no secret needed) from a LAN host, and the
// time until the real master demotes itself and until a master is elected again.
// Invariant: every process runs inside the virtual LAN (vlan.ts); the node-discover runner
// broadcasts only on the LAN's subnet; nothing is left running.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createVirtualLan } from '../test/helpers/vlan.js';
import { lanBroadcast } from './node-discover.js';
import type { VirtualLan } from '../test/helpers/vlan.js';
import type { CliNode } from '../test/helpers/cli-process.js';
import { pollUntil } from '../test/chaos/cluster.js';
import { coveredMs } from '../test/chaos/timeline.js';
import { environment } from './common.js';
import { measureFailover } from './failover.js';
import type { ActionSummary, FailoverAction, FailoverOptions } from './failover.js';
import { masterIntervals, masterOverlaps } from './master-timeline.js';
import type { MasterEvent, MasterOverlap } from './master-timeline.js';
import { discoverEvents, discoverIsMaster, discoverView, startNodeDiscover } from './node-discover.js';
import { percentile } from './stats.js';

/** A new master must appear within this long of the fault, or the trial fails. */
const TAKEOVER_TIMEOUT_MS = 20_000;
/** The cluster must be steady again within this long of the fault being undone. */
const STEADY_TIMEOUT_MS = 60_000;
/** After SIGCONT, watch at least this long before waiting for a steady cluster (as failover.ts). */
const THAW_WATCH_MS = 2000;
/** Spawn to ready. */
const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** One node-discover trial; times in ms from the signal. */
export interface DiscoverTrial {
  trial: number;
  action: FailoverAction;
  ok: boolean;
  error?: string;
  oldMaster?: string;
  newMaster?: string;
  /** Signal to another process's `promotion`. */
  takeoverMs?: number;
  /** Time two or more processes acted as master, signal to steady again. */
  overlapMs?: number;
  /** SIGSTOP: `removed` lines the thawed master printed after SIGCONT (its view collapsing). */
  thawedRemoved?: number;
  /** SIGSTOP: the master once steady again was the thawed process (mastership went back). */
  masterWentBack?: boolean;
  /** Signal to steady again. */
  steadyMs?: number;
  at?: number;
  endAt?: number;
}

/** One forged master hello: what it did to a steady node-discover cluster; ms from the packet. */
export interface ForgedMaster {
  ok: boolean;
  error?: string;
  /** Until the real master printed `demotion`. */
  deposedMs?: number;
  /** Until some process printed `promotion` again after the demotion. */
  reelectedMs?: number;
}

/**
 * The forger: one node-discover hello, sent once as a UDP broadcast to argv[1]:12345, announcing
 * a master heavier than any real one (weights are negative start times). node-discover has no
 * authentication by default; the packet stays on the virtual LAN (sent from a host, to its subnet).
 */
const FORGE_SCRIPT = `
const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });
s.bind(() => {
  s.setBroadcast(true);
  const m = Buffer.from(JSON.stringify({ event: 'hello', pid: 'forged', iid: 'forged-master', hostName: 'forger',
    data: { isMaster: true, isMasterEligible: true, weight: 1, address: '127.0.0.1', advertisement: { name: 'forger' } } }));
  s.send(m, 12345, process.argv[1], (err) => { s.close(); process.exit(err ? 1 : 0); });
});`;

/** Summary of one action's node-discover trials. */
export interface DiscoverActionSummary {
  trials: number;
  ok: number;
  takeoverP50: number;
  takeoverP99: number;
  takeoverMax: number;
  overlapP50: number;
  overlapP99: number;
  overlapMax: number;
  trialsWithOverlap: number;
  /** SIGSTOP: trials in which the thawed master dropped peers from its view on waking. */
  trialsWithViewCollapse: number;
  /** SIGSTOP: trials in which mastership went back to the thawed process. */
  trialsMasterWentBack: number;
}

/** node-discover processes on a virtual LAN, one per host, with the faults and the events the timeline needs. */
class DiscoverCluster {
  readonly procs: CliNode[] = [];
  readonly signals: MasterEvent[] = [];
  private readonly current = new Map<number, CliNode>();
  private readonly frozen = new Set<number>();

  constructor(readonly lan: VirtualLan) {}

  get hosts(): number[] {
    return this.lan.hosts.map((h) => h.index);
  }

  nodeName(host: number): string {
    return `node${host}@h${host}`;
  }

  live(host: number): CliNode | undefined {
    const n = this.current.get(host);
    return n && !n.exit ? n : undefined;
  }

  start(host: number): CliNode {
    const n = startNodeDiscover(this.lan, host, { name: this.nodeName(host) });
    this.current.set(host, n);
    this.procs.push(n);
    return n;
  }

  signal(host: number, kind: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): number {
    const n = this.live(host);
    if (!n) throw new Error(`h${host} runs no process`);
    const at = performance.now();
    n.kill(kind);
    if (kind === 'SIGSTOP') this.frozen.add(host);
    if (kind === 'SIGCONT') this.frozen.delete(host);
    this.signals.push({ proc: this.procs.indexOf(n), kind, at });
    return at;
  }

  /** Hosts whose live, unfrozen process considers itself master. */
  masters(): number[] {
    return this.hosts.filter((h) => {
      const n = this.live(h);
      return n !== undefined && !this.frozen.has(h) && discoverIsMaster(n);
    });
  }

  /** Why the cluster is not steady (every host up, unfrozen, seeing all others; exactly one master), or undefined. */
  unsteadyReason(): string | undefined {
    const names = this.hosts.map((h) => this.nodeName(h));
    for (const h of this.hosts) {
      const n = this.live(h);
      if (!n) return `h${h} runs no process`;
      if (this.frozen.has(h)) return `h${h} is frozen`;
      const view = discoverView(n);
      const missing = names.filter((x) => x !== n.name && !view.has(x));
      if (missing.length) return `${n.name} does not see ${missing.join(', ')}`;
    }
    const m = this.masters();
    return m.length === 1 ? undefined : `${m.length} masters (${m.map((h) => `h${h}`).join(', ')})`;
  }

  async waitSteady(timeoutMs: number): Promise<number> {
    await pollUntil(() => (this.unsteadyReason() === undefined ? true : undefined), timeoutMs, () => `a steady cluster: ${this.unsteadyReason() ?? 'steady'}`);
    return this.masters()[0]!;
  }

  /** Every master-relevant event so far: the processes' promotions/demotions and exits, and the harness's signals. */
  masterEvents(): MasterEvent[] {
    const out: MasterEvent[] = [...this.signals];
    for (const [proc, n] of this.procs.entries()) {
      for (const e of discoverEvents(n)) if (e.kind === 'promotion' || e.kind === 'demotion') out.push({ proc, kind: e.kind, at: e.at });
      if (n.exit) out.push({ proc, kind: 'exit', at: n.exit.at });
    }
    return out;
  }

  async destroy(): Promise<void> {
    for (const h of [...this.frozen]) this.live(h)?.kill('SIGCONT');
    this.frozen.clear();
    await Promise.all(this.procs.map((n) => n.stop(3000)));
    await this.lan.destroy();
  }
}

async function discoverTrial(c: DiscoverCluster, trial: number, action: FailoverAction, masterHost: number): Promise<DiscoverTrial> {
  const r: DiscoverTrial = { trial, action, ok: false };
  const old = c.live(masterHost)!;
  r.oldMaster = old.name;
  const at = c.signal(masterHost, action === 'SIGSTOP' ? 'SIGSTOP' : 'SIGKILL');
  r.at = at;
  try {
    const promoted = await pollUntil(
      () => {
        let best: { n: CliNode; at: number } | undefined;
        for (const n of c.procs) {
          if (n === old) continue;
          const p = discoverEvents(n).find((e) => e.kind === 'promotion' && e.at >= at);
          if (p && (!best || p.at < best.at)) best = { n, at: p.at };
        }
        return best;
      },
      TAKEOVER_TIMEOUT_MS,
      `a new master after ${action} of ${old.name}`,
    );
    r.newMaster = promoted.n.name;
    r.takeoverMs = promoted.at - at;
    let restoreAt: number;
    if (action === 'SIGSTOP') {
      restoreAt = c.signal(masterHost, 'SIGCONT');
      await sleep(THAW_WATCH_MS);
    } else {
      await old.exited;
      restoreAt = performance.now();
      c.start(masterHost);
    }
    const finalHost = await c.waitSteady(STEADY_TIMEOUT_MS);
    r.endAt = performance.now();
    r.steadyMs = r.endAt - at;
    if (action === 'SIGSTOP') {
      r.thawedRemoved = discoverEvents(old).filter((e) => e.kind === 'removed' && e.at >= restoreAt).length;
      r.masterWentBack = c.live(finalHost) === old;
    }
    r.ok = true;
  } catch (err) {
    r.error = (err as Error).message;
    r.endAt = performance.now();
    if (action === 'SIGSTOP' && c.live(masterHost) === old) c.signal(masterHost, 'SIGCONT');
    if (action !== 'SIGSTOP') {
      await old.exited;
      if (!c.live(masterHost)) c.start(masterHost);
    }
  }
  return r;
}

/** Summarize one action's node-discover trials. */
export function summarizeDiscover(rs: readonly DiscoverTrial[]): DiscoverActionSummary {
  const ok = rs.filter((r) => r.ok);
  const take = ok.map((r) => r.takeoverMs!);
  const ov = ok.map((r) => r.overlapMs ?? 0);
  return {
    trials: rs.length,
    ok: ok.length,
    takeoverP50: percentile(take, 50),
    takeoverP99: percentile(take, 99),
    takeoverMax: take.length ? Math.max(...take) : NaN,
    overlapP50: percentile(ov, 50),
    overlapP99: percentile(ov, 99),
    overlapMax: ov.length ? Math.max(...ov) : NaN,
    trialsWithOverlap: ov.filter((x) => x > 0).length,
    trialsWithViewCollapse: ok.filter((r) => (r.thawedRemoved ?? 0) > 0).length,
    trialsMasterWentBack: ok.filter((r) => r.masterWentBack).length,
  };
}

/** Run node-discover's trials: every action in turn, o.trials times. */
async function forgeMaster(c: DiscoverCluster): Promise<ForgedMaster> {
  try {
    const masterHost = await c.waitSteady(STEADY_TIMEOUT_MS);
    const master = c.live(masterHost)!;
    const at = performance.now();
    const sent = await c.lan.exec(masterHost === 1 ? 2 : 1, process.execPath, ['-e', FORGE_SCRIPT, lanBroadcast(c.lan)], { timeoutMs: 5000 });
    if (sent.code !== 0) throw new Error(`the forger failed: ${sent.stderr.trim().slice(0, 200)}`);
    const demoted = await master.waitUntil(() => discoverEvents(master).find((e) => e.kind === 'demotion' && e.at >= at), 15_000, 'the master demoting itself');
    const again = await pollUntil(
      () => c.procs.flatMap((n) => discoverEvents(n).filter((e) => e.kind === 'promotion' && e.at >= demoted.at)).sort((a, b) => a.at - b.at)[0],
      15_000,
      'a new master after the forged one',
    );
    return { ok: true, deposedMs: demoted.at - at, reelectedMs: again.at - at };
  } catch (err) {
    return { ok: false, error: (err as Error).message.split('\n')[0]! };
  }
}

async function measureDiscover(o: FailoverOptions): Promise<{ trials: DiscoverTrial[]; overlaps: MasterOverlap[]; forged?: ForgedMaster; aborted?: string }> {
  const c = new DiscoverCluster(await createVirtualLan(o.nodes));
  const trials: DiscoverTrial[] = [];
  let aborted: string | undefined;
  let overlaps: MasterOverlap[] = [];
  let forged: ForgedMaster | undefined;
  try {
    const first = c.hosts.map((h) => c.start(h));
    await Promise.all(first.map((n) => n.waitUntil(() => discoverEvents(n).find((e) => e.kind === 'ready'), READY_TIMEOUT_MS, 'ready')));
    outer: for (let trial = 1; trial <= o.trials; trial++) {
      for (const action of o.actions) {
        let masterHost: number;
        try {
          await c.waitSteady(STEADY_TIMEOUT_MS);
          await sleep(o.restMs);
          masterHost = await c.waitSteady(STEADY_TIMEOUT_MS);
        } catch (err) {
          aborted = `node-discover not steady before trial ${trial} (${action}): ${(err as Error).message.split('\n')[0]}`;
          console.log(aborted);
          break outer;
        }
        const r = await discoverTrial(c, trial, action, masterHost);
        trials.push(r);
        console.log(
          r.ok
            ? `node-discover trial ${trial}/${o.trials} ${action.padEnd(7)} ${r.oldMaster} -> ${r.newMaster}: new master after ${fmtMs(r.takeoverMs)}, steady after ${fmtMs(r.steadyMs)}` +
                (action === 'SIGSTOP' ? `, thawed master dropped ${r.thawedRemoved} peers, mastership ${r.masterWentBack ? 'went back to it' : 'stayed'}` : '')
            : `node-discover trial ${trial}/${o.trials} ${action} FAILED: ${r.error?.split('\n')[0]}`,
        );
      }
    }
    if (!aborted) {
      forged = await forgeMaster(c);
      console.log(
        forged.ok
          ? `node-discover forged master hello: the real master demoted itself after ${fmtMs(forged.deposedMs)}, a master again after ${fmtMs(forged.reelectedMs)}`
          : `node-discover forged master hello: ${forged.error}`,
      );
    }
    const to = performance.now();
    overlaps = masterOverlaps(masterIntervals(c.masterEvents(), to));
    for (const r of trials) if (r.at !== undefined && r.endAt !== undefined) r.overlapMs = coveredMs(overlaps, r.at, r.endAt);
  } finally {
    await c.destroy();
  }
  return { trials, overlaps, ...(forged ? { forged } : {}), ...(aborted === undefined ? {} : { aborted }) };
}

const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '-' : `${Math.round(ms)} ms`);

/** The side-by-side Markdown table. */
export function failoverVsMarkdown(
  o: Pick<FailoverOptions, 'nodes' | 'quorum' | 'actions'>,
  ours: Partial<Record<FailoverAction, ActionSummary>>,
  theirs: Partial<Record<FailoverAction, DiscoverActionSummary>>,
  envLine: string,
  forged?: ForgedMaster,
): string {
  const lines = [
    `## Failover side by side: ${o.nodes} nodes, cluster-node --failover${o.quorum > 0 ? ` --quorum ${o.quorum}` : ''} vs node-discover (defaults)`,
    '',
    '| fault on the holder / master | system | trials | takeover p50 | takeover p99 (max) | ratio p50 ours/theirs | trials with two at once | two at once p50 / p99 (max) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const a of o.actions) {
    const u = ours[a];
    const t = theirs[a];
    const ratio = u && t && t.takeoverP50 > 0 ? (u.takeoverP50 / t.takeoverP50).toFixed(3) : '-';
    if (u) {
      lines.push(
        `| ${a} | cluster-node | ${u.ok}/${u.trials} | ${fmtMs(u.takeoverP50)} | ${fmtMs(u.takeoverP99)} (${fmtMs(u.takeoverMax)}) | ${ratio} | ${u.trialsWithOverlap} | ${fmtMs(u.overlapP50)} / ${fmtMs(u.overlapP99)} (${fmtMs(u.overlapMax)}) |`,
      );
    }
    if (t) {
      lines.push(
        `| ${a} | node-discover | ${t.ok}/${t.trials} | ${fmtMs(t.takeoverP50)} | ${fmtMs(t.takeoverP99)} (${fmtMs(t.takeoverMax)}) | | ${t.trialsWithOverlap} | ${fmtMs(t.overlapP50)} / ${fmtMs(t.overlapP99)} (${fmtMs(t.overlapMax)}) |`,
      );
    }
  }
  const stop = theirs.SIGSTOP;
  lines.push(
    '',
    'Takeover: cluster-node — signal to the new holder\'s `Singleton tenure started` line; node-discover — signal to another process\'s `promotion`. ' +
      'Two at once: cluster-node — two nodes roaring (failover.ts); node-discover — two live, unfrozen processes that consider themselves master (from `promotion` to `demotion`, a SIGKILL, or a SIGSTOP until its SIGCONT).',
  );
  if (stop) {
    lines.push(
      `node-discover after SIGCONT: the thawed master dropped peers from its view (timed them out against its stale clock) in ${stop.trialsWithViewCollapse}/${stop.ok} trials, ` +
        `and mastership went back to it (a second change of master) in ${stop.trialsMasterWentBack}/${stop.ok} trials.`,
    );
  }
  if (forged?.ok) {
    lines.push(
      `node-discover, one forged hello (a single UDP broadcast announcing a heavier master, no secret): the real master demoted itself after ${fmtMs(forged.deposedMs)}, ` +
        `and the cluster had no master until ${fmtMs(forged.reelectedMs)} after the packet (the forger's hello timed out). (Not measured: a forger repeating it every second would keep the cluster masterless.)`,
    );
  } else if (forged) {
    lines.push(`node-discover, forged hello: not measured (${forged.error}).`);
  }
  lines.push(
    'node-discover has no connections, so a killed master is noticed only when its hellos stop (masterTimeout 2 s, checked every 2 s), the same as a frozen one; ' +
      'it has no quorum, no fencing epoch and no lease, so a master that wakes up goes on as master until the next check; and no authentication by default (any host on the LAN can announce itself master).',
    '',
    envLine,
  );
  return lines.join('\n') + '\n';
}

/** Run `failover --vs node-discover` with parsed options; resolves with the exit code. */
export async function runFailoverVersus(o: FailoverOptions): Promise<number> {
  const loadBefore = loadavg()[0]!;
  const startedAt = performance.now();
  const ours = await measureFailover(o);
  console.log(`\nfailover --vs node-discover: ${o.nodes} node-discover processes, ${o.trials} trials x ${o.actions.join(', ')}`);
  const d = await measureDiscover(o);
  const theirs = Object.fromEntries(o.actions.map((a) => [a, summarizeDiscover(d.trials.filter((r) => r.action === a))])) as Partial<Record<FailoverAction, DiscoverActionSummary>>;
  const env = { ...environment(loadBefore), wallSeconds: Math.round((performance.now() - startedAt) / 1000) };
  const envLine =
    `Environment: ${env.date}, commit ${env.commit ?? '?'}, Node ${env.node}, ${env.cores} x ${env.cpu ?? '?'}, ` +
    `load average ${env.loadAverageBefore} before / ${env.loadAverageAfter} after, ${env.wallSeconds} s wall time (cluster-node's trials first, then node-discover's).`;
  let markdown = failoverVsMarkdown(o, ours.summary, theirs, envLine, d.forged);
  if (d.aborted) markdown += `\nnode-discover aborted: ${d.aborted}\n`;
  const failed = d.trials.filter((r) => !r.ok);
  if (failed.length) markdown += `\nnode-discover failed trials:\n${failed.map((r) => `- trial ${r.trial} ${r.action}: ${r.error?.split('\n')[0]}`).join('\n')}\n`;
  console.log(`\n${markdown}`);

  mkdirSync(o.out, { recursive: true });
  const stamp = env.date.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${o.out.replace(/\/$/, '')}/failover-vs-node-discover-n${o.nodes}-${stamp}`;
  const origin = d.trials[0]?.at ?? 0;
  const json = {
    benchmark: 'failover-vs',
    peer: 'node-discover',
    env,
    options: o,
    ours: { file: `${ours.file}.json`, summary: ours.summary },
    theirs: {
      summary: theirs,
      overlaps: d.overlaps.map((x) => ({ fromS: Number(((x.from - origin) / 1000).toFixed(3)), durationMs: Math.round(x.to - x.from), procs: x.procs })),
      trials: d.trials.map(({ at: _at, endAt: _endAt, ...rest }) => rest),
      forged: d.forged,
      aborted: d.aborted,
    },
  };
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown);
  console.log(`results written to ${base}.json and ${base}.md`);
  return ours.code === 0 && failed.length === 0 && !d.aborted ? 0 : 1;
}
