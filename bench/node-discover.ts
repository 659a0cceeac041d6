// node-discover on the virtual LAN: starts bench/node-discover-runner.mjs (one instance of
// the npm package node-discover per process) on a host exactly as startCliNode starts
// cluster-node (`node SCRIPT ...` through the LAN's spawn, stdout/stderr piped), and reads
// back the JSON event lines it prints (ready, added, removed, promotion, demotion, master).
// The process is a CliNode, so the waits, stop() and tail() of cli-process.ts apply.
// Invariant (multicast hygiene): the only way to start a runner here is on a VirtualLan
// host, with the LAN's own subnet broadcast (A.B.C.255, which the hosts route onto the
// bridge); the runner itself also refuses to run anywhere else.
import { fileURLToPath } from 'node:url';
import { CliNode, REPO_ROOT } from '../test/helpers/cli-process.js';
import type { Host, VirtualLan } from '../test/helpers/vlan.js';

/** The runner script, run with `node`. */
export const NODE_DISCOVER_RUNNER = fileURLToPath(new URL('./node-discover-runner.mjs', import.meta.url));

/** What the runner prints, one JSON line per event. */
export type DiscoverEventKind = 'ready' | 'added' | 'removed' | 'promotion' | 'demotion' | 'master';
const KINDS: readonly string[] = ['ready', 'added', 'removed', 'promotion', 'demotion', 'master'];

/** One event a runner printed; `at` is when the line arrived here (performance.now() ms). */
export interface DiscoverEvent {
  kind: DiscoverEventKind;
  /** The other node, for added, removed and master. */
  peer?: string;
  /** The other node's instance id, for added and removed (a restarted peer has a new one). */
  peerId?: string;
  /** The runner's own Date.now() stamp, ms. */
  t: number;
  at: number;
}

/** The subnet broadcast address of a virtual LAN (A.B.C.255 for hosts A.B.C.I/24). */
export function lanBroadcast(lan: VirtualLan): string {
  const first = lan.hosts[0];
  if (!first) throw new Error('virtual LAN has no hosts');
  return `${first.address.split('.').slice(0, 3).join('.')}.255`;
}

/** Parse one runner line; undefined for anything that is not a runner event. */
export function parseDiscoverLine(text: string, at: number): DiscoverEvent | undefined {
  if (!text.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.event !== 'string' || !KINDS.includes(o.event) || typeof o.t !== 'number') return undefined;
  const e: DiscoverEvent = { kind: o.event as DiscoverEventKind, t: o.t, at };
  if (typeof o.peer === 'string') e.peer = o.peer;
  if (typeof o.id === 'string') e.peerId = o.id;
  return e;
}

const parsed = new WeakMap<CliNode, { lines: number; events: DiscoverEvent[] }>();

/** Every event the runner process has printed so far, in order (parsed once per line). */
export function discoverEvents(n: CliNode): readonly DiscoverEvent[] {
  let cache = parsed.get(n);
  if (!cache) parsed.set(n, (cache = { lines: 0, events: [] }));
  for (; cache.lines < n.stdoutLines.length; cache.lines++) {
    const l = n.stdoutLines[cache.lines]!;
    const e = parseDiscoverLine(l.text, l.at);
    if (e) cache.events.push(e);
  }
  return cache.events;
}

/** The names of the peers a runner currently sees (instances added and not removed since), from its events. */
export function discoverView(n: CliNode): Set<string> {
  const live = new Map<string, string>();
  for (const e of discoverEvents(n)) {
    const key = e.peerId ?? e.peer;
    if (key === undefined || e.peer === undefined) continue;
    if (e.kind === 'added') live.set(key, e.peer);
    else if (e.kind === 'removed') live.delete(key);
  }
  return new Set(live.values());
}

/** Whether the runner considers itself master (its last promotion is not followed by a demotion). */
export function discoverIsMaster(n: CliNode): boolean {
  let master = false;
  for (const e of discoverEvents(n)) {
    if (e.kind === 'promotion') master = true;
    else if (e.kind === 'demotion') master = false;
  }
  return master;
}

/** Options for startNodeDiscover. */
export interface NodeDiscoverOptions {
  /** The name the instance advertises; peers report it in their events. */
  name: string;
  /** More runner arguments, e.g. ['--node-timeout', '3000']. */
  args?: readonly string[];
}

/** Start one node-discover runner on a host of the virtual LAN (broadcasting on the LAN's subnet). */
export function startNodeDiscover(lan: VirtualLan, host: Host | number, o: NodeDiscoverOptions): CliNode {
  const h = lan.host(host);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = lan.spawn(h, process.execPath, [NODE_DISCOVER_RUNNER, '--name', o.name, '--broadcast', lanBroadcast(lan), ...(o.args ?? [])], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  return new CliNode(child, o.name, h);
}
