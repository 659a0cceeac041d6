// Memory: an in-process Network for tests and simulations. Streams are pairs of
// queues; bytes are delivered asynchronously (queueMicrotask) in order. Faults for
// simulations, each by host address:
// - mute: one direction between two hosts drops its bytes (a jammed link);
//   partition()/heal() mute every link between groups, both ways;
// - freeze: bytes and closes arriving at a frozen host wait, in order, until it thaws
//   (a stopped process: the kernel keeps its sockets, it reads nothing);
// - kill: the host dies (a killed process): its listeners go, the other end of each of
//   its streams sees the close at once (the kernel's FIN), and its own ends are closed
//   without telling it (nothing runs there any more); revive lets a new process start
//   on the host.
// Invariant: per stream and direction, bytes arrive in the order written, frozen or not.
import { ClusterError } from '../errors.js';
import type { Listener, Network, Stream } from './transport.js';

interface Half extends Stream {
  deliver(chunk: Buffer): void;
  remoteClosed(): void;
  /** Closed by the dying host's kernel: no handler of the host runs. */
  die(): void;
}

/** Runs a delivery to the host that owns a stream end now, or later (a frozen host). */
type Gate = (owner: string, deliver: () => void) => void;

const immediate: Gate = (_owner, deliver) => deliver();

function makeHalf(remoteAddress: string, remotePort: number, peer: () => Half, muted: () => boolean, peerOwner: string, gate: Gate): Half {
  let closed = false;
  const dataHandlers: ((c: Buffer) => void)[] = [];
  const closeHandlers: ((err?: Error) => void)[] = [];
  const shut = (): void => {
    if (closed) return;
    closed = true;
    for (const h of closeHandlers.splice(0)) h();
  };
  return {
    remoteAddress,
    remotePort,
    write(data) {
      if (closed || muted()) return;
      const copy = Buffer.from(data);
      queueMicrotask(() => gate(peerOwner, () => peer().deliver(copy)));
    },
    close() {
      if (closed) return;
      queueMicrotask(() => gate(peerOwner, () => peer().remoteClosed()));
      shut();
    },
    onData(cb) {
      dataHandlers.push(cb);
    },
    onClose(cb) {
      if (closed) cb();
      else closeHandlers.push(cb);
    },
    deliver(chunk) {
      if (!closed) for (const h of dataHandlers) h(chunk);
    },
    remoteClosed() {
      shut();
    },
    die() {
      if (closed) return;
      closed = true;
      closeHandlers.length = 0;
      queueMicrotask(() => gate(peerOwner, () => peer().remoteClosed()));
    },
  };
}

/** Two connected in-memory streams; isMuted(from, to) drops the bytes one writes; gate holds deliveries to a frozen host. */
export function streamPair(
  aAddress = '10.0.0.1',
  bAddress = '10.0.0.2',
  isMuted: (from: string, to: string) => boolean = () => false,
  gate: Gate = immediate,
): [Stream, Stream] {
  let a!: Half;
  let b!: Half;
  a = makeHalf(bAddress, 40000, () => b, () => isMuted(aAddress, bAddress), bAddress, gate);
  b = makeHalf(aAddress, 40001, () => a, () => isMuted(bAddress, aAddress), aAddress, gate);
  return [a, b];
}

/** An in-memory network where each host is named by an address string. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (s: Stream) => void>();
  private nextPort = 20000;
  private readonly mutedLinks = new Set<string>();
  /** Frozen hosts and the deliveries waiting for them, in order. */
  private readonly frozen = new Map<string, (() => void)[]>();
  private readonly dead = new Set<string>();
  /** Each host's stream ends (for kill). */
  private readonly ends = new Map<string, Set<Half>>();
  private readonly gate: Gate = (owner, deliver) => {
    if (this.dead.has(owner)) return;
    const waiting = this.frozen.get(owner);
    if (waiting) waiting.push(deliver);
    else deliver();
  };

  /** Drop (or, with on = false, deliver again) every byte host `from` writes to host `to`. */
  mute(from: string, to: string, on = true): void {
    if (on) this.mutedLinks.add(`${from}>${to}`);
    else this.mutedLinks.delete(`${from}>${to}`);
  }

  /** Cut every link between hosts of different groups, both ways (hosts in no group keep their links). */
  partition(groups: readonly (readonly string[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.mute(a, b);
      }
    }
  }

  /** Deliver on every link again (every mute and partition ends). */
  heal(): void {
    this.mutedLinks.clear();
  }

  /** Hold every byte and close arriving at host until thaw(host), as for a stopped process. */
  freeze(host: string): void {
    if (!this.frozen.has(host)) this.frozen.set(host, []);
  }

  /** Deliver, in order, what arrived for host while it was frozen. */
  thaw(host: string): void {
    const waiting = this.frozen.get(host);
    this.frozen.delete(host);
    for (const deliver of waiting ?? []) deliver();
  }

  /** The host dies: its listeners go, its streams close (the other ends see it at once), and nothing reaches it any more. */
  kill(host: string): void {
    this.dead.add(host);
    this.frozen.delete(host);
    for (const key of [...this.listeners.keys()]) if (key.startsWith(`${host}:`)) this.listeners.delete(key);
    for (const end of this.ends.get(host) ?? []) end.die();
    this.ends.delete(host);
  }

  /** A killed host comes back (a process started again on it): it may listen and dial again. */
  revive(host: string): void {
    this.dead.delete(host);
  }

  private track(host: string, end: Stream): void {
    let set = this.ends.get(host);
    if (!set) this.ends.set(host, (set = new Set()));
    set.add(end as Half);
    end.onClose(() => set.delete(end as Half));
  }

  /** The Network as seen from one host. */
  host(address: string): Network {
    return {
      listen: async (_host, port, onStream) => {
        const p = port || this.nextPort++;
        const key = `${address}:${p}`;
        if (this.listeners.has(key)) throw new ClusterError('ERR_LISTEN', `cannot listen on ${key}: the port is already in use`);
        this.listeners.set(key, onStream);
        const self = this;
        const listener: Listener = {
          address,
          port: p,
          async close() {
            self.listeners.delete(key);
          },
        };
        return listener;
      },
      dial: async (host, port) => {
        const onStream = this.listeners.get(`${host}:${port}`);
        if (!onStream || this.dead.has(address)) throw new ClusterError('ERR_CONNECTION_CLOSED', `cannot connect to ${host}:${port}: connection refused`);
        const [mine, theirs] = streamPair(address, host, (from, to) => this.mutedLinks.has(`${from}>${to}`), this.gate);
        this.track(address, mine);
        this.track(host, theirs);
        queueMicrotask(() => this.gate(host, () => onStream(theirs)));
        return mine;
      },
    };
  }
}
