// Soak cluster: `cluster-node --failover --quorum Q` processes, several per host of a
// virtual LAN (node I on host ((I-1) mod H)+1), with the faults the soak injects: SIGKILL
// and restart, SIGSTOP and SIGCONT of one node, and a host's link down and up (every
// node on it). Each action is recorded per node SLOT (the node's index), so the chaos
// timeline (../chaos/timeline.ts), which reasons per "host", sees one slot per node.
// Invariants: every process runs inside the virtual LAN (vlan.ts), so no mDNS leaves it;
// a slot runs at most one process at a time; destroy() thaws, stops and removes everything.
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVirtualLan } from '../helpers/vlan.js';
import type { VirtualLan } from '../helpers/vlan.js';
import { startCliNode } from '../helpers/cli-process.js';
import type { CliNode } from '../helpers/cli-process.js';
import { isRoar } from '../chaos/timeline.js';
import type { ActionKind, ActionRecord, ProcessRecord } from '../chaos/timeline.js';

/** Options of SoakCluster.create. */
export interface SoakClusterOptions {
  nodes: number;
  hosts: number;
  quorum: number;
  cookie: string;
  onAction?: (a: ActionRecord) => void;
  /** Trace the memory of these slots' processes (memory-hook.cjs) into files in dir; default none. */
  memoryTrace?: { dir: string; slots: readonly number[]; everyMs: number; forcedGc?: { slots: readonly number[]; everyMs: number } };
}

/** The memory trace hook preloaded into traced nodes. */
const MEMORY_HOOK = fileURLToPath(new URL('./memory-hook.cjs', import.meta.url));

/** Spawn -> `node ready` on a busy 2-core machine. */
const READY_TIMEOUT_MS = 60_000;

/** A failover cluster of several nodes per host, with fault injection by node slot. */
export class SoakCluster {
  /** Every process run with its slot, in start order. */
  readonly runs: { slot: number; node: CliNode }[] = [];
  readonly actions: ActionRecord[] = [];
  private readonly current = new Map<number, CliNode>();
  private readonly frozen = new Set<number>();
  private readonly cutHosts = new Set<number>();

  private constructor(
    readonly lan: VirtualLan,
    private readonly o: SoakClusterOptions,
  ) {}

  static async create(o: SoakClusterOptions): Promise<SoakCluster> {
    return new SoakCluster(await createVirtualLan(Math.min(o.hosts, o.nodes)), o);
  }

  /** Slots 1..N. */
  get slots(): number[] {
    return Array.from({ length: this.o.nodes }, (_, i) => i + 1);
  }

  hostOf(slot: number): number {
    return ((slot - 1) % this.lan.hosts.length) + 1;
  }

  nodeName(slot: number): string {
    return `node${slot}@h${this.hostOf(slot)}`;
  }

  live(slot: number): CliNode | undefined {
    const n = this.current.get(slot);
    return n && !n.exit ? n : undefined;
  }

  isFrozen(slot: number): boolean {
    return this.frozen.has(slot);
  }

  isCut(slot: number): boolean {
    return this.cutHosts.has(this.hostOf(slot));
  }

  /** The file a traced slot's memory trace goes to (every run of the slot appends to it); undefined if not traced. */
  memoryTracePath(slot: number): string | undefined {
    const trace = this.o.memoryTrace;
    return trace && trace.slots.includes(slot) ? join(trace.dir, `node${slot}.jsonl`) : undefined;
  }

  private memoryTraceEnv(slot: number): Record<string, string> {
    const trace = this.o.memoryTrace!;
    const env: Record<string, string> = { CLUSTER_NODE_MEMORY_TRACE: this.memoryTracePath(slot)!, CLUSTER_NODE_MEMORY_TRACE_MS: String(trace.everyMs) };
    if (trace.forcedGc?.slots.includes(slot)) env.CLUSTER_NODE_MEMORY_TRACE_GC_MS = String(trace.forcedGc.everyMs);
    return env;
  }

  start(slot: number): CliNode {
    if (this.live(slot)) throw new Error(`${this.nodeName(slot)} is already running`);
    const trace = this.o.memoryTrace;
    const traced = trace !== undefined && trace.slots.includes(slot);
    const node = startCliNode(this.lan, this.hostOf(slot), {
      name: this.nodeName(slot),
      cookie: this.o.cookie,
      args: ['--failover', '--quorum', String(this.o.quorum)],
      ...(traced ? { nodeArgs: ['--require', MEMORY_HOOK], env: this.memoryTraceEnv(slot) } : {}),
    });
    this.current.set(slot, node);
    this.runs.push({ slot, node });
    return node;
  }

  async startAll(): Promise<void> {
    const nodes = this.slots.map((s) => this.start(s));
    await Promise.all(nodes.map((n) => n.waitReady(READY_TIMEOUT_MS)));
  }

  private record(kind: ActionKind, slot: number, at: number): void {
    const a: ActionRecord = { kind, host: slot, node: this.nodeName(slot), at, doneAt: performance.now() };
    this.actions.push(a);
    this.o.onAction?.(a);
  }

  async sigkill(slot: number): Promise<void> {
    const n = this.live(slot);
    if (!n) throw new Error(`${this.nodeName(slot)} runs no process`);
    const at = performance.now();
    n.kill('SIGKILL');
    this.record('SIGKILL', slot, at);
    await n.exited;
  }

  restart(slot: number): void {
    const at = performance.now();
    this.start(slot);
    this.record('restart', slot, at);
  }

  sigstop(slot: number): void {
    const at = performance.now();
    this.live(slot)?.kill('SIGSTOP');
    this.frozen.add(slot);
    this.record('SIGSTOP', slot, at);
  }

  sigcont(slot: number): void {
    const at = performance.now();
    this.live(slot)?.kill('SIGCONT');
    this.frozen.delete(slot);
    this.record('SIGCONT', slot, at);
  }

  /** Unplug a host: every node on it is cut off. */
  async linkDown(host: number): Promise<void> {
    const at = performance.now();
    this.cutHosts.add(host);
    await this.lan.linkDown(host);
    for (const s of this.slots.filter((x) => this.hostOf(x) === host)) this.record('link-down', s, at);
  }

  async linkUp(host: number): Promise<void> {
    const at = performance.now();
    await this.lan.linkUp(host);
    this.cutHosts.delete(host);
    for (const s of this.slots.filter((x) => this.hostOf(x) === host)) this.record('link-up', s, at);
  }

  /** Slots whose live, unfrozen process roared within the last withinMs. */
  roaringSlots(withinMs = 1500): number[] {
    const since = performance.now() - withinMs;
    return this.slots.filter((s) => {
      const n = this.live(s);
      if (!n || this.frozen.has(s)) return false;
      for (let i = n.stdoutLines.length - 1; i >= 0; i--) {
        const l = n.stdoutLines[i]!;
        if (l.at < since) return false;
        if (isRoar(l.text)) return true;
      }
      return false;
    });
  }

  /** Why the cluster is not steady (every node up, linked, listing all others since `since`, one roaring), or undefined. */
  unsteadyReason(since: number): string | undefined {
    const names = this.slots.map((s) => this.nodeName(s));
    for (const s of this.slots) {
      const n = this.live(s);
      if (!n) return `${this.nodeName(s)} runs no process`;
      if (this.frozen.has(s)) return `${n.name} is frozen`;
      if (this.isCut(s)) return `${n.name} is cut off`;
      const last = n.memberLines.at(-1);
      if (!last || last.at < since) return `${n.name} printed no member list yet`;
      const missing = names.filter((x) => x !== n.name && !last.members.includes(x));
      if (missing.length) return `${n.name} does not list ${missing.join(', ')}`;
    }
    const roaring = this.roaringSlots(1300);
    if (roaring.length !== 1) return `${roaring.length} nodes roaring`;
    return undefined;
  }

  /** The process runs as the chaos timeline reads them: one "host" per slot. */
  records(): ProcessRecord[] {
    return this.runs.map(({ slot, node }) => ({
      name: node.name,
      host: { index: slot },
      spawnedAt: node.spawnedAt,
      stdoutLines: node.stdoutLines,
      logs: node.logs,
      memberLines: node.memberLines,
      exit: node.exit,
    }));
  }

  async destroy(graceMs = 3000): Promise<void> {
    for (const s of [...this.frozen]) this.live(s)?.kill('SIGCONT');
    this.frozen.clear();
    await Promise.all(this.runs.map((r) => r.node.stop(graceMs)));
    await this.lan.destroy();
  }
}
