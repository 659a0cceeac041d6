// Session crypto: the symmetric half of a session, built on node:crypto only.
// - From the CPace ISK (handshake.ts) HKDF-SHA256 derives, each under its own label,
//   two key-confirmation keys (one per role) and two traffic keys (one per direction).
// - Key confirmation: each side sends HMAC-SHA256(its role's confirmation key,
//   lv(role) || transcript), checked in constant time by the other side.
// - Every frame after the handshake is sealed with AES-256-GCM under a per-direction
//   counter nonce, so a frame replayed within a session or into another fails.
// Invariant: no function here returns or logs the ISK or a key derived from it except
// as key material handed to the cipher or the MAC.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { ClusterError } from '../errors.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';

const TAG_BYTES = 16;
/** Bytes sealing adds to a frame body (the AES-GCM tag). */
export const SEAL_OVERHEAD_BYTES = TAG_BYTES;
const KEY_BYTES = 32;

/** Which end of a connection: the dialer connected, the listener accepted. */
export type Role = 'dialer' | 'listener';

/** The keys of one session, all derived from its ISK; the ISK itself is not kept. */
export interface SessionKeys {
  /** Key of the dialer's confirmation MAC. */
  confirmDialer: Buffer;
  /** Key of the listener's confirmation MAC. */
  confirmListener: Buffer;
  /** AES-256-GCM key for frames the dialer sends. */
  dialerToListener: Buffer;
  /** AES-256-GCM key for frames the listener sends. */
  listenerToDialer: Buffer;
}

/** Derive the session's four keys from the CPace ISK with HKDF-SHA256, one label each. */
export function deriveSessionKeys(isk: Uint8Array): SessionKeys {
  const key = (label: string): Buffer => Buffer.from(hkdfSync('sha256', isk, Buffer.alloc(0), `cluster-node/v${PROTOCOL_VERSION}/${label}`, KEY_BYTES));
  return {
    confirmDialer: key('confirm/dialer'),
    confirmListener: key('confirm/listener'),
    dialerToListener: key('traffic/d2l'),
    listenerToDialer: key('traffic/l2d'),
  };
}

/** The confirmation MAC a side with the given role sends: HMAC-SHA256(key, len(role) || role || transcript). */
export function confirmationMac(key: Uint8Array, role: Role, transcript: Uint8Array): Buffer {
  return createHmac('sha256', key).update(Buffer.from([role.length])).update(role).update(transcript).digest();
}

/** Constant-time check of the peer's confirmation MAC. */
export function verifyConfirmation(key: Uint8Array, role: Role, transcript: Uint8Array, mac: Uint8Array): boolean {
  const expected = confirmationMac(key, role, transcript);
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}

/** Bytes of a GCM nonce: 4 zero bytes, then the frame counter as 64-bit big-endian. */
const NONCE_BYTES = 12;

/** Write counter (an integer below 2^53) into nonce (12 bytes) as 4 zero bytes and a 64-bit big-endian count. */
export function setNonce(nonce: Buffer, counter: number): Buffer {
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
  return nonce;
}

/**
 * Seals outgoing frames: AES-256-GCM, nonce = 64-bit counter starting at 0. One nonce
 * buffer is reused (node:crypto copies it when the cipher is made); the counter is a
 * Number, exact to 2^53 frames, far beyond what a connection can send.
 */
export class Sealer {
  private counter = 0;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  constructor(private readonly key: Buffer) {}

  seal(plaintext: Uint8Array): Buffer {
    const cipher = createCipheriv('aes-256-gcm', this.key, setNonce(this.nonce, this.counter++), { authTagLength: TAG_BYTES });
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([body, cipher.getAuthTag()], body.length + TAG_BYTES);
  }
}

/** Opens incoming frames in order; any failure throws ERR_DECRYPT and the connection must close. */
export class Opener {
  private counter = 0;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  constructor(private readonly key: Buffer) {}

  open(sealed: Uint8Array): Buffer {
    if (sealed.length < TAG_BYTES) throw new ClusterError('ERR_DECRYPT', 'sealed frame shorter than its tag');
    const nonce = setNonce(this.nonce, this.counter);
    const body = sealed.subarray(0, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      const out = decipher.update(body);
      decipher.final();
      this.counter++;
      return out;
    } catch (err) {
      throw new ClusterError('ERR_DECRYPT', 'frame failed authentication (tampered, replayed or out of order)', { cause: err });
    }
  }
}
