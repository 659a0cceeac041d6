// Whole-node simulation: N ClusterNodes (mesh, handshake, heartbeats, registry replica,
// Singleton supervisors) in one process over a MemoryNetwork, on one ManualClock with
// seeded randomness, and the faults a property test schedules:
// - crash(i): the process is killed — its clock-driven work never runs again, its
//   streams close (peers see it at once), nothing reaches it (MemoryNetwork.kill);
// - partition(groups) / heal(): links between groups drop every byte, both ways;
// - restart(i): a crashed node's process starts again: same name, host and port, a new
//   incarnation (nothing kept on disk);
// - freeze(i) / thaw(i): a stopped process (SIGSTOP/SIGCONT) — its timers and incoming
//   bytes wait, and run late, timers first, when it thaws (each node sees the shared
//   ManualClock through its own FreezableClock).
// Same seed and same schedule: the same run (time only moves in run()).
import { createNode, ManualClock, MemoryNetwork, seededRandom, staticDiscovery, testConfig } from '../../src/index.js';
import type { Clock, ClusterNode, Logger } from '../../src/index.js';
import type { TimerHandle } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';

/** One node's view of the shared clock: while frozen, its due timers wait and fire late, in order, at thaw(). */
export class FreezableClock implements Clock {
  private frozen = false;
  private nextId = 1;
  private readonly live = new Map<number, TimerHandle>();
  private queued: { id: number; fn: () => void }[] = [];
  /** Frozen for good: nothing of this node runs any more. */
  private dead = false;

  constructor(private readonly base: ManualClock) {}

  now(): number {
    return this.base.now();
  }

  wallNow(): number {
    return this.base.wallNow();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const h = this.base.setTimeout(() => {
      this.live.delete(id);
      if (this.dead) return;
      if (this.frozen) this.queued.push({ id, fn });
      else fn();
    }, ms);
    this.live.set(id, h);
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const h = this.live.get(handle.id);
    if (h) {
      this.base.clearTimeout(h);
      this.live.delete(handle.id);
    }
    if (this.queued.length) this.queued = this.queued.filter((q) => q.id !== handle.id);
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  freeze(): void {
    this.frozen = true;
  }

  /** Run, in order, the timers that fell due while frozen. */
  thaw(): void {
    this.frozen = false;
    while (this.queued.length && !this.frozen && !this.dead) this.queued.shift()!.fn();
  }

  kill(): void {
    this.dead = true;
    this.queued = [];
    for (const h of this.live.values()) this.base.clearTimeout(h);
    this.live.clear();
  }
}

/** One simulated node (a restart replaces node and clock). */
export interface SimNode {
  readonly index: number;
  readonly name: string;
  readonly host: string;
  node: ClusterNode;
  clock: FreezableClock;
  alive: boolean;
  /** Processes started on this node so far, the first included. */
  boots: number;
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A cluster of whole nodes on the manual clock. */
export class NodeCluster {
  readonly clock = new ManualClock();
  readonly net = new MemoryNetwork();
  readonly nodes: SimNode[] = [];

  private seed = 0;
  private logger: (i: number) => Logger = () => silentLogger;
  /** Every node listens on 20000 + its index; each is seeded with every other's address. */
  private seeds: { host: string; port: number }[] = [];

  /** Start n nodes (n1@sim on 10.0.0.1, ...), each seeded with every other's address. */
  static async start(n: number, seed: number, logger: (i: number) => Logger = () => silentLogger): Promise<NodeCluster> {
    const c = new NodeCluster();
    c.seed = seed;
    c.logger = logger;
    c.seeds = Array.from({ length: n }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 20000 + i }));
    for (let i = 0; i < n; i++) {
      const { node, clock, host } = await c.boot(i, 0);
      c.nodes.push({ index: i, name: node.name, host, node, clock, alive: true, boots: 1 });
    }
    return c;
  }

  private async boot(i: number, generation: number): Promise<{ node: ClusterNode; clock: FreezableClock; host: string }> {
    const host = `10.0.0.${i + 1}`;
    const clock = new FreezableClock(this.clock);
    const node = createNode({
      name: `n${i + 1}@sim`,
      cookie: 'sim',
      host,
      port: 20000 + i,
      network: this.net.host(host),
      discovery: [staticDiscovery(this.seeds.filter((s) => s.host !== host))],
      clock,
      // Each boot its own stream: a restarted process draws a new incarnation.
      random: seededRandom(this.seed * 100 + i + 1 + generation * 7919),
      logger: this.logger(i),
      ...testConfig(),
    });
    await node.start();
    return { node, clock, host };
  }

  /** Start crashed node i again (same name, host and port; a new incarnation). */
  async restart(i: number): Promise<SimNode> {
    const n = this.nodes[i]!;
    if (n.alive) throw new Error(`${n.name} is running`);
    this.net.revive(n.host);
    const { node, clock } = await this.boot(i, n.boots);
    n.node = node;
    n.clock = clock;
    n.alive = true;
    n.boots++;
    return n;
  }

  get now(): number {
    return this.clock.now();
  }

  /** Advance simulated time by ms in steps, letting in-memory I/O settle after each; onStep after every step. */
  async run(ms: number, onStep?: () => void | Promise<void>, step = 10): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      await flush();
      await onStep?.();
    }
  }

  /** Let in-memory I/O and promise chains settle without moving time. */
  settle(): Promise<void> {
    return flush();
  }

  /** Kill node i: nothing of it runs any more; peers see its connections close. */
  crash(i: number): void {
    const n = this.nodes[i]!;
    if (!n.alive) return;
    n.alive = false;
    n.clock.kill();
    this.net.kill(n.host);
  }

  /** Cut the links between groups of node indices (nodes in no group keep theirs). */
  partition(groups: number[][]): void {
    this.net.heal();
    this.net.partition(groups.map((g) => g.map((i) => this.nodes[i]!.host)));
  }

  heal(): void {
    this.net.heal();
  }

  freeze(i: number): void {
    const n = this.nodes[i]!;
    if (!n.alive || n.clock.isFrozen) return;
    n.clock.freeze();
    this.net.freeze(n.host);
  }

  /** Thaw node i: its late timers run first, then what arrived meanwhile (as a process woken by SIGCONT). */
  thaw(i: number): void {
    const n = this.nodes[i]!;
    if (!n.alive || !n.clock.isFrozen) return;
    n.clock.thaw();
    this.net.thaw(n.host);
  }

  /** Stop every node still alive (thawed first), and let the goodbyes go out. */
  async stop(): Promise<void> {
    for (const n of this.nodes) this.thaw(n.index);
    await Promise.all([Promise.allSettled(this.nodes.filter((n) => n.alive).map((n) => n.node.stop())), this.run(200)]);
  }
}
