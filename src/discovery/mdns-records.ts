// mDNS records: the pure DNS-SD vocabulary of cluster-node discovery. Builds the
// records a node advertises (PTR, SRV, TXT, A under `_cluster-node._tcp.local`) and
// the queries it sends, decides whether a query asks for us, and turns a decoded
// (untrusted) response into validated records. No sockets, no timers, no state.
// Invariants: every name built here fits DNS limits (labels <= 63 bytes, names <= 255);
// every record returned by parseResponse has been shape- and range-checked, names are
// lower-cased, TTLs are clamped to MAX_ACCEPTED_TTL_S, and records of our own instance
// are never returned. Nothing derived from the cookie is ever advertised: clusters that
// share a LAN are kept apart by a public label (TXT `cluster`), and whether a peer knows
// the cookie is for the handshake alone to tell.
import { isValidNodeName, MAX_NAME_LENGTH } from '../wire/messages.js';
import { describeValue } from '../util/untrusted.js';

/** The DNS-SD service type every cluster-node advertises. */
export const MDNS_SERVICE_TYPE = '_cluster-node._tcp.local';
/**
 * Value of the TXT key `v`: the version of this record layout. Version 2 carries the
 * public `cluster` label; version 1 carried a cookie-derived `tag` and is foreign now.
 */
export const MDNS_TXT_VERSION = '2';
/** TTL of every record we advertise, in seconds: 120 s. */
export const MDNS_RECORD_TTL_S = 120;
/** Longest DNS name accepted from the network, in characters. */
export const MAX_DNS_NAME_LENGTH = 255;
/** Longest DNS label, in bytes (RFC 1035). */
export const MAX_DNS_LABEL_BYTES = 63;
/** Longest cluster label, in characters: 63 (one DNS label). */
export const MAX_CLUSTER_LABEL_LENGTH = 63;
/** The cluster label every node uses unless told otherwise: 'default'. */
export const DEFAULT_CLUSTER_LABEL = 'default';
/**
 * Longest TTL accepted from the network, in seconds: 240 s (twice the 120 s of our own
 * records). Longer ones are clamped, so a forged record outlives its sender by at most
 * four minutes.
 */
export const MAX_ACCEPTED_TTL_S = 240;
/** Hex digits of the incarnation used in DNS names (64 bits keep boots apart). */
export const INCARNATION_NAME_DIGITS = 16;
/** Most records read from one packet (answers + additionals); the rest are ignored. */
export const MAX_RECORDS_PER_PACKET = 256;
/** Most questions read from one query. */
export const MAX_QUESTIONS_PER_QUERY = 64;

/** What this node advertises: the names and data of its records. */
export interface MdnsIdentity {
  /** Full instance name, e.g. `alice@host-1a2b3c4d._cluster-node._tcp.local`. */
  instance: string;
  /** Host name the SRV record points at, unique per boot, e.g. `cn-1a2b3c4d.local`. */
  target: string;
  /** TCP port (SRV), 1..65535. */
  port: number;
  /** Node name (TXT `name`). */
  name: string;
  /** Public cluster label (TXT `cluster`), e.g. 'default'. */
  cluster: string;
}

/** A PTR record as we send it. */
export interface PtrRecord {
  name: string;
  type: 'PTR';
  ttl: number;
  data: string;
}
/** An SRV record as we send it. */
export interface SrvRecord {
  name: string;
  type: 'SRV';
  ttl: number;
  flush: boolean;
  data: { priority: number; weight: number; port: number; target: string };
}
/** A TXT record as we send it (one Buffer per `key=value` string, as dns-packet decodes them). */
export interface TxtRecord {
  name: string;
  type: 'TXT';
  ttl: number;
  flush: boolean;
  data: Buffer[];
}
/** An A record as we send it. */
export interface ARecord {
  name: string;
  type: 'A';
  ttl: number;
  flush: boolean;
  data: string;
}
/** Any record we send; structurally a dns-packet Answer. */
export type OutgoingRecord = PtrRecord | SrvRecord | TxtRecord | ARecord;

/** A question as we send it. */
export interface OutgoingQuestion {
  name: string;
  type: 'PTR' | 'SRV' | 'TXT' | 'A';
}

/** A query packet as we send it: questions plus known answers (RFC 6762 §7.1). */
export interface OutgoingQuery {
  questions: OutgoingQuestion[];
  answers: PtrRecord[];
  /** Known answers left out because the packet was full (their owners will answer). */
  omitted: number;
}

/** A PTR record we already hold, offered as a known answer: instance name and remaining TTL in seconds. */
export interface KnownAnswer {
  instance: string;
  ttl: number;
}

/** Label characters kept as they are; anything else (e.g. '.') becomes '-'. */
const UNSAFE_LABEL_CHARS = /[^A-Za-z0-9_@-]/g;

function incarnationForNames(incarnation: string): string {
  return incarnation.toLowerCase().replace(/[^0-9a-z]/g, '').slice(0, INCARNATION_NAME_DIGITS) || '0';
}

/**
 * The instance label for a node: its name with characters a label cannot hold replaced by '-',
 * truncated so that `-<incarnation>` fits, e.g. `alice@host-example-1a2b3c4d`. At most 63 bytes.
 */
export function instanceLabel(name: string, incarnation: string): string {
  const inc = incarnationForNames(incarnation);
  const room = MAX_DNS_LABEL_BYTES - 1 - inc.length;
  const base = (name.replace(UNSAFE_LABEL_CHARS, '-') || 'node').slice(0, room);
  return `${base}-${inc}`;
}

/** True if s is a cluster label: 1 to 63 characters of A-Za-z0-9_- (matched exactly, case-sensitive). */
export function isValidClusterLabel(s: unknown): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= MAX_CLUSTER_LABEL_LENGTH && /^[A-Za-z0-9_-]+$/.test(s);
}

/**
 * The identity (names, port, TXT data) a node advertises. Pure; does not validate its
 * inputs. It takes no key: nothing secret goes into a record.
 */
export function mdnsIdentity(name: string, incarnation: string, port: number, cluster: string): MdnsIdentity {
  return {
    instance: `${instanceLabel(name, incarnation)}.${MDNS_SERVICE_TYPE}`,
    target: `cn-${incarnationForNames(incarnation)}.local`,
    port,
    name,
    cluster,
  };
}

/**
 * Every record a node advertises on one interface: PTR, SRV, TXT and one A record per
 * address of that interface. ttlS is 120 s normally and 0 for a goodbye.
 */
export function serviceRecords(id: MdnsIdentity, addresses: readonly string[], ttlS: number = MDNS_RECORD_TTL_S): OutgoingRecord[] {
  const flush = ttlS > 0;
  return [
    { name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: ttlS, data: id.instance },
    { name: id.instance, type: 'SRV', ttl: ttlS, flush, data: { priority: 0, weight: 0, port: id.port, target: id.target } },
    {
      name: id.instance,
      type: 'TXT',
      ttl: ttlS,
      flush,
      data: [`v=${MDNS_TXT_VERSION}`, `name=${id.name}`, `cluster=${id.cluster}`].map((s) => Buffer.from(s, 'utf8')),
    },
    ...addresses.map((a): ARecord => ({ name: id.target, type: 'A', ttl: ttlS, flush, data: a })),
  ];
}

/**
 * Largest query we send, in bytes of UDP payload: 1472 (a 1500-byte Ethernet MTU less
 * 20 bytes of IPv4 and 8 of UDP header), so that a query is never fragmented (RFC 6762
 * §17). Known answers that do not fit are left out (see buildQuery).
 */
export const MDNS_MAX_QUERY_BYTES = 1472;
/** Bytes of a DNS message header. */
const DNS_HEADER_BYTES = 12;

/**
 * Bytes a DNS name takes on the wire, uncompressed (dns-packet, which multicast-dns
 * encodes with, never compresses): one length byte per label plus its UTF-8 bytes, plus
 * the root byte. Pure; the name is one we built.
 */
export function dnsNameBytes(name: string): number {
  const n = name.replace(/^\.|\.$/g, '');
  if (n.length === 0) return 1;
  let bytes = 1;
  for (const label of n.split('.')) bytes += 1 + Buffer.byteLength(label, 'utf8');
  return bytes;
}

/** Bytes of one PTR record of our service type pointing at instance (name, type, class, TTL, length, data). */
export function ptrRecordBytes(instance: string): number {
  return dnsNameBytes(MDNS_SERVICE_TYPE) + 10 + dnsNameBytes(instance);
}

/**
 * A query for the given questions, at most maxBytes long (default MDNS_MAX_QUERY_BYTES).
 * Known answers go along so that peers we already know stay quiet (RFC 6762 §7.1); our
 * own PTR always goes first, which marks the query as ours and keeps our own responder
 * (and nobody else's) from answering it. `known` is in order of preference; a known
 * answer that does not fit is left out and counted in `omitted` (its owner answers the
 * query: that is what a long list costs, one response per omitted peer; RFC 6762 §7.2's
 * multi-packet known answers are not sent).
 */
export function buildQuery(
  id: MdnsIdentity,
  questions: OutgoingQuestion[],
  known: readonly KnownAnswer[] = [],
  maxBytes: number = MDNS_MAX_QUERY_BYTES,
): OutgoingQuery {
  const answers: PtrRecord[] = [{ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: MDNS_RECORD_TTL_S, data: id.instance }];
  let bytes = DNS_HEADER_BYTES + ptrRecordBytes(id.instance);
  for (const q of questions) bytes += dnsNameBytes(q.name) + 4;
  let omitted = 0;
  const own = id.instance.toLowerCase();
  for (const k of known) {
    if (k.instance === own) continue;
    const size = ptrRecordBytes(k.instance);
    if (bytes + size > maxBytes) {
      omitted++;
      continue;
    }
    bytes += size;
    answers.push({ name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: k.ttl, data: k.instance });
  }
  return { questions, answers, omitted };
}

/** The browse query: "which instances of _cluster-node._tcp.local exist?" */
export function browseQuery(id: MdnsIdentity, known: readonly KnownAnswer[] = []): OutgoingQuery {
  return buildQuery(id, [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }], known);
}

/**
 * Delay before browse query number `attempt` (1-based; attempt 0 is the one at start):
 * 1 s, 2 s, 4 s ... capped at maxIntervalMs, shortened by up to 10 % of jitter.
 */
export function queryDelayMs(attempt: number, maxIntervalMs: number, jitter01: number): number {
  if (attempt <= 0) return Math.round(20 + 100 * jitter01);
  const base = Math.min(1000 * 2 ** Math.min(attempt - 1, 30), Math.max(1000, maxIntervalMs));
  return Math.round(base * (1 - 0.1 * jitter01));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** A DNS name from the network: a non-empty string of at most 255 chars, lower-cased; else undefined. */
function dnsName(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_DNS_NAME_LENGTH) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(v)) return undefined;
  return v.toLowerCase();
}

const SERVICE_SUFFIX = `.${MDNS_SERVICE_TYPE.toLowerCase()}`;

/** True if name (lower-cased) is `<one label>._cluster-node._tcp.local`. */
export function isServiceInstanceName(name: string): boolean {
  if (!name.endsWith(SERVICE_SUFFIX)) return false;
  const label = name.slice(0, -SERVICE_SUFFIX.length);
  return label.length > 0 && !label.includes('.') && Buffer.byteLength(label, 'utf8') <= MAX_DNS_LABEL_BYTES;
}

const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);

/** True if s is a dotted-quad IPv4 unicast address a peer could listen on (not 0/8, not multicast or reserved). */
export function isUsableIPv4(s: unknown): s is string {
  if (typeof s !== 'string' || s.length > 15 || !IPV4.test(s)) return false;
  const first = Number(s.slice(0, s.indexOf('.')));
  return first !== 0 && first < 224;
}

/** A validated PTR record: our service type points at `instance`. */
export interface ParsedPtr {
  instance: string;
  ttl: number;
}
/** A validated SRV record of an instance. */
export interface ParsedSrv {
  instance: string;
  ttl: number;
  port: number;
  target: string;
}
/** A validated TXT record of an instance of our cluster. */
export interface ParsedTxt {
  instance: string;
  ttl: number;
  name: string;
}
/** A validated A record. */
export interface ParsedAddress {
  target: string;
  ttl: number;
  address: string;
}
/** Why an instance of our service type is not one of ours: another cluster label, or another record version. */
export type ForeignReason = 'cluster' | 'version';

/** An instance of our service type that belongs to another cluster or record version. */
export interface ParsedForeign {
  instance: string;
  ttl: number;
  reason: ForeignReason;
}
/** Everything usable in one response, validated. */
export interface ParsedResponse {
  ptrs: ParsedPtr[];
  srvs: ParsedSrv[];
  txts: ParsedTxt[];
  addresses: ParsedAddress[];
  foreign: ParsedForeign[];
  /** Why records that claimed to be ours (our service type) were rejected; for debug logs. */
  rejected: string[];
}

/** What parseResponse needs to know about us. */
export interface ParseContext {
  /** Our instance name: its records are ours, not a peer's. */
  instance: string;
  /** Our target host name. */
  target: string;
  /** Only TXT records with this cluster label are of our cluster. */
  cluster: string;
}

function ttlOf(r: Record<string, unknown>): number | undefined {
  const t = r.ttl;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffff_ffff) return undefined;
  return Math.min(t, MAX_ACCEPTED_TTL_S);
}

/** The TXT keys we read. */
const TXT_KEYS = ['v', 'name', 'cluster'] as const;
/** Longest TXT key we read, in bytes ('cluster'). */
const MAX_TXT_KEY_BYTES = 7;

/** Which of our keys the first `len` bytes of entry spell, in any case (RFC 6763 §6.4), without allocating. */
function txtKey(entry: Uint8Array, len: number): (typeof TXT_KEYS)[number] | undefined {
  for (const k of TXT_KEYS) {
    if (k.length !== len) continue;
    let i = 0;
    while (i < len && ((entry[i] ?? 0) | 0x20) === k.charCodeAt(i)) i++; // | 0x20 lower-cases an ASCII letter
    if (i === len) return k;
  }
  return undefined;
}

/** Outcome of parseTxt: the node name, or why the TXT record is not one of ours. */
export type TxtResult = { ok: true; name: string } | { ok: false; foreign?: ForeignReason; why: string };

/** Validate TXT data (dns-packet gives an array of Buffers) against our layout and cluster label. */
export function parseTxt(data: unknown, cluster: string): TxtResult {
  if (!Array.isArray(data)) return { ok: false, why: 'TXT data is not a list' };
  const found = new Map<string, string>();
  for (const entry of data.slice(0, 64)) {
    if (!(entry instanceof Uint8Array)) return { ok: false, why: 'TXT entry is not bytes' };
    if (entry.length > 255) return { ok: false, why: 'TXT entry longer than 255 bytes' };
    // Only the key is looked at before it is known to be ours, and a value is decoded at
    // most once per key: a packet full of TXT entries costs little.
    const eq = entry.indexOf(0x3d); // '='
    if (eq <= 0 || eq > MAX_TXT_KEY_BYTES) continue; // boolean attribute, empty key, or a key longer than ours
    const key = txtKey(entry, eq);
    if (key === undefined) continue; // unknown keys are allowed
    if (found.has(key)) continue; // RFC 6763 §6.4: first occurrence wins
    found.set(key, Buffer.from(entry.buffer, entry.byteOffset + eq + 1, entry.length - eq - 1).toString('utf8'));
  }
  const v = found.get('v');
  if (v !== MDNS_TXT_VERSION) return { ok: false, foreign: 'version', why: `TXT version ${describeValue(v, 16)} is not ${MDNS_TXT_VERSION}` };
  const label = found.get('cluster');
  if (!isValidClusterLabel(label)) return { ok: false, why: 'TXT cluster label missing or not 1-63 characters of A-Za-z0-9_-' };
  if (label !== cluster) return { ok: false, foreign: 'cluster', why: 'TXT cluster label of another cluster' };
  const name = found.get('name');
  if (name === undefined || name.length > MAX_NAME_LENGTH || !isValidNodeName(name)) return { ok: false, why: 'TXT name missing or not a node name' };
  return { ok: true, name };
}

function recordsOf(packet: Record<string, unknown>): unknown[] {
  const out: unknown[] = [];
  for (const section of [packet.answers, packet.additionals]) {
    if (!Array.isArray(section)) continue;
    for (const r of section) {
      if (out.length >= MAX_RECORDS_PER_PACKET) return out;
      out.push(r);
    }
  }
  return out;
}

/**
 * Validate a decoded response (answers + additionals) and keep the records of other
 * instances of our service type: PTR, SRV, TXT, and A records. Records of other services,
 * of other types, and of our own instance are dropped silently; malformed records of our
 * service type are dropped with a reason in `rejected`. TTLs are in seconds (0 = goodbye).
 */
export function parseResponse(packet: unknown, ctx: ParseContext): ParsedResponse {
  const out: ParsedResponse = { ptrs: [], srvs: [], txts: [], addresses: [], foreign: [], rejected: [] };
  if (!isObject(packet)) return out;
  const ownInstance = ctx.instance.toLowerCase();
  const ownTarget = ctx.target.toLowerCase();
  const service = MDNS_SERVICE_TYPE.toLowerCase();
  for (const raw of recordsOf(packet)) {
    if (!isObject(raw)) continue;
    const type = raw.type;
    if (type !== 'PTR' && type !== 'SRV' && type !== 'TXT' && type !== 'A') continue;
    const name = dnsName(raw.name);
    if (name === undefined) {
      if (typeof raw.name === 'string' && raw.name.toLowerCase().endsWith(SERVICE_SUFFIX)) out.rejected.push(`${type} record name too long or invalid`);
      continue;
    }
    const ttl = ttlOf(raw);
    switch (type) {
      case 'PTR': {
        if (name !== service) continue;
        const instance = dnsName(raw.data);
        if (ttl === undefined || instance === undefined || !isServiceInstanceName(instance)) {
          out.rejected.push('PTR record with a bad TTL or instance name');
          continue;
        }
        if (instance !== ownInstance) out.ptrs.push({ instance, ttl });
        break;
      }
      case 'SRV': {
        if (!name.endsWith(SERVICE_SUFFIX)) continue;
        if (name === ownInstance) continue;
        const d = raw.data;
        if (!isServiceInstanceName(name) || ttl === undefined || !isObject(d)) {
          out.rejected.push('SRV record with a bad name, TTL or data');
          continue;
        }
        const port = d.port;
        const target = dnsName(d.target);
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
          out.rejected.push(`SRV record of ${name} with a bad port`);
          continue;
        }
        if (target === undefined || target === '.') {
          out.rejected.push(`SRV record of ${name} with a bad target`);
          continue;
        }
        out.srvs.push({ instance: name, ttl, port, target });
        break;
      }
      case 'TXT': {
        if (!name.endsWith(SERVICE_SUFFIX)) continue;
        if (name === ownInstance) continue;
        if (!isServiceInstanceName(name) || ttl === undefined) {
          out.rejected.push('TXT record with a bad name or TTL');
          continue;
        }
        const txt = parseTxt(raw.data, ctx.cluster);
        if (txt.ok) out.txts.push({ instance: name, ttl, name: txt.name });
        else if (txt.foreign) out.foreign.push({ instance: name, ttl, reason: txt.foreign });
        else out.rejected.push(`TXT record of ${name}: ${txt.why}`);
        break;
      }
      case 'A': {
        if (name === ownTarget) continue;
        if (ttl === undefined || !isUsableIPv4(raw.data)) {
          out.rejected.push(`A record of ${name} with a bad TTL or an unusable address`);
          continue;
        }
        out.addresses.push({ target: name, ttl, address: raw.data });
        break;
      }
    }
  }
  return out;
}

/**
 * True if a decoded query asks for something we hold: a PTR (or ANY) question for our
 * service type, unless the querier already knows our PTR with at least half its TTL left
 * (known-answer suppression, which also silences our own queries); or an SRV/TXT/ANY
 * question for our instance; or an A/ANY question for our target.
 */
export function queryAsksForUs(id: MdnsIdentity, packet: unknown): boolean {
  if (!isObject(packet) || !Array.isArray(packet.questions)) return false;
  const service = MDNS_SERVICE_TYPE.toLowerCase();
  const instance = id.instance.toLowerCase();
  const target = id.target.toLowerCase();
  for (const q of packet.questions.slice(0, MAX_QUESTIONS_PER_QUERY)) {
    if (!isObject(q)) continue;
    const name = dnsName(q.name);
    const type = q.type;
    if (name === undefined || typeof type !== 'string') continue;
    if (name === service && (type === 'PTR' || type === 'ANY')) {
      if (!knowsOurPtr(packet, instance)) return true;
    } else if (name === instance && (type === 'SRV' || type === 'TXT' || type === 'ANY')) {
      return true;
    } else if (name === target && (type === 'A' || type === 'ANY')) {
      return true;
    }
  }
  return false;
}

function knowsOurPtr(packet: Record<string, unknown>, instance: string): boolean {
  if (!Array.isArray(packet.answers)) return false;
  const service = MDNS_SERVICE_TYPE.toLowerCase();
  for (const a of packet.answers.slice(0, MAX_RECORDS_PER_PACKET)) {
    if (!isObject(a) || a.type !== 'PTR') continue;
    const ttl = ttlOf(a);
    if (dnsName(a.name) === service && dnsName(a.data) === instance && ttl !== undefined && ttl >= MDNS_RECORD_TTL_S / 2) return true;
  }
  return false;
}
