// Epoch saver: keeps the state file in step with the highest fencing epochs, writing
// at most once per turn of the event loop however many epochs change in that turn (a
// message of a thousand new names is one write, not a thousand).
// Invariants: flush() resolves true only after a write that began after the call has
// completed durably (so every change made before the call is on disk), false when that
// write failed; it never rejects. A failure is logged as an error naming the file and
// the OS error, at most once per FAILURE_LOG_INTERVAL_MS while it keeps failing.
import { describeError } from '../errors.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import { writeEpochs } from './state-file.js';

/** A failing save is logged at most once per this interval: 10 s. */
export const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Settings of an EpochSaver. */
export interface EpochSaverOptions {
  /** The state file. */
  path: string;
  /** The epochs to write, read when a write begins. */
  snapshot: () => Iterable<[string, number]>;
  clock: Clock;
  logger: Logger;
  /** The durable write; default writeEpochs. */
  write?: (path: string, epochs: Iterable<[string, number]>) => void;
  /** Runs fn after the current turn of the event loop; default setImmediate. */
  defer?: (fn: () => void) => { cancel(): void };
}

/** Coalesces epoch changes into durable writes of the state file. */
export class EpochSaver {
  private pending: { promise: Promise<boolean>; resolve: (ok: boolean) => void; cancel: () => void } | undefined;
  private lastOk = true;
  private lastFailureLogAt = -Infinity;
  private stopped = false;

  constructor(private readonly o: EpochSaverOptions) {}

  /** An epoch changed: schedule a write (one per turn, however many changes). */
  markDirty(): void {
    this.schedule();
  }

  /** Resolves true once everything changed so far is saved, false if that save failed. */
  flush(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (!this.pending && this.lastOk) return Promise.resolve(true);
    return this.schedule();
  }

  /** Write now if a write is pending (best effort), and schedule no more. */
  stop(): void {
    if (this.stopped) return;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      p.cancel();
      p.resolve(this.writeNow());
    }
    this.stopped = true;
  }

  private schedule(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (this.pending) return this.pending.promise;
    let resolve!: (ok: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    const defer = this.o.defer ?? ((fn: () => void) => {
      const h = setImmediate(fn);
      return { cancel: () => clearImmediate(h) };
    });
    const handle = defer(() => {
      if (this.pending?.promise !== promise) return;
      this.pending = undefined;
      resolve(this.writeNow());
    });
    this.pending = { promise, resolve, cancel: () => handle.cancel() };
    return promise;
  }

  private writeNow(): boolean {
    try {
      (this.o.write ?? writeEpochs)(this.o.path, this.o.snapshot());
      if (!this.lastOk) this.o.logger.info(`fencing epochs saved again in ${this.o.path}`);
      this.lastOk = true;
      return true;
    } catch (err) {
      this.lastOk = false;
      const now = this.o.clock.now();
      if (now - this.lastFailureLogAt >= FAILURE_LOG_INTERVAL_MS) {
        this.lastFailureLogAt = now;
        this.o.logger.error(`cannot save fencing epochs in ${this.o.path}: ${describeError(err)}; no tenure starts and no quorum grant is given until they are saved`, { path: this.o.path });
      }
      return false;
    }
  }
}
