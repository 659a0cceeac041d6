// Handshake: the pure state machine that authenticates a connection. Both sides send
// a hello; on the peer's hello each sends its proof (HMAC over the transcript with
// its role); on the peer's proof each verifies it in constant time and derives the
// traffic keys. No I/O here: connection.ts feeds messages in and sends what comes out.
// Invariants: nothing is trusted before the peer's proof verifies; the cookie never
// crosses the wire; a version mismatch is refused naming both versions.
import { ClusterError } from '../errors.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import type { Auth, HandshakeMessage, Hello, Refuse } from '../wire/messages.js';
import { computeProof, deriveTrafficKeys, transcriptHash, verifyProof } from './session-crypto.js';
import type { Role } from './session-crypto.js';

/** The outcome of a completed handshake. */
export interface HandshakeResult {
  peer: Hello;
  /** Key for frames we send. */
  sendKey: Buffer;
  /** Key for frames we receive. */
  receiveKey: Buffer;
}

/** What the caller must do after feeding a message in. */
export interface HandshakeStep {
  send?: HandshakeMessage;
  done?: HandshakeResult;
  fail?: ClusterError;
}

/** One side of one handshake. */
export class Handshake {
  private peerHello: Hello | undefined;
  private transcript: Buffer | undefined;
  private finished = false;

  constructor(
    readonly role: Role,
    private readonly clusterKey: Buffer,
    /** The hello we send; its nonce must be fresh for this connection. */
    readonly hello: Hello,
  ) {}

  private refuse(code: 'ERR_AUTH_FAILED' | 'ERR_VERSION_MISMATCH' | 'ERR_PROTOCOL', reason: string, log: string): HandshakeStep {
    this.finished = true;
    const send: Refuse = { t: 'refuse', code, reason };
    return { send, fail: new ClusterError(code, log) };
  }

  /** Feed the next handshake message from the peer. */
  receive(msg: HandshakeMessage): HandshakeStep {
    if (this.finished) return { fail: new ClusterError('ERR_PROTOCOL', 'handshake message after the handshake ended') };
    switch (msg.t) {
      case 'refuse':
        this.finished = true;
        return { fail: new ClusterError(refusalCode(msg.code), `peer refused the connection: ${msg.reason}`) };
      case 'hello': {
        if (this.peerHello) return this.refuse('ERR_PROTOCOL', 'duplicate hello', 'peer sent a second hello');
        if (msg.v !== PROTOCOL_VERSION) {
          const text = `protocol version mismatch: this node speaks version ${PROTOCOL_VERSION}, the peer speaks version ${msg.v}`;
          return this.refuse('ERR_VERSION_MISMATCH', `protocol version mismatch: the refusing node speaks version ${PROTOCOL_VERSION}, you speak version ${msg.v}`, text);
        }
        this.peerHello = msg;
        const [dialer, listener] = this.role === 'dialer' ? [this.hello, msg] : [msg, this.hello];
        this.transcript = transcriptHash(dialer, listener);
        const auth: Auth = { t: 'auth', mac: computeProof(this.clusterKey, this.role, this.transcript) };
        return { send: auth };
      }
      case 'auth': {
        if (!this.peerHello || !this.transcript) return this.refuse('ERR_PROTOCOL', 'auth before hello', 'peer sent its proof before its hello');
        const peerRole: Role = this.role === 'dialer' ? 'listener' : 'dialer';
        if (!verifyProof(this.clusterKey, peerRole, this.transcript, msg.mac)) {
          return this.refuse('ERR_AUTH_FAILED', 'authentication failed', 'authentication failed');
        }
        this.finished = true;
        const keys = deriveTrafficKeys(this.clusterKey, this.transcript);
        const [sendKey, receiveKey] = this.role === 'dialer' ? [keys.dialerToListener, keys.listenerToDialer] : [keys.listenerToDialer, keys.dialerToListener];
        return { done: { peer: this.peerHello, sendKey, receiveKey } };
      }
    }
  }
}

function refusalCode(code: string): 'ERR_AUTH_FAILED' | 'ERR_VERSION_MISMATCH' | 'ERR_PROTOCOL' {
  return code === 'ERR_AUTH_FAILED' || code === 'ERR_VERSION_MISMATCH' ? code : 'ERR_PROTOCOL';
}
