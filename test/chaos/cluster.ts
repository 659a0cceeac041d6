// Chaos cluster: one `cluster-node --failover` process per host of a virtual LAN, and
// the faults a chaos run or a failover benchmark injects into them (SIGKILL and
// restart, SIGSTOP and SIGCONT, SIGTERM, link down and up), each recorded with the
// time it was issued and completed. Every process run (the first start and each
// restart) is kept, so the timeline (timeline.ts) sees everything that was printed.
// Invariants: every process runs inside the virtual LAN (vlan.ts), so no mDNS leaves
// it; a host runs at most one process at a time; destroy() thaws, stops and removes
// everything, whatever state the run left it in.
import { performance } from 'node:perf_hooks';
import { createVirtualLan } from '../helpers/vlan.js';
import type { VirtualLan } from '../helpers/vlan.js';
import { startCliNode } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { isRoar, parseTenureLine } from './timeline.js';
import type { ActionKind, ActionRecord } from './timeline.js';

/** Spawn to `node ready` on a busy 2-core machine. */
export const CLUSTER_READY_TIMEOUT_MS = 30_000;

/** Options of ChaosCluster.create. */
export interface ChaosClusterOptions {
  hosts: number;
  /** --quorum N for every node; undefined or 0: plain --failover. */
  quorum?: number;
  cookie: string;
  /** More CLI arguments for every node. */
  args?: readonly string[];
  /** --log-level of every node; default 'info'. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Called with a line for each action, as it happens. */
  onAction?: (action: ActionRecord) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Poll find() every 50 ms until it returns a value; rejects with `what` after timeoutMs. */
export async function pollUntil<T>(find: () => T | undefined, timeoutMs: number, what: string | (() => string)): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(50);
  }
}

/** A failover cluster on a virtual LAN, one node per host, with fault injection. */
export class ChaosCluster {
  /** Every process run, in start order. */
  readonly processes: CliNode[] = [];
  /** Every action, in issue order. */
  readonly actions: ActionRecord[] = [];
  private readonly current = new Map<number, CliNode>();
  private readonly frozen = new Set<number>();
  private readonly cut = new Set<number>();

  private constructor(
    readonly lan: VirtualLan,
    private readonly o: ChaosClusterOptions,
  ) {}

  /** Build the virtual LAN (no node started yet). */
  static async create(o: ChaosClusterOptions): Promise<ChaosCluster> {
    return new ChaosCluster(await createVirtualLan(o.hosts), o);
  }

  get hosts(): number[] {
    return this.lan.hosts.map((h) => h.index);
  }

  /** The node name on a host: node<I>@h<I>. */
  nodeName(host: number): string {
    return `node${host}@h${host}`;
  }

  /** The CLI arguments every node gets (after name, cookie and log options). */
  get nodeArgs(): string[] {
    const q = this.o.quorum ?? 0;
    return ['--failover', ...(q > 0 ? ['--quorum', String(q)] : []), ...(this.o.args ?? [])];
  }

  /** The host's process while it runs (not yet exited), else undefined. */
  live(host: number): CliNode | undefined {
    const n = this.current.get(host);
    return n && !n.exit ? n : undefined;
  }

  isFrozen(host: number): boolean {
    return this.frozen.has(host);
  }

  isCut(host: number): boolean {
    return this.cut.has(host);
  }

  /** Start a process on a host (which must have none running). */
  start(host: number): CliNode {
    if (this.live(host)) throw new Error(`h${host} already runs ${this.nodeName(host)}`);
    const node = startCliNode(this.lan, host, { name: this.nodeName(host), cookie: this.o.cookie, args: this.nodeArgs, logLevel: this.o.logLevel ?? 'info' });
    this.current.set(host, node);
    this.processes.push(node);
    return node;
  }

  /** Start every host's node and wait until each has logged `node ready`. */
  async startAll(timeoutMs = CLUSTER_READY_TIMEOUT_MS): Promise<void> {
    const nodes = this.hosts.map((h) => this.start(h));
    await Promise.all(nodes.map((n) => n.waitReady(timeoutMs)));
  }

  private record(kind: ActionKind, host: number, at: number): ActionRecord {
    const a: ActionRecord = { kind, host, node: this.nodeName(host), at, doneAt: performance.now() };
    this.actions.push(a);
    this.o.onAction?.(a);
    return a;
  }

  private signal(host: number, signal: NodeJS.Signals): CliNode {
    const n = this.live(host);
    if (!n) throw new Error(`h${host} runs no process to send ${signal} to`);
    n.kill(signal);
    return n;
  }

  /** SIGKILL the host's process; resolves once it has exited. */
  async sigkill(host: number): Promise<ActionRecord> {
    const at = performance.now();
    const n = this.signal(host, 'SIGKILL');
    const a = this.record('SIGKILL', host, at);
    await n.exited;
    return a;
  }

  /** SIGTERM the host's process (a clean stop and handover); resolves once it has exited (SIGKILL after graceMs). */
  async sigterm(host: number, graceMs = 10_000): Promise<ActionRecord> {
    const at = performance.now();
    const n = this.signal(host, 'SIGTERM');
    const a = this.record('SIGTERM', host, at);
    const timer = setTimeout(() => n.kill('SIGKILL'), graceMs);
    await n.exited;
    clearTimeout(timer);
    return a;
  }

  /** Start the host's node again (after a SIGKILL or SIGTERM). */
  restart(host: number): ActionRecord {
    const at = performance.now();
    this.start(host);
    return this.record('restart', host, at);
  }

  /** SIGSTOP the host's process: it freezes, keeping its sockets open. */
  sigstop(host: number): ActionRecord {
    const at = performance.now();
    this.signal(host, 'SIGSTOP');
    this.frozen.add(host);
    return this.record('SIGSTOP', host, at);
  }

  /** SIGCONT the host's frozen process. */
  sigcont(host: number): ActionRecord {
    const at = performance.now();
    this.signal(host, 'SIGCONT');
    this.frozen.delete(host);
    return this.record('SIGCONT', host, at);
  }

  /** Unplug the host's link. */
  async linkDown(host: number): Promise<ActionRecord> {
    const at = performance.now();
    this.cut.add(host);
    await this.lan.linkDown(host);
    return this.record('link-down', host, at);
  }

  /** Plug the host's link back in. */
  async linkUp(host: number): Promise<ActionRecord> {
    const at = performance.now();
    await this.lan.linkUp(host);
    this.cut.delete(host);
    return this.record('link-up', host, at);
  }

  /** Hosts whose live, unfrozen process roared within the last withinMs. */
  roaringHosts(withinMs = 1500): number[] {
    const since = performance.now() - withinMs;
    return this.hosts.filter((h) => {
      const n = this.live(h);
      if (!n || this.frozen.has(h)) return false;
      for (let i = n.stdoutLines.length - 1; i >= 0; i--) {
        const l = n.stdoutLines[i]!;
        if (l.at < since) return false;
        if (isRoar(l.text)) return true;
      }
      return false;
    });
  }

  /** The first tenure line printed by any host's process at or after `since` (excluding `exceptHost`), with its host. */
  firstTenureSince(since: number, exceptHost?: number): { host: number; node: CliNode; at: number; epoch: number } | undefined {
    let best: { host: number; node: CliNode; at: number; epoch: number } | undefined;
    for (const n of this.processes) {
      if (n.host.index === exceptHost) continue;
      for (const l of n.stdoutLines) {
        if (l.at < since) continue;
        const t = parseTenureLine(l.text);
        if (t && (!best || l.at < best.at)) best = { host: n.host.index, node: n, at: l.at, epoch: t.epoch };
        if (t) break;
      }
    }
    return best;
  }

  /**
   * Why the cluster is not steady yet, or undefined when it is: every host runs an
   * unfrozen, linked process that printed, at or after `since`, a member list holding
   * every other node, and exactly one host is roaring.
   */
  unsteadyReason(since: number): string | undefined {
    const names = this.hosts.map((h) => this.nodeName(h));
    for (const h of this.hosts) {
      const n = this.live(h);
      if (!n) return `h${h} runs no process`;
      if (this.frozen.has(h)) return `h${h} is frozen`;
      if (this.cut.has(h)) return `h${h} is cut off`;
      const last = n.memberLines.at(-1);
      if (!last || last.at < since) return `${n.name} printed no member list yet`;
      const missing = names.filter((x) => x !== n.name && !last.members.includes(x));
      if (missing.length) return `${n.name} does not list ${missing.join(', ')}`;
    }
    const roaring = this.roaringHosts(1300);
    if (roaring.length !== 1) return `${roaring.length} hosts roaring (${roaring.map((h) => `h${h}`).join(', ')})`;
    return undefined;
  }

  /** Wait until unsteadyReason(since) is undefined; resolves with the roaring host. */
  async waitSteady(since: number, timeoutMs: number): Promise<number> {
    await pollUntil(() => (this.unsteadyReason(since) === undefined ? true : undefined), timeoutMs, () => `a steady cluster: ${this.unsteadyReason(since) ?? 'steady'}`);
    return this.roaringHosts(1300)[0]!;
  }

  /** Thaw, reconnect and stop every process (SIGTERM, SIGKILL after graceMs), then remove the LAN. Idempotent. */
  async destroy(graceMs = 3000): Promise<void> {
    for (const h of [...this.frozen]) this.live(h)?.kill('SIGCONT');
    this.frozen.clear();
    await Promise.all(this.processes.map((n) => n.stop(graceMs)));
    await this.lan.destroy();
  }
}
