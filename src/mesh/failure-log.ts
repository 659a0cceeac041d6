// Failure log: the per-address limiter for lines about failed connections, inbound
// (accept, handshake) and outbound (dial) alike, so a flood of hostile connections or
// forged candidates cannot flood the log. Lines are counted per address and message
// (one kind of failure cannot hide another; the kinds are a handful of fixed texts).
// Invariants: per address, message and window, at most `perWindow` lines at their own level,
// then at most `debugPerWindow` at debug, then none (counted); when a window with
// suppressed lines ends and the address fails again, one summary line says how many;
// at most `maxAddresses` addresses are tracked (the oldest is forgotten first).
import type { Logger, LogLevel, LogMeta } from '../util/log.js';
import { cleanText, describeValue } from '../util/untrusted.js';

/** Lines per address per window at their own level. */
export const FAILURE_LOGS_PER_WINDOW = 5;
/** Further lines per address per window at debug level; the rest are dropped. */
export const FAILURE_DEBUG_LOGS_PER_WINDOW = 50;
/** The window of the failure-log limiter, ms. */
export const FAILURE_LOG_WINDOW_MS = 60_000;
/** Addresses the limiter remembers. */
export const FAILURE_LOG_MAX_ADDRESSES = 1024;

/** What to do with the n-th failure line of a window (n from 1). */
export type FailureLogVerdict = 'log' | 'debug' | 'drop';

/** Pure: the verdict for the n-th line of an address's window. */
export function failureLogVerdict(n: number, perWindow = FAILURE_LOGS_PER_WINDOW, debugPerWindow = FAILURE_DEBUG_LOGS_PER_WINDOW): FailureLogVerdict {
  if (n <= perWindow) return 'log';
  if (n <= perWindow + debugPerWindow) return 'debug';
  return 'drop';
}

interface Window {
  since: number;
  count: number;
}

/** The per-address limiter; time comes from the caller's clock. */
export class FailureLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly perWindow = FAILURE_LOGS_PER_WINDOW,
    private readonly windowMs = FAILURE_LOG_WINDOW_MS,
  ) {}

  /**
   * Log one failure line about address at level (warn by default), within the limits;
   * lines are counted per address and kind (the message itself unless the message
   * carries varying text, such as a peer's claimed name).
   */
  note(address: string, message: string, meta: LogMeta, level: LogLevel = 'warn', kind: string = message): FailureLogVerdict {
    const now = this.now();
    const key = `${address}\n${kind}`;
    let w = this.windows.get(key);
    if (!w || now - w.since > this.windowMs) {
      if (w && w.count > this.perWindow) this.log.warn('more connection failures from this address were logged at debug level', { addr: address, count: w.count - this.perWindow });
      w = { since: now, count: 0 };
      this.windows.delete(key);
      this.windows.set(key, w);
      if (this.windows.size > FAILURE_LOG_MAX_ADDRESSES) this.windows.delete(this.windows.keys().next().value!);
    }
    w.count++;
    const verdict = failureLogVerdict(w.count, this.perWindow);
    if (verdict === 'log') this.log[level](message, meta);
    else if (verdict === 'debug') this.log.debug(message, meta);
    return verdict;
  }
}

/**
 * A value from the network made safe for a log line: a string of plain name characters
 * as it is; any other string quoted and cleaned (util/untrusted.ts cleanText, at most
 * maxChars characters); anything else described by its type.
 */
export function logSafe(value: unknown, maxChars = 64): string {
  if (typeof value !== 'string') return describeValue(value);
  if (value.length <= maxChars && /^[A-Za-z0-9_.@:-]*$/.test(value)) return value;
  return `"${cleanText(value, maxChars)}"`;
}
