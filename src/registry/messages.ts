// Registry messages: what replicas exchange on the 'reg' channel, and their
// validation. Everything here arrives from the network and is checked field by
// field before the registry sees it. Counters (epochs, versions) are only type-checked
// here; their range is judged by the registry against what it has seen (bounds.ts).
// Stamps are not checked here either: a malformed one is dropped by whoever reads it.
import { ClusterError } from '../errors.js';
import { SIGNATURE_BYTES } from '../util/signing.js';
import { describeValue } from '../util/untrusted.js';
import { isValidNodeName } from '../wire/messages.js';
import { isStamp } from './hlc.js';
import type { Stamp } from './hlc.js';
import type { Delta, Entry, OwnerDigest } from './registry.js';

/** The channel registry messages travel on. */
export const REGISTRY_CHANNEL = 'reg';

/** Longest registered name, in characters. */
export const MAX_REGISTERED_NAME = 255;

/** Most entries in one delta message (keeps frames far below the 1 MiB limit). */
export const MAX_DELTA_ENTRIES = 2000;

export type RegistryMessage =
  /** Entries of one owner. h: the sender's HLC. */
  | { k: 'delta'; d: Delta; h: Stamp }
  /** What the sender knows; reply=true means "answer with deltas only, no digest back". */
  | { k: 'digest'; owners: OwnerDigest[]; reply: boolean; h: Stamp }
  /** The sender has pushed all of its own entries to us. */
  | { k: 'synced'; h: Stamp }
  /** A message for the holder of name; id is set when a reply is wanted. */
  | { k: 'msg'; name: string; body: unknown; id?: number }
  /** The reply to a call. */
  | { k: 'reply'; id: number; ok: boolean; body: unknown }
  /** Highest fencing epochs the sender has seen, per name. */
  | { k: 'epochs'; e: [string, number][] }
  /** Quorum mode: may the sender take name with this epoch? */
  | { k: 'qreq'; id: number; name: string; epoch: number }
  /** The answer to a qreq; epoch is the highest the answerer has seen. */
  | { k: 'qres'; id: number; ok: boolean; epoch: number }
  /** The sender no longer needs the grant it asked for. */
  | { k: 'qrel'; name: string; epoch: number }
  /** Confirm request: the sender (owner/inc) claimed name; who holds it in your view? */
  | { k: 'cfm'; id: number; name: string; owner: string; inc: string }
  /** The answer to a cfm: the holder the answerer sees (absent: none). */
  | { k: 'cfr'; id: number; holder?: ClaimRef };

/** A claim as a confirm answer names it: owner incarnation, stamp and fencing epoch (absent: 0). */
export interface ClaimRef {
  owner: string;
  inc: string;
  stamp: Stamp;
  epoch?: number;
}

/** The claim-confirmation messages (handled by registry/claims.ts). */
export type ClaimMessage = Extract<RegistryMessage, { k: 'cfm' | 'cfr' }>;
/** The replication messages (handled by registry/sync.ts). */
export type ReplicationMessage = Extract<RegistryMessage, { k: 'delta' | 'digest' | 'synced' }>;
/** The name-messaging messages (handled by registry/messaging.ts). */
export type NameMessage = Extract<RegistryMessage, { k: 'msg' | 'reply' }>;
/** The quorum-grant messages (handled by singleton/quorum.ts). */
export type QuorumMessage = Extract<RegistryMessage, { k: 'qreq' | 'qres' | 'qrel' }>;
/** The fencing-epoch message (handled by singleton/epochs.ts). */
export type EpochsMessage = Extract<RegistryMessage, { k: 'epochs' }>;

function bad(what: string): never {
  throw new ClusterError('ERR_PROTOCOL', `invalid registry message: ${what}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(`${what} is not a map`);
  return v as Record<string, unknown>;
}

function nat(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what} must be a non-negative integer`);
  return v;
}

/**
 * A counter (epoch or version): any number passes here, even one out of range, so the
 * bound rule (bounds.ts) can drop the value with a log line instead of the connection.
 * A 64-bit integer the codec gave as a bigint becomes NaN (invalid, dropped the same way).
 */
function counter(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number.NaN;
  return bad(`${what} must be a number`);
}

/**
 * A stamp: like counters, a malformed one is not grounds to disconnect. It becomes
 * [NaN, NaN], which the registry drops with its delta (an entry's stamp), the clock
 * ignores (a message's hlc), and a claim never matches (a confirm answer's holder).
 */
function stamp(v: unknown): Stamp {
  return isStamp(v) ? [v[0], v[1]] : [Number.NaN, Number.NaN];
}

/** True if s can be registered: 1..255 characters. */
export function isValidRegisteredName(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= MAX_REGISTERED_NAME;
}

function owner(v: unknown, what: string): string {
  if (typeof v !== 'string' || !isValidNodeName(v)) bad(`${what} must be a node name`);
  return v;
}

function inc(v: unknown, what: string): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{1,64}$/.test(v)) bad(`${what} must be hex`);
  return v;
}

function entry(v: unknown): Entry {
  const e = obj(v, 'entry');
  if (!isValidRegisteredName(e.name)) bad('entry name must be 1..255 characters');
  if (typeof e.released !== 'boolean') bad('entry released must be a boolean');
  const out: Entry = { name: e.name, stamp: stamp(e.stamp), version: counter(e.version, 'entry version'), released: e.released };
  if (e.epoch !== undefined) {
    const epoch = counter(e.epoch, 'entry epoch');
    if (epoch !== 0) out.epoch = epoch;
  }
  if (e.sig !== undefined) {
    if (!(e.sig instanceof Uint8Array) || e.sig.length !== SIGNATURE_BYTES) bad(`entry sig must be ${SIGNATURE_BYTES} bytes`);
    // A copy: a view would keep the whole received frame alive as long as the entry.
    out.sig = new Uint8Array(e.sig);
  }
  return out;
}

function digestEntry(v: unknown): OwnerDigest {
  const d = obj(v, 'digest entry');
  return { owner: owner(d.owner, 'digest owner'), inc: inc(d.inc, 'digest inc'), version: counter(d.version, 'digest version'), floor: counter(d.floor, 'digest floor') };
}

function claimRef(v: unknown): ClaimRef {
  const c = obj(v, 'cfr holder');
  const out: ClaimRef = { owner: owner(c.owner, 'cfr holder owner'), inc: inc(c.inc, 'cfr holder inc'), stamp: stamp(c.stamp) };
  if (c.epoch !== undefined) {
    // Only compared with our own claim's epoch: an out-of-bounds value just never matches.
    const epoch = counter(c.epoch, 'cfr holder epoch');
    if (epoch !== 0) out.epoch = epoch;
  }
  return out;
}

/** Validate a decoded registry message body. Throws ClusterError ERR_PROTOCOL. */
export function parseRegistryMessage(v: unknown): RegistryMessage {
  const m = obj(v, 'message');
  switch (m.k) {
    case 'delta': {
      const d = obj(m.d, 'delta');
      if (!Array.isArray(d.entries) || d.entries.length > MAX_DELTA_ENTRIES) bad(`delta entries must be an array of at most ${MAX_DELTA_ENTRIES}`);
      const delta: Delta = {
        owner: owner(d.owner, 'delta owner'),
        inc: inc(d.inc, 'delta inc'),
        base: counter(d.base, 'delta base'),
        version: counter(d.version, 'delta version'),
        floor: counter(d.floor, 'delta floor'),
        entries: d.entries.map(entry),
      };
      // Order is checked among valid counters only: an out-of-range one is the bound
      // rule's to drop (with the whole delta), not grounds to disconnect.
      const valid = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
      if (valid(delta.base) && valid(delta.version) && valid(delta.floor) && (delta.base > delta.version || delta.floor > delta.version)) bad('delta versions out of order');
      for (const e of delta.entries) if (valid(e.version) && valid(delta.version) && valid(delta.base) && (e.version > delta.version || e.version <= delta.base)) bad('entry version outside the delta');
      return { k: 'delta', d: delta, h: stamp(m.h) };
    }
    case 'digest': {
      if (!Array.isArray(m.owners) || m.owners.length > 4096) bad('digest owners must be an array of at most 4096');
      if (typeof m.reply !== 'boolean') bad('digest reply must be a boolean');
      return { k: 'digest', owners: m.owners.map(digestEntry), reply: m.reply, h: stamp(m.h) };
    }
    case 'synced':
      return { k: 'synced', h: stamp(m.h) };
    case 'msg': {
      if (!isValidRegisteredName(m.name)) bad('msg name must be 1..255 characters');
      const out: RegistryMessage = { k: 'msg', name: m.name, body: m.body };
      if (m.id !== undefined) out.id = nat(m.id, 'msg id');
      return out;
    }
    case 'reply':
      if (typeof m.ok !== 'boolean') bad('reply ok must be a boolean');
      return { k: 'reply', id: nat(m.id, 'reply id'), ok: m.ok, body: m.body };
    case 'epochs': {
      if (!Array.isArray(m.e) || m.e.length > 65536) bad('epochs must be an array of at most 65536');
      return {
        k: 'epochs',
        e: m.e.map((pair): [string, number] => {
          if (!Array.isArray(pair) || pair.length !== 2 || !isValidRegisteredName(pair[0])) bad('epochs entry must be [name, epoch]');
          return [pair[0] as string, counter(pair[1], 'epoch')];
        }),
      };
    }
    case 'qreq':
      if (!isValidRegisteredName(m.name)) bad('qreq name must be 1..255 characters');
      return { k: 'qreq', id: nat(m.id, 'qreq id'), name: m.name, epoch: counter(m.epoch, 'qreq epoch') };
    case 'qres':
      if (typeof m.ok !== 'boolean') bad('qres ok must be a boolean');
      return { k: 'qres', id: nat(m.id, 'qres id'), ok: m.ok, epoch: counter(m.epoch, 'qres epoch') };
    case 'qrel':
      if (!isValidRegisteredName(m.name)) bad('qrel name must be 1..255 characters');
      return { k: 'qrel', name: m.name, epoch: counter(m.epoch, 'qrel epoch') };
    case 'cfm':
      if (!isValidRegisteredName(m.name)) bad('cfm name must be 1..255 characters');
      return { k: 'cfm', id: nat(m.id, 'cfm id'), name: m.name, owner: owner(m.owner, 'cfm owner'), inc: inc(m.inc, 'cfm inc') };
    case 'cfr': {
      const out: RegistryMessage = { k: 'cfr', id: nat(m.id, 'cfr id') };
      if (m.holder !== undefined) out.holder = claimRef(m.holder);
      return out;
    }
    default:
      return bad(`unknown kind (${describeValue(m.k)})`);
  }
}
