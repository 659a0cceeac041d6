// Session crypto: everything secret, built on node:crypto only.
// - The cookie is stretched once per process with scrypt into the cluster key.
// - Each side proves knowledge of the key with HMAC-SHA256 over a transcript that
//   binds its role, both hellos (names, incarnations, nonces, ports) and the version.
// - Two traffic keys (one per direction) come from HKDF over the transcript; every
//   frame after the handshake is sealed with AES-256-GCM under a per-direction
//   counter nonce, so a frame replayed within a session or into another fails.
// Invariant: no function here returns or logs the cookie or a key-derived secret
// except as key material handed to the cipher.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, scryptSync, timingSafeEqual } from 'node:crypto';
import { ClusterError } from '../errors.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import type { Hello } from '../wire/messages.js';

/** scrypt cost for stretching the cookie (2^15: ~50-100 ms once per process). */
export const COOKIE_SCRYPT_N = 1 << 15;
const SCRYPT_SALT = 'cluster-node/v1/cookie';
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Which end of a connection: the dialer connected, the listener accepted. */
export type Role = 'dialer' | 'listener';

/** Stretch the cookie into the 32-byte cluster key (slow on purpose; call once). */
export function deriveClusterKey(cookie: string): Buffer {
  return scryptSync(cookie, SCRYPT_SALT, KEY_BYTES, { N: COOKIE_SCRYPT_N, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
}

/** A short public tag (16 hex chars) for the cluster, safe to advertise: it reveals nothing usable about the cookie. */
export function clusterTag(clusterKey: Buffer): string {
  return createHmac('sha256', clusterKey).update('cluster-node/v1/mdns-tag').digest('hex').slice(0, 16);
}

function field(h: ReturnType<typeof createHash>, value: string | Uint8Array | number): void {
  const bytes = typeof value === 'number' ? Buffer.from(String(value)) : typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  h.update(len);
  h.update(bytes);
}

/** SHA-256 of the canonical, length-prefixed encoding of both hellos, dialer first. */
export function transcriptHash(dialer: Hello, listener: Hello): Buffer {
  const h = createHash('sha256');
  field(h, `cluster-node/v${PROTOCOL_VERSION}/handshake`);
  for (const hello of [dialer, listener]) {
    field(h, hello.v);
    field(h, hello.name);
    field(h, hello.inc);
    field(h, hello.nonce);
    field(h, hello.port);
    field(h, hello.up);
  }
  return h.digest();
}

/** The proof a side with the given role sends: HMAC-SHA256(clusterKey, role || transcript). */
export function computeProof(clusterKey: Buffer, role: Role, transcript: Buffer): Buffer {
  return createHmac('sha256', clusterKey).update(`proof:${role}:`).update(transcript).digest();
}

/** Constant-time check of the peer's proof. */
export function verifyProof(clusterKey: Buffer, role: Role, transcript: Buffer, mac: Uint8Array): boolean {
  const expected = computeProof(clusterKey, role, transcript);
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}

/** The two traffic keys of a session. */
export interface TrafficKeys {
  dialerToListener: Buffer;
  listenerToDialer: Buffer;
}

/** Derive one key per direction with HKDF-SHA256 over the transcript. */
export function deriveTrafficKeys(clusterKey: Buffer, transcript: Buffer): TrafficKeys {
  const key = (label: string): Buffer => Buffer.from(hkdfSync('sha256', clusterKey, transcript, `cluster-node/v1/${label}`, KEY_BYTES));
  return { dialerToListener: key('d2l'), listenerToDialer: key('l2d') };
}

function nonceFor(counter: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(counter, 4);
  return nonce;
}

/** Seals outgoing frames: AES-256-GCM, nonce = 64-bit counter starting at 0. */
export class Sealer {
  private counter = 0n;
  constructor(private readonly key: Buffer) {}

  seal(plaintext: Uint8Array): Buffer {
    const cipher = createCipheriv('aes-256-gcm', this.key, nonceFor(this.counter++), { authTagLength: TAG_BYTES });
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([body, cipher.getAuthTag()]);
  }
}

/** Opens incoming frames in order; any failure throws ERR_DECRYPT and the connection must close. */
export class Opener {
  private counter = 0n;
  constructor(private readonly key: Buffer) {}

  open(sealed: Uint8Array): Buffer {
    if (sealed.length < TAG_BYTES) throw new ClusterError('ERR_DECRYPT', 'sealed frame shorter than its tag');
    const nonce = nonceFor(this.counter);
    const body = sealed.subarray(0, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      const out = Buffer.concat([decipher.update(body), decipher.final()]);
      this.counter++;
      return out;
    } catch (err) {
      throw new ClusterError('ERR_DECRYPT', 'frame failed authentication (tampered, replayed or out of order)', { cause: err });
    }
  }
}
