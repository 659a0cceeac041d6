// A man in the middle for in-memory streams: every chunk each side writes passes
// through a hook that may record, alter or drop it, and raw bytes can be injected.
import type { Stream } from '../../src/transport/transport.js';

type Dir = 'a->b' | 'b->a';

export interface Mitm {
  a: Stream;
  b: Stream;
  /** Return the chunk to forward (possibly altered) or undefined to drop it. */
  hook: (dir: Dir, chunk: Buffer) => Buffer | undefined;
  /** Deliver raw bytes to one side as if the other had sent them. */
  inject(to: 'a' | 'b', bytes: Buffer): void;
  /** Everything each side wrote, chunk by chunk. */
  log: { dir: Dir; chunk: Buffer }[];
}

export function mitmPair(): Mitm {
  const handlers = { a: { data: [] as ((c: Buffer) => void)[], close: [] as ((e?: Error) => void)[], closed: false }, b: { data: [] as ((c: Buffer) => void)[], close: [] as ((e?: Error) => void)[], closed: false } };
  const shut = (side: 'a' | 'b'): void => {
    const h = handlers[side];
    if (h.closed) return;
    h.closed = true;
    for (const f of h.close.splice(0)) f();
  };
  const deliver = (to: 'a' | 'b', bytes: Buffer): void => {
    queueMicrotask(() => {
      if (!handlers[to].closed) for (const f of handlers[to].data) f(bytes);
    });
  };
  const m: Mitm = {
    hook: (_d, c) => c,
    log: [],
    inject: deliver,
    a: undefined as unknown as Stream,
    b: undefined as unknown as Stream,
  };
  const side = (me: 'a' | 'b', other: 'a' | 'b', dir: Dir): Stream => ({
    remoteAddress: other === 'a' ? '10.0.0.1' : '10.0.0.2',
    remotePort: 1234,
    write(data) {
      if (handlers[me].closed) return;
      const chunk = Buffer.from(data);
      m.log.push({ dir, chunk });
      const out = m.hook(dir, chunk);
      if (out) deliver(other, out);
    },
    close() {
      shut(me);
      queueMicrotask(() => shut(other));
    },
    onData(cb) {
      handlers[me].data.push(cb);
    },
    onClose(cb) {
      if (handlers[me].closed) cb();
      else handlers[me].close.push(cb);
    },
  });
  m.a = side('a', 'b', 'a->b');
  m.b = side('b', 'a', 'b->a');
  return m;
}
