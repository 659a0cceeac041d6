// Drop log: one line for a counter (epoch or version) from a member that the bound rule
// refused, rate-limited per node. Replication, the epoch book and quorum grants share one
// DropLog, so a flood of poisoned values of any kind costs at most one line per
// DROP_LOG_INTERVAL_MS (the next line says how many were held back).
// Invariant: the subject (a name from the network) is escaped and capped before it is
// logged; the value is shown as a number, never via String() of a raw object.
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { cleanText } from '../util/untrusted.js';
import type { CounterVerdict } from './bounds.js';

/** Refused counters are logged at most once per this interval (with a count of the rest): 10 s. */
export const DROP_LOG_INTERVAL_MS = 10_000;

/** The rate-limited log of refused counters of one node. */
export class DropLog {
  private last = { at: -Infinity, suppressed: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Log a refused counter, at most once per DROP_LOG_INTERVAL_MS (the rest are counted). */
  refused(from: string, what: string, subject: string, value: number, verdict: CounterVerdict | string): void {
    const shown = Number.isSafeInteger(value) || Number.isNaN(value) ? String(value) : value.toExponential(3);
    this.dropped(`dropped ${what} ${shown} for "${cleanText(subject, 64)}" from ${from}: ${verdict}`, { peer: from, verdict });
  }

  /** Log something else dropped from a member (text built from checked values only), under the same limit. */
  dropped(text: string, meta: Record<string, unknown>): void {
    const now = this.clock.now();
    if (now - this.last.at < DROP_LOG_INTERVAL_MS) {
      this.last.suppressed++;
      return;
    }
    const more = this.last.suppressed;
    this.last = { at: now, suppressed: 0 };
    this.logger.warn(`${text}${more ? ` (and ${more} more dropped since the last report)` : ''}`, meta);
  }
}
