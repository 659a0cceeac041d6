// Singleton timeline: turns what the CLI processes printed (tenure lines, roars, stop
// logs, member lists) and what a harness did to them (SIGKILL, SIGSTOP, cut links)
// into tenures, and measures them: when two nodes were roaring at once (overlap),
// when nobody was (gaps), whether epochs only grew, whether a roar came from a tenure
// already superseded or stopped, and whether the cluster was healthy (a majority of
// hosts up, unfrozen, linked and meshed) during each gap.
//
// A tenure is "active" (demonstrably running) from its start line and from each roar
// for one roar window (the 1 s roar interval plus a tolerance), cut short by anything
// that ends it for certain: its stop log, a SIGKILL, the process's exit, or a SIGSTOP
// (a frozen process can do nothing; after SIGCONT it is active again only if it roars).
// So "overlap" is the task's "two nodes' roars within one roar window while both
// tenures are on", measured as a duration, and a gap is time with nobody active.
// Pure: plain data in, plain data out; every time is performance.now() ms.

/** A time interval [from, to] in performance.now() ms. */
export interface Interval {
  from: number;
  to: number;
}

/** A stdout line and when it arrived. */
export interface TimedText {
  readonly text: string;
  readonly at: number;
}

/** A parsed JSON log line and when it arrived. */
export interface TimedLog {
  readonly message: string;
  readonly fields: Record<string, unknown>;
  readonly at: number;
}

/** A printed member list and when it arrived. */
export interface TimedMembers {
  readonly members: readonly string[];
  readonly at: number;
}

/** What the timeline needs from one process run of a node; a CliNode satisfies it. */
export interface ProcessRecord {
  readonly name: string;
  readonly host: { readonly index: number };
  readonly spawnedAt: number;
  readonly stdoutLines: readonly TimedText[];
  readonly logs: readonly TimedLog[];
  readonly memberLines: readonly TimedMembers[];
  readonly exit: { readonly at: number } | undefined;
}

/** What a harness did to a host. */
export type ActionKind = 'SIGKILL' | 'restart' | 'SIGSTOP' | 'SIGCONT' | 'link-down' | 'link-up' | 'SIGTERM';

/** One action on a host: issued at `at`, completed at `doneAt` (the signal sent, the `ip` command done). */
export interface ActionRecord {
  kind: ActionKind;
  /** 1-based host index. */
  host: number;
  node: string;
  at: number;
  doneAt: number;
}

/** How a tenure's end is known. */
export type TenureEndHow =
  | 'stale-tenure log'
  | 'superseded log'
  | 'stopping log (signal)'
  | 'SIGKILL'
  | 'process exit'
  | 'inferred: last roar + window'
  | 'still running';

/** One Singleton tenure on one process run. */
export interface Tenure {
  node: string;
  host: number;
  /** Index of the process run in the records given to buildTimeline. */
  process: number;
  epoch: number;
  /** When the `Singleton tenure started on NODE, epoch N` line arrived. */
  startAt: number;
  /** Best known bound of its end (the observation end when still running). */
  endAt: number;
  endHow: TenureEndHow;
  roars: number[];
  /** When it was demonstrably running (see the file comment); merged, in order. */
  active: Interval[];
}

/** Something the timeline shows that a correct Singleton never does. */
export interface Anomaly {
  kind: 'roar-without-tenure' | 'roar-after-stop' | 'stale-roar' | 'tenure-of-other-node';
  node: string;
  at: number;
  detail: string;
}

/** Time with two or more nodes active at once. */
export interface Overlap extends Interval {
  nodes: string[];
  cause: string;
}

/** Time with no node active. */
export interface Gap extends Interval {
  cause: string;
  /** Healthy time inside the gap (a majority up and meshed), ms. */
  healthyMs: number;
  /** Longest unbroken healthy stretch inside the gap, ms. */
  longestHealthyMs: number;
  /** The longest healthy stretch exceeds the liveness limit. */
  flagged: boolean;
}

/** A start whose epoch is not above every earlier start's. */
export interface EpochViolation {
  node: string;
  epoch: number;
  at: number;
  /** The highest epoch started before it, and where. */
  previousMax: number;
  previousNode: string;
}

/** Count, total and largest of a set of durations, ms. */
export interface DurationStats {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** Options of buildTimeline. */
export interface TimelineOptions {
  /** Start of the analysed window (gaps before it are not counted); default: the first tenure start. */
  from?: number;
  /** End of the observation. */
  to: number;
  /** Number of hosts (names node<I>@h<I> are read from the records). */
  hosts: number;
  /** Hosts that must be up and meshed for the cluster to count as healthy; default a majority. */
  majority?: number;
  /** How long a roar proves its tenure active: the roar interval plus tolerance; default 1 250 ms. */
  roarWindowMs?: number;
  /** A gap whose longest healthy stretch exceeds this is flagged; default 6 000 ms. */
  gapLimitMs?: number;
  /** A printed member list counts as a node's view for this long; default 2 500 ms. */
  viewFreshMs?: number;
  /** Health sampling step; default 100 ms. */
  healthStepMs?: number;
}

/** Everything buildTimeline measured. */
export interface Timeline {
  from: number;
  to: number;
  tenures: Tenure[];
  anomalies: Anomaly[];
  epochViolations: EpochViolation[];
  overlaps: Overlap[];
  gaps: Gap[];
  healthy: Interval[];
  overlapStats: DurationStats;
  overlapByCause: Record<string, DurationStats>;
  gapStats: DurationStats;
  gapByCause: Record<string, DurationStats>;
  flaggedGaps: Gap[];
}

export const DEFAULT_ROAR_WINDOW_MS = 1250;
export const DEFAULT_GAP_LIMIT_MS = 6000;
const DEFAULT_VIEW_FRESH_MS = 2500;
const DEFAULT_HEALTH_STEP_MS = 100;

const TENURE_LINE = /^Singleton tenure started on (\S+), epoch (\d+)$/;
const ROAR_LINE = 'I am singleton, hear me roar';
const STALE_LOG = /^stale tenure of Singleton \(epoch (\d+)\)/;
const SUPERSEDED_LOG = /^Singleton \(epoch (\d+)\) superseded by /;

/** Parse a tenure start line: node and epoch, or undefined. */
export function parseTenureLine(text: string): { node: string; epoch: number } | undefined {
  const m = TENURE_LINE.exec(text.trim());
  return m ? { node: m[1]!, epoch: Number(m[2]) } : undefined;
}

/** True for the demo Singleton's roar line. */
export function isRoar(text: string): boolean {
  return text.trim() === ROAR_LINE;
}

/** Merge overlapping or touching intervals; returns them in order. */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = list.filter((i) => i.to >= i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last && i.from <= last.to) last.to = Math.max(last.to, i.to);
    else out.push({ from: i.from, to: i.to });
  }
  return out;
}

/** Total length of merged intervals clipped to [from, to]. */
export function coveredMs(list: readonly Interval[], from: number, to: number): number {
  let sum = 0;
  for (const i of mergeIntervals(list)) sum += Math.max(0, Math.min(i.to, to) - Math.max(i.from, from));
  return sum;
}

/** Count, total and max of durations. */
export function durationStats(ms: readonly number[]): DurationStats {
  return { count: ms.length, totalMs: ms.reduce((a, b) => a + b, 0), maxMs: ms.length ? Math.max(...ms) : 0 };
}

/** Per-host intervals during which the host was in a state, from pairs of actions (start kind -> end kind). */
function actionSpans(actions: readonly ActionRecord[], host: number, startKind: ActionKind, endKind: ActionKind, to: number): Interval[] {
  const spans: Interval[] = [];
  let open: number | undefined;
  for (const a of actions) {
    if (a.host !== host) continue;
    if (a.kind === startKind && open === undefined) open = a.at;
    else if (a.kind === endKind && open !== undefined) {
      spans.push({ from: open, to: a.doneAt });
      open = undefined;
    }
  }
  if (open !== undefined) spans.push({ from: open, to });
  return spans;
}

const within = (t: number, spans: readonly Interval[]): boolean => spans.some((s) => t >= s.from && t <= s.to);

/** When a process run died for certain: the SIGKILL sent to it, else its exit. */
function deathOf(p: ProcessRecord, actions: readonly ActionRecord[]): { at: number; how: 'SIGKILL' | 'process exit' } | undefined {
  const exitAt = p.exit?.at ?? Infinity;
  const kill = actions.find((a) => a.kind === 'SIGKILL' && a.host === p.host.index && a.at >= p.spawnedAt && a.at <= exitAt);
  if (kill) return { at: kill.at, how: 'SIGKILL' };
  return p.exit ? { at: p.exit.at, how: 'process exit' } : undefined;
}

/** The action that most plausibly caused something beginning at `at`: the latest one issued up to 100 ms after it. */
export function causeOf(at: number, actions: readonly ActionRecord[], lookbackMs = 15_000): string {
  let best: ActionRecord | undefined;
  for (const a of actions) if (a.at <= at + 100 && a.at >= at - lookbackMs && (!best || a.at > best.at)) best = a;
  return best ? best.kind : 'none';
}

/** A log line that ends a tenure (epoch undefined: whichever is running). */
interface StopLog {
  at: number;
  epoch: number | undefined;
  how: 'stale-tenure log' | 'superseded log' | 'stopping log (signal)';
}

/** Two lines from one process on different pipes (stdout, stderr) may arrive this far out of order. */
const PIPE_ORDER_SLACK_MS = 5;

function buildTenures(records: readonly ProcessRecord[], actions: readonly ActionRecord[], to: number, windowMs: number): { tenures: Tenure[]; anomalies: Anomaly[] } {
  const tenures: Tenure[] = [];
  const anomalies: Anomaly[] = [];
  records.forEach((p, index) => {
    const host = p.host.index;
    const frozen = actionSpans(actions, host, 'SIGSTOP', 'SIGCONT', to).filter((f) => f.to >= p.spawnedAt && f.from <= (p.exit?.at ?? Infinity));
    const death = deathOf(p, actions);
    const lifeEnd = Math.min(death?.at ?? Infinity, to);
    // A line read after a SIGKILL or SIGSTOP was written before it: date it back to the signal.
    const emitted = (at: number): number => {
      const f = frozen.find((x) => at >= x.from && at <= x.to);
      return Math.min(f ? f.from : at, death?.how === 'SIGKILL' ? death.at : Infinity);
    };
    const starts: { at: number; epoch: number }[] = [];
    const roars: number[] = [];
    for (const l of p.stdoutLines) {
      const t = parseTenureLine(l.text);
      if (t) {
        if (t.node !== p.name) anomalies.push({ kind: 'tenure-of-other-node', node: p.name, at: l.at, detail: `printed a tenure of ${t.node}` });
        starts.push({ at: emitted(l.at), epoch: t.epoch });
      } else if (isRoar(l.text)) {
        roars.push(emitted(l.at));
      }
    }
    const stopLogs = p.logs.flatMap((l): StopLog[] => {
      const stale = STALE_LOG.exec(l.message);
      if (stale) return [{ at: l.at, epoch: Number(stale[1]), how: 'stale-tenure log' }];
      const sup = SUPERSEDED_LOG.exec(l.message);
      if (sup) return [{ at: l.at, epoch: Number(sup[1]), how: 'superseded log' }];
      if (l.message === 'stopping') return [{ at: l.at, epoch: undefined, how: 'stopping log (signal)' }];
      return [];
    });
    for (const r of roars) {
      if (!starts.some((s) => s.at <= r)) anomalies.push({ kind: 'roar-without-tenure', node: p.name, at: r, detail: 'a roar before any tenure line of this process' });
    }
    starts.forEach((s, i) => {
      const nextAt = starts[i + 1]?.at ?? Infinity;
      const mine = roars.filter((r) => r >= s.at && r < nextAt);
      const last = mine.at(-1) ?? s.at;
      const ends: { at: number; how: TenureEndHow }[] = [];
      const log = stopLogs.find((l) => l.at >= s.at && l.at < nextAt && (l.epoch === undefined || l.epoch === s.epoch));
      if (log) ends.push({ at: log.at, how: log.how });
      if (death && death.at >= s.at) ends.push({ at: death.at, how: death.how });
      ends.sort((a, b) => a.at - b.at);
      let end = ends[0];
      if (!end || end.at > to) {
        const stillRoaring = nextAt === Infinity && to - last <= windowMs && !frozen.some((f) => f.from >= last);
        if (stillRoaring) end = { at: to, how: 'still running' };
        else {
          // Ended without a word: bound it by the last roar (or the freeze that silenced it).
          const silencedAt = frozen.find((f) => f.from >= last)?.from ?? Infinity;
          end = { at: Math.min(last + windowMs, silencedAt, nextAt, to), how: 'inferred: last roar + window' };
        }
      }
      const slack = end.how.endsWith('log') || end.how.endsWith('(signal)') ? PIPE_ORDER_SLACK_MS : 0;
      for (const r of mine) {
        if (r > end.at + slack) anomalies.push({ kind: 'roar-after-stop', node: p.name, at: r, detail: `epoch ${s.epoch} roared ${Math.round(r - end.at)} ms after its end (${end.how})` });
      }
      const hardStops = [end.at, lifeEnd, ...frozen.map((f) => f.from)];
      const active: Interval[] = [];
      for (const point of [s.at, ...mine]) {
        if (point >= lifeEnd || frozen.some((f) => point >= f.from && point <= f.to)) continue;
        // A roar after the known end still proves activity (and is reported as an anomaly).
        const cap = Math.min(...hardStops.filter((h) => h >= point), point + windowMs, to);
        active.push({ from: point, to: Math.max(point, cap) });
      }
      tenures.push({ node: p.name, host, process: index, epoch: s.epoch, startAt: s.at, endAt: end.at, endHow: end.how, roars: mine, active: mergeIntervals(active) });
    });
  });
  tenures.sort((a, b) => a.startAt - b.startAt);
  return { tenures, anomalies };
}

/** Roars of an epoch after a higher epoch started on another node (a fenced worker must not act then). */
function staleRoars(tenures: readonly Tenure[]): Anomaly[] {
  const out: Anomaly[] = [];
  for (const t of tenures) {
    for (const r of t.roars) {
      const newer = tenures.find((o) => o.node !== t.node && o.epoch > t.epoch && o.startAt < r);
      if (newer) out.push({ kind: 'stale-roar', node: t.node, at: r, detail: `epoch ${t.epoch} roared after ${newer.node} started epoch ${newer.epoch}` });
    }
  }
  return out;
}

function epochViolations(tenures: readonly Tenure[]): EpochViolation[] {
  const out: EpochViolation[] = [];
  let max = -Infinity;
  let maxNode = '';
  for (const t of tenures) {
    if (t.epoch <= max) out.push({ node: t.node, epoch: t.epoch, at: t.startAt, previousMax: max, previousNode: maxNode });
    if (t.epoch > max) {
      max = t.epoch;
      maxNode = t.node;
    }
  }
  return out;
}

/** Elementary segments of [from, to] with the set of nodes active in each. */
function segments(tenures: readonly Tenure[], from: number, to: number): { from: number; to: number; nodes: string[] }[] {
  const byNode = new Map<string, Interval[]>();
  for (const t of tenures) byNode.set(t.node, [...(byNode.get(t.node) ?? []), ...t.active]);
  const merged = [...byNode].map(([node, list]) => ({ node, list: mergeIntervals(list) }));
  const cuts = new Set<number>([from, to]);
  for (const { list } of merged) for (const i of list) for (const x of [i.from, i.to]) if (x > from && x < to) cuts.add(x);
  const points = [...cuts].sort((a, b) => a - b);
  const out: { from: number; to: number; nodes: string[] }[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    const mid = (a + b) / 2;
    const nodes = merged.filter(({ list }) => list.some((x) => mid >= x.from && mid <= x.to)).map((m) => m.node);
    out.push({ from: a, to: b, nodes });
  }
  return out;
}

/**
 * Healthy intervals: times when some set of at least `majority` hosts are each alive
 * (spawned, printed a member list, not killed), not frozen and linked, and each one's
 * latest member list (at most viewFreshMs old) holds all the others of the set.
 */
export function healthyIntervals(
  records: readonly ProcessRecord[],
  actions: readonly ActionRecord[],
  o: { hosts: number; majority: number; from: number; to: number; viewFreshMs: number; stepMs: number },
): Interval[] {
  const hosts = Array.from({ length: o.hosts }, (_, i) => i + 1);
  const frozen = new Map(hosts.map((h) => [h, actionSpans(actions, h, 'SIGSTOP', 'SIGCONT', o.to)]));
  const cut = new Map(hosts.map((h) => [h, actionSpans(actions, h, 'link-down', 'link-up', o.to)]));
  const runs = records.map((p) => ({ p, deathAt: deathOf(p, actions)?.at ?? Infinity }));
  const viewAt = (h: number, t: number): { name: string; view: Set<string> } | undefined => {
    if (within(t, frozen.get(h)!) || within(t, cut.get(h)!)) return undefined;
    const run = runs.find((r) => r.p.host.index === h && r.p.spawnedAt <= t && t < r.deathAt);
    if (!run) return undefined;
    let last: TimedMembers | undefined;
    for (const l of run.p.memberLines) {
      if (l.at > t) break;
      last = l;
    }
    if (!last || t - last.at > o.viewFreshMs) return undefined;
    return { name: run.p.name, view: new Set(last.members) };
  };
  const healthyAt = (t: number): boolean => {
    const views = hosts.map((h) => viewAt(h, t)).filter((v): v is { name: string; view: Set<string> } => v !== undefined);
    if (views.length < o.majority) return false;
    for (let mask = 0; mask < 1 << views.length; mask++) {
      const set = views.filter((_, i) => mask & (1 << i));
      if (set.length < o.majority) continue;
      if (set.every((a) => set.every((b) => a === b || a.view.has(b.name)))) return true;
    }
    return false;
  };
  const out: Interval[] = [];
  for (let t = o.from; t < o.to; t += o.stepMs) {
    if (!healthyAt(t)) continue;
    const last = out.at(-1);
    const end = Math.min(t + o.stepMs, o.to);
    if (last && last.to >= t) last.to = end;
    else out.push({ from: t, to: end });
  }
  return out;
}

function statsByCause<T extends Interval & { cause: string }>(list: readonly T[]): Record<string, DurationStats> {
  const groups = new Map<string, number[]>();
  for (const x of list) groups.set(x.cause, [...(groups.get(x.cause) ?? []), x.to - x.from]);
  return Object.fromEntries([...groups].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, durationStats(v)]));
}

/** Build and measure the Singleton timeline of a set of process runs under a set of actions. */
export function buildTimeline(records: readonly ProcessRecord[], actions: readonly ActionRecord[], o: TimelineOptions): Timeline {
  const windowMs = o.roarWindowMs ?? DEFAULT_ROAR_WINDOW_MS;
  const gapLimitMs = o.gapLimitMs ?? DEFAULT_GAP_LIMIT_MS;
  const majority = o.majority ?? Math.floor(o.hosts / 2) + 1;
  const sortedActions = [...actions].sort((a, b) => a.at - b.at);
  const { tenures, anomalies } = buildTenures(records, sortedActions, o.to, windowMs);
  anomalies.push(...staleRoars(tenures));
  anomalies.sort((a, b) => a.at - b.at);
  const from = o.from ?? tenures[0]?.startAt ?? o.to;
  const segs = from < o.to ? segments(tenures, from, o.to) : [];

  const overlaps: Overlap[] = [];
  const gapsRaw: Interval[] = [];
  for (const s of segs) {
    if (s.nodes.length >= 2) {
      const last = overlaps.at(-1);
      if (last && last.to === s.from) {
        last.to = s.to;
        last.nodes = [...new Set([...last.nodes, ...s.nodes])].sort();
      } else overlaps.push({ from: s.from, to: s.to, nodes: [...s.nodes].sort(), cause: '' });
    } else if (s.nodes.length === 0) {
      const last = gapsRaw.at(-1);
      if (last && last.to === s.from) last.to = s.to;
      else gapsRaw.push({ from: s.from, to: s.to });
    }
  }
  for (const ov of overlaps) ov.cause = causeOf(ov.from, sortedActions);

  const healthy = healthyIntervals(records, sortedActions, {
    hosts: o.hosts,
    majority,
    from,
    to: o.to,
    viewFreshMs: o.viewFreshMs ?? DEFAULT_VIEW_FRESH_MS,
    stepMs: o.healthStepMs ?? DEFAULT_HEALTH_STEP_MS,
  });
  const gaps: Gap[] = gapsRaw.map((g) => {
    const pieces = healthy.map((h) => Math.max(0, Math.min(h.to, g.to) - Math.max(h.from, g.from)));
    const longest = pieces.length ? Math.max(...pieces) : 0;
    return { ...g, cause: causeOf(g.from, sortedActions), healthyMs: pieces.reduce((a, b) => a + b, 0), longestHealthyMs: longest, flagged: longest > gapLimitMs };
  });

  return {
    from,
    to: o.to,
    tenures,
    anomalies,
    epochViolations: epochViolations(tenures),
    overlaps,
    gaps,
    healthy,
    overlapStats: durationStats(overlaps.map((x) => x.to - x.from)),
    overlapByCause: statsByCause(overlaps),
    gapStats: durationStats(gaps.map((x) => x.to - x.from)),
    gapByCause: statsByCause(gaps),
    flaggedGaps: gaps.filter((g) => g.flagged),
  };
}
