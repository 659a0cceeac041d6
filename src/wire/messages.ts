// Messages: every message two nodes exchange, as a discriminated union on `t`, and
// the validators that turn a decoded (untrusted) value into one of them. Handshake
// messages travel in clear; everything after the handshake is sealed (session-crypto).
// Invariants: a value that passes parse*() has exactly the declared shape (handshake
// messages: exactly the declared keys, byte fields of their exact length); an error
// message never contains String() of an untrusted value, only its type and a
// length-capped, escaped excerpt (describeValue() in util/untrusted.ts).
import { ClusterError } from '../errors.js';
import { describeValue } from '../util/untrusted.js';

/**
 * Wire protocol version; peers with another version are refused with both named.
 * Version 2: the CPace handshake on ristretto255. Version 3: CPace on X25519; the hello
 * carries a signing key (registry entries are signed) and the hidden flag. Version 4:
 * heartbeats only to the members that watch us (watch subscriptions and down reports
 * on the failure detector's channel).
 */
export const PROTOCOL_VERSION = 4;

/** Bytes of the Ed25519 public key in a hello. */
export const SIGNING_KEY_BYTES = 32;

/** Bytes in a CPace share (an X25519 u-coordinate). */
export const SHARE_BYTES = 32;

/** Bytes in a key-confirmation MAC (HMAC-SHA256). */
export const CONFIRM_MAC_BYTES = 32;

/** Longest node name accepted, in characters. */
export const MAX_NAME_LENGTH = 255;

/** The first message each side sends: who it is, for this boot. */
export interface Hello {
  t: 'hello';
  /** Protocol version. */
  v: number;
  /** Node name, e.g. alice@host. */
  name: string;
  /** Random id of this boot of the node (hex). */
  inc: string;
  /** Fresh 32-byte nonce for this connection. */
  nonce: Uint8Array;
  /** TCP port the sender listens on (0 if it does not). */
  port: number;
  /** Milliseconds the sender has been running; decides which of two same-named nodes is older. */
  up: number;
  /** The sender's Ed25519 public key for this incarnation (raw, 32 bytes): it signs the sender's registry entries. */
  key: Uint8Array;
  /** A hidden node (an observer such as `cluster-node status`): never a member, never listed, counted or asked to vote. */
  hidden: boolean;
}

/** A hello as it travels: the sender's Hello plus its CPace share (Ya from the dialer, Yb from the listener). */
export interface HelloMessage extends Hello {
  /** The sender's CPace public share: a 32-byte X25519 u-coordinate. */
  share: Uint8Array;
}

/** Key confirmation: a MAC under a key derived from the CPace ISK over the transcript and the sender's role. */
export interface Confirm {
  t: 'confirm';
  mac: Uint8Array;
}

/** A refusal before or after authentication; the connection closes after it. */
export interface Refuse {
  t: 'refuse';
  code: string;
  reason: string;
}

/** The messages of the handshake, sent in clear. */
export type HandshakeMessage = HelloMessage | Confirm | Refuse;

/** A member as gossiped between nodes: enough to dial it. */
export interface MemberInfo {
  name: string;
  inc: string;
  host: string;
  port: number;
}

export interface Ping {
  t: 'ping';
  seq: number;
}
export interface Pong {
  t: 'pong';
  seq: number;
}
/** The sender's view of the connected members, so the receiver can complete the mesh. */
export interface Members {
  t: 'members';
  members: MemberInfo[];
}
/** Goodbye with a reason; the sender closes the connection after it. */
export interface Bye {
  t: 'bye';
  code: string;
  reason: string;
}
/** An application-level payload routed by channel (registry, singleton, user code). */
export interface AppMessage {
  t: 'app';
  ch: string;
  body: unknown;
}

/** The messages sent sealed after the handshake. */
export type SessionMessage = Ping | Pong | Members | Bye | AppMessage;

function bad(what: string): never {
  throw new ClusterError('ERR_PROTOCOL', `invalid message: ${what}`);
}

function exactKeys(o: Record<string, unknown>, keys: readonly string[]): void {
  const have = Object.keys(o);
  if (have.length !== keys.length || have.some((k) => !keys.includes(k))) bad(`expected exactly the fields ${keys.join(', ')}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function str(o: Record<string, unknown>, k: string, max: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(`field ${k} must be a string of 1..${max} characters`);
  return v;
}

function uint(o: Record<string, unknown>, k: string, max: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) bad(`field ${k} must be an integer in 0..${max}`);
  return v;
}

function bool(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') bad(`field ${k} must be a boolean`);
  return v;
}

function bytes(o: Record<string, unknown>, k: string, len: number): Uint8Array {
  const v = o[k];
  if (!(v instanceof Uint8Array) || v.length !== len) bad(`field ${k} must be ${len} bytes`);
  return new Uint8Array(v);
}

/** True if s is an acceptable node name: name@host, printable, no spaces. */
export function isValidNodeName(s: string): boolean {
  return s.length > 0 && s.length <= MAX_NAME_LENGTH && /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/.test(s);
}

function nodeName(o: Record<string, unknown>, k: string): string {
  const s = str(o, k, MAX_NAME_LENGTH);
  if (!isValidNodeName(s)) bad(`field ${k} is not a node name (name@host)`);
  return s;
}

function incarnation(o: Record<string, unknown>, k: string): string {
  const s = str(o, k, 64);
  if (!/^[0-9a-f]+$/.test(s)) bad(`field ${k} must be hex`);
  return s;
}

const HELLO_KEYS = ['t', 'v', 'name', 'inc', 'nonce', 'port', 'up', 'key', 'hidden', 'share'] as const;

/**
 * Validate a decoded handshake message strictly: exactly the declared fields, byte strings of
 * their exact length (nonce 32, key 32, share 32, mac 32). Only `v` and `t` are read from a hello of
 * another version, so the refusal can name both versions.
 */
export function parseHandshake(v: unknown): HandshakeMessage {
  if (!isObject(v)) bad(`handshake message is ${describeValue(v)}, not a map`);
  switch (v.t) {
    case 'hello': {
      const version = uint(v, 'v', 0xffff);
      if (version !== PROTOCOL_VERSION) return { t: 'hello', v: version, name: '', inc: '', nonce: new Uint8Array(0), port: 0, up: 0, key: new Uint8Array(0), hidden: false, share: new Uint8Array(0) };
      exactKeys(v, HELLO_KEYS);
      return {
        t: 'hello',
        v: version,
        name: nodeName(v, 'name'),
        inc: incarnation(v, 'inc'),
        nonce: bytes(v, 'nonce', 32),
        port: uint(v, 'port', 65535),
        up: uint(v, 'up', Number.MAX_SAFE_INTEGER),
        key: bytes(v, 'key', SIGNING_KEY_BYTES),
        hidden: bool(v, 'hidden'),
        share: bytes(v, 'share', SHARE_BYTES),
      };
    }
    case 'confirm':
      exactKeys(v, ['t', 'mac']);
      return { t: 'confirm', mac: bytes(v, 'mac', CONFIRM_MAC_BYTES) };
    case 'refuse':
      exactKeys(v, ['t', 'code', 'reason']);
      return { t: 'refuse', code: str(v, 'code', 64), reason: str(v, 'reason', 1024) };
    default:
      return bad(`unknown handshake message type (${describeValue(v.t)})`);
  }
}

function memberInfo(v: unknown): MemberInfo {
  if (!isObject(v)) bad('member is not a map');
  return { name: nodeName(v, 'name'), inc: incarnation(v, 'inc'), host: str(v, 'host', 255), port: uint(v, 'port', 65535) };
}

/** Longest member list accepted in one message. */
export const MAX_MEMBERS = 4096;

/** Validate a decoded session message. */
export function parseSession(v: unknown): SessionMessage {
  if (!isObject(v)) bad('not a map');
  switch (v.t) {
    case 'ping':
      return { t: 'ping', seq: uint(v, 'seq', Number.MAX_SAFE_INTEGER) };
    case 'pong':
      return { t: 'pong', seq: uint(v, 'seq', Number.MAX_SAFE_INTEGER) };
    case 'members': {
      const list = v.members;
      if (!Array.isArray(list) || list.length > MAX_MEMBERS) bad(`members must be an array of at most ${MAX_MEMBERS}`);
      return { t: 'members', members: list.map(memberInfo) };
    }
    case 'bye':
      return { t: 'bye', code: str(v, 'code', 64), reason: str(v, 'reason', 1024) };
    case 'app':
      return { t: 'app', ch: str(v, 'ch', 64), body: v.body };
    default:
      return bad(`unknown message type (${describeValue(v.t)})`);
  }
}
