// Handshake: the pure state machine that authenticates a connection with CPace
// (cpace.ts) and key confirmation. No I/O: connection.ts feeds messages in and sends
// what comes out.
//
//   dialer                                          listener
//   start(): hello {v,name,inc,nonce,port,up,key,hidden, Ya} ->
//                                                  <- hello {v,name,inc,nonce,port,up,key,hidden, Yb}
//   confirm {HMAC(Kc_dialer, "dialer"||T)}        ->  verify, else refuse ERR_AUTH_FAILED
//                                                  <- confirm {HMAC(Kc_listener, "listener"||T)}
//   verify, else refuse ERR_AUTH_FAILED; open                                    open
//
// CPace inputs: PRS = the cookie's UTF-8 bytes; CI = a fixed label naming the protocol
// and its version; ADa/ADb = each side's hello fields and role (lv_cat of role, v,
// name, inc, nonce, port, up, key, hidden), so both names, incarnations, signing keys, roles,
// ports, nonces and the version enter the ISK transcript T = transcript_ir(Ya, ADa, Yb, ADb). sid is
// EMPTY: a sid both sides know before the first message would need an extra round
// trip (the listener's nonce reaches the dialer only with Yb); freshness instead comes
// from the ephemeral scalars and both nonces in ADa/ADb, which the draft allows (its
// security analysis covers the empty sid). The cost: one generator per cookie, so we
// give up the draft's "quantum annoyance" bonus that a per-session sid would add.
//
// From ISK, HKDF gives two confirmation keys and two traffic keys (session-crypto.ts).
// Invariants:
// - The listener sends nothing that depends on the key before the dialer's confirm
//   verified: its hello carries Yb, a random point of the prime-order subgroup from
//   which nothing about the cookie can be tested (the draft's analysis of X25519's
//   clamped scalars), and a refusal carries constant text. So a dialer gets at most
//   one online guess per connection, and neither side gets an offline test.
// - Ephemeral scalars are dropped as soon as K is computed, the ISK as soon as the keys
//   are derived, and the keys once handed over: every session has forward secrecy.
// - A version mismatch is refused naming both versions; every other failure is a
//   refusal with a code, never an exception out of receive().
import { ClusterError, describeError } from '../errors.js';
import type { Random } from '../util/random.js';
import type { Secret } from '../util/secret.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import { cleanText } from '../util/untrusted.js';
import type { Confirm, HandshakeMessage, Hello, HelloMessage, Refuse } from '../wire/messages.js';
import { calculateGenerator, deriveIsk, isIdentity, isValidShare, lvCat, sampleScalar, scalarMult, scalarMultVfy, transcriptIr } from './cpace.js';
import type { CpaceGenerator, CpaceScalar } from './cpace.js';
import { confirmationMac, deriveSessionKeys, verifyConfirmation } from './session-crypto.js';
import type { Role, SessionKeys } from './session-crypto.js';

/** CPace channel identifier: the protocol and its version (public, fixed). */
export const HANDSHAKE_CI: Readonly<Buffer> = Buffer.from(`cluster-node/v${PROTOCOL_VERSION}/cpace-x25519-sha512`, 'utf8');

/** CPace session identifier: empty (see the header comment). */
export const HANDSHAKE_SID: Readonly<Buffer> = Buffer.alloc(0);

/** The outcome of a completed handshake. */
export interface HandshakeResult {
  /** The peer's hello, authenticated by the key confirmation. */
  peer: Hello;
  /** Key for frames we send. */
  sendKey: Buffer;
  /** Key for frames we receive. */
  receiveKey: Buffer;
}

/** What the caller must do after starting or feeding a message in: send, then finish or fail. */
export interface HandshakeStep {
  send?: HandshakeMessage;
  done?: HandshakeResult;
  fail?: ClusterError;
}

/** What one side of a handshake needs. */
export interface HandshakeOptions {
  role: Role;
  /** The cluster cookie; its UTF-8 bytes are the CPace PRS. */
  cookie: Secret;
  /** Our hello fields; the nonce must be fresh for this connection. */
  hello: Hello;
  /** Source of the ephemeral scalar. */
  random: Random;
}

/** Where a handshake is: not started, waiting for the peer's hello, waiting for its confirm, or ended. */
export type HandshakePhase = 'new' | 'hello' | 'confirm' | 'done' | 'failed';

type RefusalCode = 'ERR_AUTH_FAILED' | 'ERR_VERSION_MISMATCH' | 'ERR_PROTOCOL';

/**
 * The generator of each cookie, derived once (CI and sid are fixed). Keyed by the Secret
 * object and held only as long as that Secret lives; the generator is
 * password-equivalent, exactly like the cookie it is derived from.
 */
const generators = new WeakMap<Secret, CpaceGenerator>();

function generatorFor(cookie: Secret): CpaceGenerator {
  let g = generators.get(cookie);
  if (!g) {
    g = calculateGenerator(cookie.bytes(), HANDSHAKE_CI, HANDSHAKE_SID);
    generators.set(cookie, g);
  }
  return g;
}

/** The associated data of one side: its role and hello fields, length-prefixed. */
export function associatedData(role: Role, hello: Hello): Buffer {
  const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
  return lvCat(utf8(role), utf8(String(hello.v)), utf8(hello.name), utf8(hello.inc), hello.nonce, utf8(String(hello.port)), utf8(String(hello.up)), hello.key, utf8(hello.hidden ? 'hidden' : 'member'));
}

function peerOf(role: Role): Role {
  return role === 'dialer' ? 'listener' : 'dialer';
}

function helloFields(m: HelloMessage): Hello {
  return { t: 'hello', v: m.v, name: m.name, inc: m.inc, nonce: m.nonce, port: m.port, up: m.up, key: m.key, hidden: m.hidden };
}

/** One side of one handshake. */
export class Handshake {
  readonly role: Role;
  private state: HandshakePhase = 'new';
  private readonly cookie: Secret;
  private readonly random: Random;
  private readonly local: Hello;
  /** The dialer's ephemeral scalar, held only between start() and the listener's hello. */
  private scalar: CpaceScalar | undefined;
  /** The dialer's share Ya, held for the transcript. */
  private ownShare: Uint8Array | undefined;
  private peer: Hello | undefined;
  private transcript: Buffer | undefined;
  private keys: SessionKeys | undefined;

  constructor(options: HandshakeOptions) {
    this.role = options.role;
    this.cookie = options.cookie;
    this.random = options.random;
    this.local = options.hello;
  }

  /** The current phase. */
  get phase(): HandshakePhase {
    return this.state;
  }

  /** Begin: the dialer sends its hello with Ya; the listener waits for the dialer's hello. */
  start(): HandshakeStep {
    if (this.state !== 'new') return {};
    this.state = 'hello';
    if (this.role === 'listener') return {};
    return this.guard(() => {
      const g = generatorFor(this.cookie);
      this.scalar = sampleScalar(this.random);
      this.ownShare = scalarMult(this.scalar, g);
      const hello: HelloMessage = { ...this.local, share: this.ownShare };
      return { send: hello };
    });
  }

  /** Feed the next handshake message from the peer. Never throws. */
  receive(msg: HandshakeMessage): HandshakeStep {
    if (this.state === 'done' || this.state === 'failed') return { fail: new ClusterError('ERR_PROTOCOL', 'handshake message after the handshake ended') };
    if (this.state === 'new') return this.refuse('ERR_PROTOCOL', 'unexpected message', 'handshake message before the handshake started');
    return this.guard(() => {
      switch (msg.t) {
        case 'refuse':
          this.end('failed');
          return { fail: new ClusterError(refusalCode(msg.code), `peer refused the connection: ${cleanText(msg.reason, 100)}`) };
        case 'hello':
          return this.onHello(msg);
        case 'confirm':
          return this.onConfirm(msg);
        default:
          return this.refuse('ERR_PROTOCOL', 'unexpected message', 'peer sent an unknown handshake message');
      }
    });
  }

  private onHello(msg: HelloMessage): HandshakeStep {
    if (this.state !== 'hello') return this.refuse('ERR_PROTOCOL', 'duplicate hello', 'peer sent a second hello');
    if (msg.v !== PROTOCOL_VERSION) {
      const text = `protocol version mismatch: this node speaks version ${PROTOCOL_VERSION}, the peer speaks version ${msg.v}`;
      return this.refuse('ERR_VERSION_MISMATCH', `protocol version mismatch: the refusing node speaks version ${PROTOCOL_VERSION}, you speak version ${msg.v}`, text);
    }
    if (!isValidShare(msg.share)) return this.refuse('ERR_PROTOCOL', 'invalid share', 'peer sent an invalid CPace share (not a 32-byte X25519 u-coordinate)');
    this.peer = helloFields(msg);
    let ownShare: Uint8Array;
    let k: Uint8Array;
    if (this.role === 'dialer') {
      ownShare = this.ownShare!;
      k = scalarMultVfy(this.scalar!, msg.share);
    } else {
      const g = generatorFor(this.cookie);
      const y = sampleScalar(this.random);
      ownShare = scalarMult(y, g);
      k = scalarMultVfy(y, msg.share);
    }
    this.scalar = undefined; // forward secrecy: the ephemeral scalar is gone once K is known
    this.ownShare = undefined;
    if (isIdentity(k)) return this.refuse('ERR_PROTOCOL', 'invalid share', 'the CPace shared point is the identity');
    const [ya, adA, yb, adB] =
      this.role === 'dialer'
        ? [ownShare, associatedData('dialer', this.local), msg.share, associatedData('listener', this.peer)]
        : [msg.share, associatedData('dialer', this.peer), ownShare, associatedData('listener', this.local)];
    this.transcript = transcriptIr(ya, adA, yb, adB);
    const isk = deriveIsk(HANDSHAKE_SID, k, this.transcript);
    k.fill(0);
    this.keys = deriveSessionKeys(isk);
    isk.fill(0);
    this.state = 'confirm';
    if (this.role === 'listener') {
      const hello: HelloMessage = { ...this.local, share: ownShare };
      return { send: hello };
    }
    return { send: this.confirmMessage() };
  }

  private onConfirm(msg: Confirm): HandshakeStep {
    if (this.state !== 'confirm' || !this.keys || !this.transcript || !this.peer) {
      return this.refuse('ERR_PROTOCOL', 'confirm before hello', 'peer sent its confirmation before its hello');
    }
    const peerRole = peerOf(this.role);
    const peerKey = peerRole === 'dialer' ? this.keys.confirmDialer : this.keys.confirmListener;
    if (!verifyConfirmation(peerKey, peerRole, this.transcript, msg.mac)) {
      return this.refuse('ERR_AUTH_FAILED', 'authentication failed', 'authentication failed');
    }
    const send = this.role === 'listener' ? this.confirmMessage() : undefined;
    const keys = this.keys;
    const peer = this.peer;
    const [sendKey, receiveKey] = this.role === 'dialer' ? [keys.dialerToListener, keys.listenerToDialer] : [keys.listenerToDialer, keys.dialerToListener];
    this.end('done');
    return { ...(send ? { send } : {}), done: { peer, sendKey, receiveKey } };
  }

  private confirmMessage(): Confirm {
    const key = this.role === 'dialer' ? this.keys!.confirmDialer : this.keys!.confirmListener;
    return { t: 'confirm', mac: confirmationMac(key, this.role, this.transcript!) };
  }

  private refuse(code: RefusalCode, reason: string, log: string): HandshakeStep {
    this.end('failed');
    const send: Refuse = { t: 'refuse', code, reason };
    return { send, fail: new ClusterError(code, log) };
  }

  /** Enter a final phase and drop every secret the handshake still holds. */
  private end(phase: 'done' | 'failed'): void {
    this.state = phase;
    this.scalar = undefined;
    this.ownShare = undefined;
    this.transcript = undefined;
    if (this.keys) {
      this.keys.confirmDialer.fill(0);
      this.keys.confirmListener.fill(0);
    }
    this.keys = undefined;
  }

  /** Run a step; a bug or a library exception becomes a protocol refusal, never an exception. */
  private guard(step: () => HandshakeStep): HandshakeStep {
    try {
      return step();
    } catch (err) {
      return this.refuse('ERR_PROTOCOL', 'handshake failed', `handshake failed: ${describeError(err)}`);
    }
  }
}

function refusalCode(code: string): RefusalCode {
  return code === 'ERR_AUTH_FAILED' || code === 'ERR_VERSION_MISMATCH' ? code : 'ERR_PROTOCOL';
}
