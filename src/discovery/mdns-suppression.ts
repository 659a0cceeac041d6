// mDNS suppression: the pure rules that keep mDNS traffic from growing as N^2 while a
// cluster forms (RFC 6762, our subset). Every decision here is a plain function of a
// decoded (untrusted) packet, what we know, and times in milliseconds; the socket shell
// (mdns.ts) owns the timers.
// - Answering (§6): a shared record (our PTR) is answered after a random 20-120 ms, and
//   never multicast on one interface within 1 s of the last time (the pacing).
// - Known-answer suppression (§7.1) is in queryAsksForUs (mdns-records.ts): a responder
//   whose PTR is in the query's known answers with at least half its TTL stays silent.
// - Duplicate question suppression (§7.3): a node about to send a browse query that sees
//   another node's browse query whose known answers hold nothing it does not know itself
//   treats its own query as sent: every answer that query draws is multicast, so it hears
//   them too. A cluster then sends about one browse query per interval, not one per node.
// Invariants: nothing here throws on any input; a received packet costs at most
// MAX_QUESTIONS_PER_QUERY questions and MAX_RECORDS_PER_PACKET answers of work, and a
// query with more answers than that is never taken as a reason to stay silent.
import { MAX_QUESTIONS_PER_QUERY, MAX_RECORDS_PER_PACKET, MDNS_RECORD_TTL_S, MDNS_SERVICE_TYPE } from './mdns-records.js';
import type { MdnsIdentity } from './mdns-records.js';

/** Least random delay before answering a query for a shared record (RFC 6762 §6): 20 ms. */
export const MDNS_RESPONSE_DELAY_MIN_MS = 20;
/** Most random delay before answering a query for a shared record (RFC 6762 §6): 120 ms. */
export const MDNS_RESPONSE_DELAY_MAX_MS = 120;
/** Least time between two multicasts of our records on one interface (RFC 6762 §6): 1 s. */
export const MDNS_MIN_RESPONSE_INTERVAL_MS = 1000;

/** The random delay before answering a query, from a float in [0, 1): 20 to 120 ms. */
export function responseDelayMs(jitter01: number): number {
  return MDNS_RESPONSE_DELAY_MIN_MS + (MDNS_RESPONSE_DELAY_MAX_MS - MDNS_RESPONSE_DELAY_MIN_MS) * jitter01;
}

/**
 * When a response asked for at nowMs with delayMs of delay may go out on an interface
 * whose records were last multicast at lastMulticastAtMs (-Infinity if never): not
 * before the delay, and not within minIntervalMs (default 1 s) of the last multicast.
 */
export function nextResponseAt(nowMs: number, delayMs: number, lastMulticastAtMs: number, minIntervalMs: number = MDNS_MIN_RESPONSE_INTERVAL_MS): number {
  return Math.max(nowMs + delayMs, lastMulticastAtMs + minIntervalMs);
}

/**
 * Duplicate question suppression never keeps our own browse query back longer than this
 * many longest query intervals: a host on the link that sends browse queries listing
 * everything we know cannot silence our querier for good.
 */
export const MDNS_MAX_SUPPRESSED_INTERVALS = 4;

/** Our browse schedule as mayStandIn sees it, times in ms. */
export interface BrowseSchedule {
  /** When we last sent a browse query ourselves (-Infinity before the first). */
  lastOwnAtMs: number;
  /** When the last one was sent or treated as sent. */
  lastAtMs: number;
  /** When the next one is due. */
  dueAtMs: number;
}

/**
 * Whether another node's query may stand in for our next browse query at nowMs: only
 * after our first own browse query (a newcomer always asks once itself); only when the
 * next one is planned, i.e. in the second half of the wait for it (so a burst of queries
 * moves our schedule on once, not once per query); and within
 * MDNS_MAX_SUPPRESSED_INTERVALS longest intervals of our last own one.
 */
export function mayStandIn(nowMs: number, s: BrowseSchedule, queryMaxIntervalMs: number): boolean {
  if (nowMs - s.lastOwnAtMs >= MDNS_MAX_SUPPRESSED_INTERVALS * queryMaxIntervalMs) return false;
  return nowMs >= s.lastAtMs + (s.dueAtMs - s.lastAtMs) / 2;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** A DNS name from a decoded packet, lower-cased, or undefined when it is not a short string. */
function nameOf(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= 255 ? v.toLowerCase() : undefined;
}

const SERVICE = MDNS_SERVICE_TYPE.toLowerCase();

/** Why a seen query does or does not stand in for our own browse query. */
export type SeenQueryVerdict =
  /** It stands in for ours: treat our browse query as sent. */
  | 'suppress'
  /** Not a browse query for our service type (or a QU one, whose answers may be unicast). */
  | 'not-browse'
  /** Our own query, come back to us (our PTR is its first known answer). */
  | 'own'
  /** Truncated (more known answers follow, RFC 6762 §7.2), or more known answers than we read. */
  | 'incomplete'
  /** It lists an instance we do not know with half its TTL left: its owner would stay silent to it but answer us. */
  | 'knows-more';

/**
 * Duplicate question suppression (RFC 6762 §7.3): does this received query (decoded,
 * untrusted) stand in for our own next browse query? Only a multicast-answered (QM)
 * browse question counts, and only when every PTR of our service type in its known
 * answers, with at least half its TTL, is ours or one `knows` says we would list too.
 */
export function judgeSeenQuery(id: MdnsIdentity, packet: unknown, knows: (instance: string) => boolean): SeenQueryVerdict {
  if (!isObject(packet) || !Array.isArray(packet.questions)) return 'not-browse';
  let browse = false;
  for (const q of packet.questions.slice(0, MAX_QUESTIONS_PER_QUERY)) {
    if (!isObject(q) || nameOf(q.name) !== SERVICE || (q.type !== 'PTR' && q.type !== 'ANY')) continue;
    // dns-packet leaves the class 'IN' only without the QU bit (a QU question may be answered by unicast).
    if (q.class === undefined || q.class === 'IN') browse = true;
  }
  if (!browse) return 'not-browse';
  if (packet.flag_tc === true) return 'incomplete';
  const answers = Array.isArray(packet.answers) ? packet.answers : [];
  if (answers.length > MAX_RECORDS_PER_PACKET) return 'incomplete';
  const own = id.instance.toLowerCase();
  for (let i = 0; i < answers.length; i++) {
    const a: unknown = answers[i];
    if (!isObject(a) || a.type !== 'PTR' || nameOf(a.name) !== SERVICE) continue;
    const instance = nameOf(a.data);
    if (instance === undefined) continue;
    if (instance === own) {
      if (i === 0) return 'own';
      continue;
    }
    const ttl = a.ttl;
    if (typeof ttl !== 'number' || !(ttl >= MDNS_RECORD_TTL_S / 2)) continue; // its owner answers anyway
    if (!knows(instance)) return 'knows-more';
  }
  return 'suppress';
}
