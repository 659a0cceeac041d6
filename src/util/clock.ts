// Clock: the one source of time and timers for the whole library. Production code
// uses systemClock; simulations and tests use ManualClock and advance it by hand,
// so every timeout in the cluster is deterministic and replayable.

/** A handle returned by Clock.setTimeout, passed back to clearTimeout. */
export type TimerHandle = { readonly id: number };

/** Time and timers, injected everywhere instead of Date.now()/setTimeout. */
export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch. */
  wallNow(): number;
  /** Run fn once after ms milliseconds (unref'd: it never keeps the process alive). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

let nextSystemId = 1;

/** The real clock: performance.now() and Node's timers. */
export const systemClock: Clock = (() => {
  const timers = new Map<number, NodeJS.Timeout>();
  return {
    now: () => performance.now(),
    wallNow: () => Date.now(),
    setTimeout(fn, ms) {
      const id = nextSystemId++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, Math.max(0, ms));
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimeout(handle) {
      if (!handle) return;
      const t = timers.get(handle.id);
      if (t) {
        clearTimeout(t);
        timers.delete(handle.id);
      }
    },
  };
})();

/** A clock that only moves when told to: advance(ms) runs due timers in time order. */
export class ManualClock implements Clock {
  private current: number;
  private readonly wallOffset: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; seq: number; fn: () => void }>();

  constructor(startMs = 0, wallOffsetMs = 1_700_000_000_000) {
    this.current = startMs;
    this.wallOffset = wallOffsetMs;
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.wallOffset + this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.pending.set(id, { at: this.current + Math.max(0, ms), seq: id, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.pending.delete(handle.id);
  }

  /** Number of timers not yet fired. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Move time forward by ms without firing anything, as for a process frozen by SIGSTOP:
   * the overdue timers fire, late, at the next advance().
   */
  jump(ms: number): void {
    this.current += ms;
  }

  /** Move time forward by ms, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: { id: number; at: number; seq: number; fn: () => void } | undefined;
      for (const [id, t] of this.pending) {
        if (t.at > target) continue;
        if (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = { id, ...t };
      }
      if (!next) break;
      this.pending.delete(next.id);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = target;
  }
}
