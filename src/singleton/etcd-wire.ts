// etcd wire: the requests the etcd lease sends to etcd's v3 HTTP/JSON gateway and the
// validation of every answer. Pure: JSON values in, typed values out. What comes back
// from etcd is checked like anything from the network: each field's type and range
// (int64 fields arrive as decimal strings; a revision must fit a safe integer, a lease
// ID 19 digits), a holder's name at most 255 characters of printable text; anything
// else throws EtcdResponseError whose message names the field and describes the value
// (type and a short escaped excerpt), never the value whole.
// Invariant: a parser never returns a partially checked value.
import { ClusterError } from '../errors.js';
import { cleanText, describeValue } from '../util/untrusted.js';

/** Most bytes of one answer from etcd (a whole body, or one message of a watch stream): 64 KiB. */
export const ETCD_MAX_RESPONSE_BYTES = 64 * 1024;
/** Longest holder name accepted from an election key's value: 255 characters. */
export const ETCD_MAX_HOLDER_CHARS = 255;

/** An answer from etcd that does not have the expected shape (or an error answer). */
export class EtcdResponseError extends ClusterError {
  constructor(message: string) {
    super('ERR_ETCD_RESPONSE', message);
  }
}

/** An election key as etcd holds it. */
export interface EtcdKey {
  /** The revision that created the key: the fencing token of its holder's tenure. */
  createRevision: number;
  /** The holder's node name (the key's value). */
  owner: string;
  /** The lease the key is attached to (decimal int64), '0' for none. */
  lease: string;
}

/** A granted lease. */
export interface EtcdGrant {
  /** Lease ID (decimal int64; kept as a string, it does not fit a double). */
  id: string;
  /** TTL etcd granted, in seconds (it may raise a TTL below its minimum). */
  ttlS: number;
}

/** The answer to a compare-and-swap creation of the election key. */
export interface EtcdCreateResult {
  /** The store's revision after the transaction: the key's create revision when it succeeded. */
  revision: number;
  succeeded: boolean;
  /** The key as it stands when the creation failed (someone else holds it). */
  held?: EtcdKey;
}

/** The answer to a range read of one key. */
export interface EtcdRangeResult {
  revision: number;
  key?: EtcdKey;
}

/** One message of a watch stream. */
export interface EtcdWatchMessage {
  created: boolean;
  canceled: boolean;
  /** Events of the watched key, oldest first. */
  events: { type: 'PUT' | 'DELETE'; modRevision: number }[];
}

/** Base64 of a string's UTF-8 bytes, as the gateway wants keys and values. */
export function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function bad(what: string, v: unknown): EtcdResponseError {
  return new EtcdResponseError(`etcd answered with a malformed ${what}: ${describeValue(v)}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(what, v);
  return v as Record<string, unknown>;
}

/** An int64 field: a decimal string (or a number) that fits a safe integer; absent is 0 (proto3 drops zeros). */
export function parseRevision(v: unknown, what: string): number {
  if (v === undefined) return 0;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw bad(what, v);
}

/** A lease ID: a positive decimal int64, kept as a string. */
export function parseLeaseId(v: unknown, what = 'lease ID'): string {
  if (typeof v === 'string' && /^[1-9][0-9]{0,18}$/.test(v) && BigInt(v) <= 0x7fffffffffffffffn) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return String(v);
  throw bad(what, v);
}

function header(body: Record<string, unknown>): number {
  const h = obj(body.header, 'response header');
  const revision = parseRevision(h.revision, 'revision');
  if (revision < 1) throw bad('revision', h.revision);
  return revision;
}

function parseKey(v: unknown): EtcdKey {
  const kv = obj(v, 'key-value');
  const createRevision = parseRevision(kv.create_revision, 'create revision');
  if (createRevision < 1) throw bad('create revision', kv.create_revision);
  const raw = kv.value ?? '';
  if (typeof raw !== 'string' || raw.length > 4 * ETCD_MAX_HOLDER_CHARS * 2) throw bad('holder', raw);
  const owner = Buffer.from(raw, 'base64').toString('utf8');
  if (owner.length === 0 || owner.length > ETCD_MAX_HOLDER_CHARS || cleanText(owner) !== owner) throw bad('holder', owner);
  const lease = kv.lease === undefined ? '0' : parseLeaseId(kv.lease);
  return { createRevision, owner, lease };
}

/** POST /v3/lease/grant answer. */
export function parseGrant(body: unknown): EtcdGrant {
  const b = obj(body, 'lease grant');
  const id = parseLeaseId(b.ID);
  const ttlS = parseRevision(b.TTL, 'lease TTL');
  if (ttlS < 1) throw bad('lease TTL', b.TTL);
  return { id, ttlS };
}

/** POST /v3/lease/keepalive answer: the TTL left, in seconds (0: the lease is gone). */
export function parseKeepalive(body: unknown): number {
  const r = obj(obj(body, 'keepalive').result, 'keepalive result');
  return parseRevision(r.TTL, 'lease TTL');
}

/** POST /v3/kv/range answer for one key. */
export function parseRange(body: unknown): EtcdRangeResult {
  const b = obj(body, 'range');
  const revision = header(b);
  const kvs = b.kvs ?? [];
  if (!Array.isArray(kvs) || kvs.length > 1) throw bad('range', kvs);
  return kvs.length ? { revision, key: parseKey(kvs[0]) } : { revision };
}

/** POST /v3/kv/txn answer of createIfAbsent (compare create_revision = 0, put, else range). */
export function parseCreate(body: unknown): EtcdCreateResult {
  const b = obj(body, 'transaction');
  const revision = header(b);
  const succeeded = b.succeeded ?? false;
  if (typeof succeeded !== 'boolean') throw bad('transaction outcome', succeeded);
  if (succeeded) return { revision, succeeded };
  const responses = b.responses;
  if (!Array.isArray(responses) || responses.length !== 1) throw bad('transaction responses', responses);
  const range = obj(obj(responses[0], 'transaction response').response_range, 'range response');
  const kvs = range.kvs ?? [];
  if (!Array.isArray(kvs) || kvs.length > 1) throw bad('range', kvs);
  return kvs.length ? { revision, succeeded, held: parseKey(kvs[0]) } : { revision, succeeded };
}

/** One line of a POST /v3/watch stream. */
export function parseWatchMessage(body: unknown): EtcdWatchMessage {
  const r = obj(obj(body, 'watch message').result, 'watch result');
  const created = r.created ?? false;
  const canceled = r.canceled ?? false;
  if (typeof created !== 'boolean' || typeof canceled !== 'boolean') throw bad('watch flags', created);
  const raw = r.events ?? [];
  if (!Array.isArray(raw) || raw.length > 1000) throw bad('watch events', raw);
  const events = raw.map((e) => {
    const ev = obj(e, 'watch event');
    const type = ev.type ?? 'PUT';
    if (type !== 'PUT' && type !== 'DELETE') throw bad('watch event type', type);
    return { type, modRevision: parseRevision(obj(ev.kv, 'watch event key').mod_revision, 'mod revision') } as const;
  });
  return { created, canceled, events };
}

/** The message of an error answer ({error, message, code}), cleaned for one log line. */
export function errorMessage(body: unknown): string {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const m = (body as Record<string, unknown>).message ?? (body as Record<string, unknown>).error;
    if (typeof m === 'string') return cleanText(m, 200);
  }
  return `an answer without a message (${describeValue(body)})`;
}

/** The request body that creates key (owned by owner, attached to lease) only if it does not exist, and reads it otherwise. */
export function createIfAbsentRequest(key: string, owner: string, lease: string): unknown {
  const k = b64(key);
  return {
    compare: [{ key: k, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
    success: [{ request_put: { key: k, value: b64(owner), lease } }],
    failure: [{ request_range: { key: k } }],
  };
}
