// Memory: an in-process Network for tests and simulations. Streams are pairs of
// queues; bytes are delivered asynchronously (queueMicrotask) in order. One direction
// between two hosts can be muted (its bytes dropped) to simulate a jammed link.
import { ClusterError } from '../errors.js';
import type { Listener, Network, Stream } from './transport.js';

interface Half extends Stream {
  deliver(chunk: Buffer): void;
  remoteClosed(): void;
}

function makeHalf(remoteAddress: string, remotePort: number, peer: () => Half, muted: () => boolean): Half {
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
      queueMicrotask(() => peer().deliver(copy));
    },
    close() {
      if (closed) return;
      queueMicrotask(() => peer().remoteClosed());
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
  };
}

/** Two connected in-memory streams; isMuted(from, to) drops the bytes one writes. */
export function streamPair(aAddress = '10.0.0.1', bAddress = '10.0.0.2', isMuted: (from: string, to: string) => boolean = () => false): [Stream, Stream] {
  let a!: Half;
  let b!: Half;
  a = makeHalf(bAddress, 40000, () => b, () => isMuted(aAddress, bAddress));
  b = makeHalf(aAddress, 40001, () => a, () => isMuted(bAddress, aAddress));
  return [a, b];
}

/** An in-memory network where each host is named by an address string. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (s: Stream) => void>();
  private nextPort = 20000;
  private readonly mutedLinks = new Set<string>();

  /** Drop (or, with on = false, deliver again) every byte host `from` writes to host `to`. */
  mute(from: string, to: string, on = true): void {
    if (on) this.mutedLinks.add(`${from}>${to}`);
    else this.mutedLinks.delete(`${from}>${to}`);
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
        if (!onStream) throw new ClusterError('ERR_CONNECTION_CLOSED', `cannot connect to ${host}:${port}: connection refused`);
        const [mine, theirs] = streamPair(address, host, (from, to) => this.mutedLinks.has(`${from}>${to}`));
        queueMicrotask(() => onStream(theirs));
        return mine;
      },
    };
  }
}
