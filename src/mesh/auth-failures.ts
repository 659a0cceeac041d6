// Auth failures: what the user is told when handshakes fail authentication — the
// usual cause is a node started with another cookie, and a node that meets only such
// peers would otherwise sit alone without a word. Pure over injected time; the mesh
// reports each failure and whether it has members.
// Invariants: at most one warning per peer (the name its hello claimed, else its
// address) per AUTH_REPORT_INTERVAL_MS and at most the failure log's per-address
// limit, the rest at debug through the failure log; at
// most one "alone" line per AUTH_REPORT_INTERVAL_MS, and only while we have no member;
// names from the network are shape-checked (wire/messages.ts) and still passed through
// logSafe before they reach a line.
import type { Logger } from '../util/log.js';
import { logSafe } from './failure-log.js';
import type { FailureLog } from './failure-log.js';
import { OncePerWindow } from './rate-limit.js';

/** One warning per peer, and one "alone" line, per this many ms. */
export const AUTH_REPORT_INTERVAL_MS = 60_000;
/** Peers remembered for the "alone" line. */
export const MAX_AUTH_FAILED_PEERS = 64;
/** Names the "alone" line lists (the most recent). */
export const ALONE_NAMES_SHOWN = 8;

/** The "alone" line for the peers that failed authentication recently (pure). */
export function aloneMessage(recent: readonly string[]): string {
  const shown = recent.slice(-ALONE_NAMES_SHOWN);
  const more = recent.length - shown.length;
  return `alone: ${recent.length} node${recent.length === 1 ? '' : 's'} on the network failed authentication (different cookie?): ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** The reporter of one mesh. */
export class AuthFailureReport {
  private readonly warned = new OncePerWindow(AUTH_REPORT_INTERVAL_MS);
  private readonly alone = new OncePerWindow(AUTH_REPORT_INTERVAL_MS);
  /** Peer -> clock time of its last failure, oldest first. */
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly failureLog: FailureLog,
    private readonly now: () => number,
  ) {}

  /**
   * A handshake with the peer at ip (addr: ip:port) failed authentication; claimedName
   * is the unverified name from its hello, if it got that far; hasMembers tells
   * whether we are connected to anyone.
   */
  failed(claimedName: string | undefined, ip: string, addr: string, hasMembers: boolean): void {
    const now = this.now();
    const who = claimedName !== undefined ? logSafe(claimedName) : ip;
    const message = `authentication failed with ${who} (${ip}): different cookie?`;
    const meta = { peer: who, addr, code: 'ERR_AUTH_FAILED' };
    // Once per peer per minute, and within the per-address limit (a host cycling
    // through claimed names is still one address).
    if (this.warned.allow(who, now)) this.failureLog.note(ip, message, meta, 'warn', 'authentication failed');
    else this.failureLog.note(ip, message, meta, 'debug', 'authentication failed again');
    this.recent.delete(who);
    this.recent.set(who, now);
    if (this.recent.size > MAX_AUTH_FAILED_PEERS) this.recent.delete(this.recent.keys().next().value!);
    if (hasMembers || !this.alone.allow('alone', now)) return;
    const names = [...this.recent].filter(([, at]) => now - at < AUTH_REPORT_INTERVAL_MS).map(([w]) => w);
    this.log.info(aloneMessage(names), { count: names.length });
  }
}
