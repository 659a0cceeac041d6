// Registry benchmark worker: one cluster node in its own process, driven by the
// coordinator (bench/registry.ts) over the IPC channel of child_process.fork().
// Commands arrive as { id, cmd, args } and are answered { id, ok, result | error };
// observations go back as events, timestamped here with performance.timeOrigin +
// performance.now() (wall-based, sub-millisecond; the coordinator measures each
// worker's offset from its own clock and corrects for it).
// Invariants: the node always listens on 127.0.0.1 with mDNS off; events are sent
// from setImmediate, never from inside a registry callback, so reporting does not
// delay the node's own forwarding; the worker exits when the coordinator goes away.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createNode } from '../src/index.js';
import type { ClusterNode } from '../src/index.js';

/** Wall-clock milliseconds with sub-millisecond resolution (monotonic within this process). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Memory figures of the worker process, bytes. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** How a dropped name finally got through: after a digest we sent in our own round, or in answer to a peer's. */
export type RepairPath = 'own-round' | 'peer-round';

type NoArgs = Record<string, never>;

/** Every command: its arguments and its result. Times are nowMs() of the worker. */
export interface WorkerCommands {
  /** The worker's clock, for offset calibration. */
  clock: { args: NoArgs; result: { at: number } };
  /** Create and start a node (127.0.0.1, port 0, mdns off, default timings). Resets the counters. */
  start: { args: { name: string; cookie: string; seeds: string[] }; result: { port: number; incarnation: string; startAt: number; readyAt: number } };
  stop: { args: NoArgs; result: NoArgs };
  members: { args: NoArgs; result: { members: string[] } };
  /** node.register(name); at is taken just before the call. */
  register: { args: { name: string }; result: { at: number; doneAt: number; won: boolean; owner: string; incarnation: string; stamp: [number, number] } };
  /** Register prefix000000.. one after another. */
  registerMany: { args: { prefix: string; count: number }; result: { ms: number; won: number } };
  /** node.unregister(name); at is taken just before the call. */
  unregister: { args: { name: string }; result: { at: number; released: boolean } };
  /** node.whereis() of each name (null when nobody holds it). */
  whereis: { args: { names: string[] }; result: { owners: (string | null)[] } };
  /** Send an event for every 'registered' (on) or only count them (off). */
  watch: { args: { on: boolean }; result: NoArgs };
  /** Drop incoming deltas carrying name until they come as an anti-entropy answer (see installHooks). */
  drop: { args: { name: string }; result: NoArgs };
  dropStatus: { args: { name: string }; result: { dropped: number; acceptedAt: number | null; acceptedFrom: string | null; path: RepairPath | null } };
  /** Resolve once `count` 'registered' events were seen since start (or after timeoutMs). */
  waitCount: { args: { count: number; timeoutMs: number }; result: { at: number | null; events: number; firstNodeupAt: number | null } };
  /** 'registered' events since start, and registered().length now. */
  counts: { args: NoArgs; result: { events: number; registered: number } };
  /** process.memoryUsage(), after two full GCs when gc is set. */
  mem: { args: { gc: boolean }; result: MemorySample };
  /** Event-loop delay since the last reset, ms. */
  loopDelay: { args: { reset: boolean }; result: { maxMs: number; p99Ms: number; meanMs: number } };
  /** Registry messages this node sent since the last reset, by kind (entries: delta entries). */
  traffic: { args: { reset: boolean }; result: Traffic };
}

/** Registry messages sent, by kind. */
export type Traffic = Record<string, { messages: number; entries: number }>;

export type CommandName = keyof WorkerCommands;

export interface WorkerRequest {
  id: number;
  cmd: CommandName;
  args: unknown;
}

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type WorkerEvent =
  | { ev: 'ready' }
  /** A name got a holder (owner) or lost it (owner null: the 'freed' event). */
  | { ev: 'registered'; name: string; owner: string | null; at: number }
  | { ev: 'nodeup'; peer: string; at: number }
  | { ev: 'nodedown'; peer: string; reason: string; at: number };

// ---- the drop hook ---------------------------------------------------------------

/** The two replica internals the drop hook wraps; checked at install so a refactor fails loudly. */
interface ReplicaInternals {
  receive(from: string, raw: unknown): void;
  port: { send(to: string, msg: unknown): boolean };
}

interface DropState {
  dropped: number;
  /** Peers we sent a digest to since the drop began, and which kind. */
  armed: Map<string, RepairPath>;
  acceptedAt: number | null;
  acceptedFrom: string | null;
  path: RepairPath | null;
}

function deltaNames(raw: unknown): string[] | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as { k?: unknown; d?: { entries?: unknown } };
  if (m.k !== 'delta' || !Array.isArray(m.d?.entries)) return undefined;
  return (m.d.entries as { name?: unknown }[]).map((e) => (typeof e?.name === 'string' ? e.name : ''));
}

/**
 * Wraps the replica's receive and its port (private fields of ClusterNode and Replica,
 * reached at run time; nothing in src/ changes) to count what the registry and its
 * protocols (replication, claims, quorum) send, and to simulate a lost push: for each name in `drops`, incoming deltas
 * carrying it are discarded unless they come from a peer we have sent a digest to since
 * the drop began. Such a delta is an anti-entropy answer: to our own round's digest
 * (reply=false, 'own-round'), or to the reply=true digest we send when a peer's round
 * shows it has more ('peer-round'). Every push and forward is therefore lost, and the
 * name arrives only through anti-entropy.
 */
function installHooks(node: ClusterNode, drops: Map<string, DropState>, traffic: Traffic): void {
  const replica = (node as unknown as { replica?: ReplicaInternals }).replica;
  if (!replica || typeof replica.receive !== 'function' || typeof replica.port?.send !== 'function') {
    throw new Error('ClusterNode.replica.receive / Replica.port.send not found: update installHooks in bench/registry-worker.ts');
  }
  const receive = replica.receive.bind(replica);
  replica.receive = (from, raw) => {
    if (drops.size > 0) {
      const names = deltaNames(raw);
      if (names) {
        for (const name of names) {
          const d = drops.get(name);
          if (!d || d.acceptedAt !== null) continue;
          const path = d.armed.get(from);
          if (path === undefined) {
            d.dropped++;
            return;
          }
          d.acceptedAt = nowMs();
          d.acceptedFrom = from;
          d.path = path;
        }
      }
    }
    receive(from, raw);
  };
  // Every registry-channel message of the replica's parts (replication, the claim rule's cfm/cfr, quorum grants) goes out here.
  const port = replica.port;
  const send = port.send.bind(port);
  port.send = (to, msg) => {
    const m0 = msg as { k?: unknown; d?: { entries?: unknown[] } };
    const kind = String(m0.k);
    const t = (traffic[kind] ??= { messages: 0, entries: 0 });
    t.messages++;
    if (kind === 'delta') t.entries += m0.d?.entries?.length ?? 0;
    if (drops.size > 0) {
      const m = msg as { k?: unknown; reply?: unknown };
      if (m.k === 'digest') for (const d of drops.values()) if (d.acceptedAt === null) d.armed.set(to, m.reply === true ? 'peer-round' : 'own-round');
    }
    return send(to, msg);
  };
}

// ---- the worker ------------------------------------------------------------------

let node: ClusterNode | undefined;
let watching = true;
let events = 0;
let firstNodeupAt: number | null = null;
const drops = new Map<string, DropState>();
let traffic: Traffic = {};
const countWaiters = new Set<{ count: number; done: (at: number | null) => void }>();
const outbox: WorkerEvent[] = [];
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

function emit(e: WorkerEvent): void {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(e);
}

function flush(): void {
  if (outbox.length === 0 || !process.connected) return;
  process.send!(outbox.splice(0), ignoreSendError);
}

function running(): ClusterNode {
  if (!node) throw new Error('no node: send start first');
  return node;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run the worker with --expose-gc');
  g();
  g();
}

type Handlers = { [K in CommandName]: (args: WorkerCommands[K]['args']) => Promise<WorkerCommands[K]['result']> | WorkerCommands[K]['result'] };

const handlers: Handlers = {
  clock: () => ({ at: nowMs() }),
  async start({ name, cookie, seeds }) {
    if (node) throw new Error(`a node (${node.name}) is already running here`);
    events = 0;
    firstNodeupAt = null;
    drops.clear();
    const n = createNode({ name, cookie, host: '127.0.0.1', port: 0, mdns: false, seeds });
    n.on('registered', (c) => {
      const at = nowMs();
      events++;
      if (watching) emit({ ev: 'registered', name: c.name, owner: n.whereis(c.name) ?? null, at });
      for (const w of countWaiters) if (events >= w.count) w.done(at);
    });
    n.on('freed', (name) => {
      if (watching) emit({ ev: 'registered', name, owner: null, at: nowMs() });
    });
    n.on('nodeup', (m) => {
      const at = nowMs();
      firstNodeupAt ??= at;
      emit({ ev: 'nodeup', peer: m.name, at });
    });
    // nodeup and nodedown are always reported: the coordinator checks that they agree with members().
    n.on('nodedown', (m, reason) => emit({ ev: 'nodedown', peer: m.name, reason, at: nowMs() }));
    node = n;
    traffic = {};
    const startAt = nowMs();
    // start() creates the replica before its first await: hook it before any peer can come up.
    const started = n.start();
    installHooks(n, drops, traffic);
    await started;
    return { port: n.port, incarnation: n.incarnation, startAt, readyAt: nowMs() };
  },
  async stop() {
    const n = node;
    node = undefined;
    drops.clear();
    await n?.stop();
    return {};
  },
  members: () => ({ members: running().members() }),
  async register({ name }) {
    const n = running();
    const at = nowMs();
    const r = await n.register(name);
    const doneAt = nowMs();
    // An unconfirmed claim names no holder.
    const c = r.won || r.owner !== undefined ? r.claim : { owner: '', incarnation: '', stamp: [0, 0] as const };
    return { at, doneAt, won: r.won, owner: c.owner, incarnation: c.incarnation, stamp: [c.stamp[0], c.stamp[1]] };
  },
  unregister({ name }) {
    const n = running();
    const at = nowMs();
    return { at, released: n.unregister(name) };
  },
  async registerMany({ prefix, count }) {
    const n = running();
    const t0 = performance.now();
    let won = 0;
    for (let i = 0; i < count; i++) if ((await n.register(`${prefix}${String(i).padStart(6, '0')}`)).won) won++;
    return { ms: performance.now() - t0, won };
  },
  whereis({ names }) {
    const n = running();
    return { owners: names.map((x) => n.whereis(x) ?? null) };
  },
  watch({ on }) {
    watching = on;
    return {};
  },
  drop({ name }) {
    running();
    drops.set(name, { dropped: 0, armed: new Map(), acceptedAt: null, acceptedFrom: null, path: null });
    return {};
  },
  dropStatus({ name }) {
    const d = drops.get(name);
    if (!d) throw new Error(`no drop for ${name}`);
    drops.delete(name);
    return { dropped: d.dropped, acceptedAt: d.acceptedAt, acceptedFrom: d.acceptedFrom, path: d.path };
  },
  waitCount({ count, timeoutMs }) {
    running();
    const result = (at: number | null): WorkerCommands['waitCount']['result'] => ({ at, events, firstNodeupAt });
    if (events >= count) return result(nowMs());
    return new Promise((resolve) => {
      const w = {
        count,
        done: (at: number | null): void => {
          clearTimeout(timer);
          countWaiters.delete(w);
          resolve(result(at));
        },
      };
      const timer = setTimeout(() => w.done(null), timeoutMs);
      countWaiters.add(w);
    });
  },
  counts: () => ({ events, registered: running().registered().length }),
  mem({ gc: collect }) {
    if (collect) gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
  },
  traffic({ reset }) {
    const r = structuredClone(traffic);
    if (reset) for (const k of Object.keys(traffic)) traffic[k] = { messages: 0, entries: 0 };
    return r;
  },
  loopDelay({ reset }) {
    const r = { maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6, meanMs: loop.mean / 1e6 };
    if (reset) loop.reset();
    return r;
  },
};

/** Answer a command; events queued before it go first, so the coordinator has seen them when the answer arrives. */
function reply(r: WorkerReply): void {
  flush();
  if (process.connected) process.send!(r, ignoreSendError);
}

/** The coordinator went away mid-send: the 'disconnect' handler ends us. */
function ignoreSendError(): void {}

process.on('message', (raw: unknown) => {
  const req = raw as WorkerRequest;
  if (typeof req !== 'object' || req === null || typeof req.id !== 'number' || !Object.hasOwn(handlers, req.cmd)) return;
  const handler = handlers[req.cmd] as (args: unknown) => unknown;
  Promise.resolve()
    .then(() => handler(req.args ?? {}))
    .then(
      (result) => reply({ id: req.id, ok: true, result }),
      (err: unknown) => reply({ id: req.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
});

// The coordinator is gone (finished, crashed or killed): stop quietly.
process.on('disconnect', () => {
  void Promise.resolve(node?.stop()).finally(() => process.exit(0));
});

if (!process.send) {
  process.stderr.write('registry-worker: run by bench/registry.ts through child_process.fork(), not directly\n');
  process.exit(2);
}
process.send({ ev: 'ready' } satisfies WorkerEvent);
