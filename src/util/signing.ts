// Signing keys: Ed25519 (node:crypto) for statements a node makes in its own name and
// others pass on — its registry entries. A node makes one key per incarnation from its
// injected randomness (so a simulated cluster is replayable), announces the public half
// in its authenticated handshake hello, and never stores the private half anywhere.
// Invariants: a public key is exactly PUBLIC_KEY_BYTES raw bytes, a signature exactly
// SIGNATURE_BYTES; verify() never throws (a malformed key or signature is just false).
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** Bytes of a raw Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

// DER prefixes that wrap a raw 32-byte seed (PKCS#8) and a raw public key (SPKI) for Ed25519 (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * A private signing key and its public half. The key object is made on first use (the
 * first hello or signature), not at construction: making it costs a few ms of OpenSSL
 * set-up that a starting node need not pay before it is ready.
 */
export class SigningKey {
  private made: { key: KeyObject; publicKey: Uint8Array } | undefined;

  private constructor(private seed: Uint8Array | undefined) {}

  /** The key whose 32-byte seed is given (draw it from the node's Random). */
  static fromSeed(seed: Uint8Array): SigningKey {
    if (seed.length !== 32) throw new RangeError(`an Ed25519 seed is 32 bytes, not ${seed.length}`);
    return new SigningKey(new Uint8Array(seed));
  }

  private make(): { key: KeyObject; publicKey: Uint8Array } {
    if (!this.made) {
      const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, this.seed!]), format: 'der', type: 'pkcs8' });
      this.seed!.fill(0);
      this.seed = undefined;
      const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
      this.made = { key, publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
    }
    return this.made;
  }

  /** The raw 32-byte public key, as announced in the hello. */
  get publicKey(): Uint8Array {
    return this.make().publicKey;
  }

  /** The 64-byte signature of data. */
  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, data, this.make().key));
  }

  /** For inspection and logs: never the private key. */
  toJSON(): string {
    return '[signing key]';
  }

  /** For util.inspect: never the private key or its seed. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[signing key]';
  }
}

/**
 * A peer's public key, checking signatures. It is parsed into a node:crypto key on its
 * first verify() and kept (a node learns one key per member and checks signatures only
 * on relayed entries, so most keys are never parsed: that import was a noticeable part
 * of the CPU a cluster spends forming).
 */
export class VerifyKey {
  /** The parsed key: undefined until the first verify(), null when raw is not a valid key. */
  private key: KeyObject | null | undefined;

  private constructor(
    /** The raw 32-byte public key. */
    readonly raw: Uint8Array,
  ) {}

  /** Wrap a raw 32-byte public key; one that is not a valid point verifies nothing. */
  static fromRaw(raw: Uint8Array): VerifyKey {
    return new VerifyKey(new Uint8Array(raw));
  }

  private parsed(): KeyObject | null {
    if (this.key !== undefined) return this.key;
    this.key = null;
    if (this.raw.length === PUBLIC_KEY_BYTES) {
      try {
        this.key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, this.raw]), format: 'der', type: 'spki' });
      } catch {
        this.key = null;
      }
    }
    return this.key;
  }

  /** True iff sig is this key's valid signature of data. */
  verify(data: Uint8Array, sig: Uint8Array | undefined): boolean {
    if (!sig || sig.length !== SIGNATURE_BYTES) return false;
    const key = this.parsed();
    if (!key) return false;
    try {
      return verify(null, data, key, sig);
    } catch {
      return false;
    }
  }

  /** True if other is the same raw key. */
  equals(other: Uint8Array): boolean {
    return other.length === this.raw.length && Buffer.from(other).equals(Buffer.from(this.raw));
  }
}
