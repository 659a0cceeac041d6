// Observe: the CLI's read-only subcommands — `status`, `whereis NAME`, `ping NODE` —
// each run as a hidden node (never a member, never counted, never a holder) that joins,
// asks every member for its view, prints, and leaves. Formatting is pure (formatStatus,
// statusJson) so it is tested without a cluster.
// Invariants: the cluster is never changed; the cookie never reaches the output.
import { randomBytes } from 'node:crypto';
import { createNode } from '../node.js';
import type { ClusterNode, Member } from '../node.js';
import type { Logger } from '../util/log.js';
import type { ClusterStatus, MemberView } from '../status.js';
import { viewHolders, viewMembers } from '../status.js';
import { SINGLETON_NAME } from '../singleton/singleton.js';

/** How an observer finds the cluster. */
export interface ObserveOptions {
  /** The hidden node's name (a fresh one per run: status-1a2b@host). */
  name: string;
  cookie: string;
  cluster: string;
  seeds: string[];
  mdns: boolean;
  interface: string | undefined;
  /** Give up when no member answered within this long, ms. */
  timeoutMs: number;
  logger: Logger;
}

/** Members found stay unchanged this long before the views are asked for, ms (bounded by the timeout). */
export const QUIET_BEFORE_ASKING_MS = 500;

/** A fresh name for an observer: `<what>-<4 hex>@<host>`. */
export function observerName(what: string, host: string): string {
  return `${what}-${randomBytes(2).toString('hex')}@${host}`;
}

/** A started hidden node, once it has found the cluster (or undefined after the timeout; the node is then stopped). */
export async function joinHidden(o: ObserveOptions, wanted?: (members: string[]) => boolean): Promise<ClusterNode | undefined> {
  const node = createNode({
    name: o.name,
    cookie: o.cookie,
    cluster: o.cluster,
    seeds: o.seeds,
    mdns: o.mdns,
    ...(o.interface !== undefined ? { interface: o.interface } : {}),
    hidden: true,
    logger: o.logger,
  });
  await node.start();
  const deadline = Date.now() + o.timeoutMs;
  let last = '';
  let since = Date.now();
  for (;;) {
    const now = Date.now();
    const members = node.members();
    const key = members.join(',');
    if (key !== last) {
      last = key;
      since = now;
    }
    const quiet = now - since >= Math.min(QUIET_BEFORE_ASKING_MS, o.timeoutMs / 4);
    if (members.length > 0 && (wanted ? wanted(members) : quiet)) return node;
    if (now >= deadline) {
      if (members.length > 0 && !wanted) return node;
      await node.stop();
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Why nothing answered, for the exit-1 message. */
export function noClusterMessage(o: Pick<ObserveOptions, 'timeoutMs' | 'cluster' | 'mdns' | 'seeds'>): string {
  const how = [o.mdns ? `mDNS (cluster label "${o.cluster}")` : undefined, o.seeds.length ? `seeds ${o.seeds.join(', ')}` : undefined].filter(Boolean).join(' and ') || 'nothing (--no-mdns and no --seed)';
  return `no cluster answered within ${(o.timeoutMs / 1000).toFixed(1)} s, looking through ${how}; is a node running with this cookie${o.mdns ? ' and --cluster label, on this network' : ''}?`;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** One row per member of the cluster, as the views describe it. */
export interface MemberRow {
  name: string;
  /** host:port as the observer reached it, if it did. */
  address: string | undefined;
  upMs: number | undefined;
  inc: string | undefined;
  /** How recently any other member heard from it, ms (undefined: no other member sees it). */
  heardMsAgo: number | undefined;
  answered: boolean;
}

/** A registered name as the first view lists it. */
export interface NameRow {
  name: string;
  holder: string;
  epoch: number;
  /** Claim time, ms since the epoch (the HLC's wall part). */
  claimedAt: number;
}

/** The rows of the status tables. */
export function statusRows(status: ClusterStatus, reached: readonly Member[]): { members: MemberRow[]; names: NameRow[] } {
  const byName = new Map<string, MemberView>(status.views.map((v) => [v.node, v]));
  const all = new Set<string>([...status.views.flatMap(viewMembers), ...status.silent]);
  const members = [...all].sort().map((name): MemberRow => {
    const own = byName.get(name);
    const heard = status.views.flatMap((v) => v.members.filter((m) => m.name === name).map((m) => m.heardMsAgo));
    const r = reached.find((m) => m.name === name);
    return {
      name,
      address: r ? `${r.host}:${r.port}` : undefined,
      upMs: own?.upMs,
      inc: own?.inc ?? status.views.flatMap((v) => v.members).find((m) => m.name === name)?.inc,
      heardMsAgo: heard.length ? Math.min(...heard) : undefined,
      answered: own !== undefined,
    };
  });
  const first = status.views[0];
  const names = (first?.registry ?? []).map((c): NameRow => ({ name: c.name, holder: c.owner, epoch: c.epoch, claimedAt: c.stamp[0] }));
  return { members, names };
}

/** The status as text, for a terminal. */
export function formatStatus(status: ClusterStatus, reached: readonly Member[], cluster: string): string {
  const { members, names } = statusRows(status, reached);
  const out: string[] = [];
  out.push(`cluster "${cluster}": ${members.length} member${members.length === 1 ? '' : 's'}, ${status.agree ? 'every view agrees' : 'views differ (see below)'}`);
  out.push('');
  out.push(
    table(
      ['MEMBER', 'ADDRESS', 'UPTIME', 'INCARNATION', 'LAST HEARD'],
      members.map((m) => [m.name, m.address ?? '-', m.upMs === undefined ? '-' : duration(m.upMs), m.inc ?? '-', m.heardMsAgo === undefined ? (m.answered ? '-' : 'not answering') : `${(m.heardMsAgo / 1000).toFixed(1)} s ago`]),
    ),
  );
  out.push('');
  if (names.length === 0) out.push('no registered names');
  else out.push(table(['NAME', 'HOLDER', 'EPOCH', 'CLAIMED'], names.map((n) => [n.name, n.holder, String(n.epoch), new Date(n.claimedAt).toISOString().replace('T', ' ').replace('Z', ' UTC')])));
  const more = status.views[0]?.more ?? 0;
  if (more > 0) out.push(`(and ${more} more names)`);
  out.push('');
  const s = names.find((n) => n.name === SINGLETON_NAME);
  out.push(s ? `${SINGLETON_NAME}: ${s.holder}${s.epoch ? `, epoch ${s.epoch}` : ''}` : `${SINGLETON_NAME}: no holder`);
  if (status.silent.length) out.push(`did not answer: ${status.silent.join(', ')}`);
  if (!status.agree && status.views.length > 0) {
    out.push('');
    out.push('views:');
    for (const v of status.views) {
      const holders = viewHolders(v).map((h) => {
        const [name, owner, epoch] = h.split('\u0000');
        return `${name}=${owner}${epoch !== '0' ? ` (epoch ${epoch})` : ''}`;
      });
      out.push(`  ${v.node} sees [${viewMembers(v).filter((n) => n !== v.node).join(', ')}]; holders: ${holders.join(', ') || 'none'}`);
    }
  }
  return out.join('\n') + '\n';
}

/** The status as one JSON object (--json). */
export function statusJson(status: ClusterStatus, reached: readonly Member[], cluster: string): unknown {
  const { members, names } = statusRows(status, reached);
  const s = names.find((n) => n.name === SINGLETON_NAME);
  return {
    cluster,
    agree: status.agree,
    members,
    registry: names.map((n) => ({ ...n, claimedAt: new Date(n.claimedAt).toISOString() })),
    singleton: s ? { holder: s.holder, epoch: s.epoch } : null,
    silent: status.silent,
    views: status.views,
  };
}

/** The holder of name in the views: undefined when none names one; every distinct holder otherwise (more than one: the views differ). */
export function holdersOf(status: ClusterStatus, name: string): { holder: string; epoch: number }[] {
  const seen = new Map<string, { holder: string; epoch: number }>();
  for (const v of status.views) {
    const c = v.registry.find((r) => r.name === name);
    if (c) seen.set(`${c.owner}\u0000${c.epoch}`, { holder: c.owner, epoch: c.epoch });
  }
  return [...seen.values()];
}
