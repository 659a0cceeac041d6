// Frame: the length-prefixed framing of the TCP byte stream. Each frame is a 4-byte
// big-endian length followed by that many bytes. Invariant: the length is checked
// against maxFrameBytes before any buffer for the body is allocated.
import { ClusterError } from '../errors.js';

/** Bytes in the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Largest frame body accepted by default: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** Prefix body with its length. Throws ERR_FRAME_TOO_LARGE if it exceeds maxFrameBytes. */
export function encodeFrame(body: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  if (body.length > maxFrameBytes) {
    throw new ClusterError('ERR_FRAME_TOO_LARGE', `frame of ${body.length} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Incremental decoder: push() arbitrary chunks, get back the complete frame bodies.
 * Throws ERR_FRAME_TOO_LARGE as soon as a prefix announces a body above the limit;
 * after that the decoder is poisoned and the connection must be closed.
 */
export class FrameDecoder {
  private maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Change the largest frame body accepted from now on, in bytes (a connection raises it once its handshake is done). */
  setMaxFrameBytes(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError('maxFrameBytes must be a non-negative integer');
    this.maxFrameBytes = n;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw new ClusterError('ERR_BAD_FRAME', 'frame decoder used after a framing error');
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const length = this.peekLength();
      if (length > this.maxFrameBytes) {
        this.failed = true;
        this.chunks = [];
        this.buffered = 0;
        throw new ClusterError('ERR_FRAME_TOO_LARGE', `peer announced a frame of ${length} bytes; the limit is ${this.maxFrameBytes}`);
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.take(FRAME_HEADER_BYTES);
      frames.push(this.take(length));
    }
    return frames;
  }

  private peekLength(): number {
    // Coalesce the first few tiny chunks so the prefix is readable from one buffer.
    while (this.chunks[0]!.length < FRAME_HEADER_BYTES) {
      const [a, b] = this.chunks.splice(0, 2) as [Buffer, Buffer];
      this.chunks.unshift(Buffer.concat([a, b]));
    }
    return this.chunks[0]!.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return Buffer.from(out);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        out.set(c, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), filled);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}
