// Frame: the length-prefixed framing of the TCP byte stream. Each frame is a 4-byte
// big-endian length followed by that many bytes.
// Invariants: the length is checked against the current limit before any buffer for
// the body is allocated; the body is allocated once, when its header is complete, and
// every input byte is copied at most once, so decoding is linear in the bytes received
// whatever the chunking (a 1 MiB frame dribbled in 1-byte segments costs 1 MiB of
// copies, not a quadratic walk over a list of chunks). The limit can be raised after
// the handshake (setMaxFrameBytes) so that, before authentication, a peer can make us
// hold no more than a few KiB.
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
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** The body being filled, allocated once its length is known. */
  private body: Buffer | undefined;
  private bodyFilled = 0;
  private failed = false;

  /** maxFrameBytes: the largest body accepted, in bytes; default 1 MiB. */
  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.headerFilled + this.bodyFilled;
  }

  /** The largest frame body accepted from now on, in bytes (a frame already announced keeps its length). */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw new ClusterError('ERR_BAD_FRAME', 'frame decoder used after a framing error');
    const frames: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (!this.body) {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - at);
        this.header.set(chunk.subarray(at, at + n), this.headerFilled);
        this.headerFilled += n;
        at += n;
        if (this.headerFilled < FRAME_HEADER_BYTES) break;
        const length = this.header.readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          this.failed = true;
          this.headerFilled = 0;
          throw new ClusterError('ERR_FRAME_TOO_LARGE', `peer announced a frame of ${length} bytes; the limit is ${this.maxFrameBytes}`);
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
      const n = Math.min(this.body.length - this.bodyFilled, chunk.length - at);
      this.body.set(chunk.subarray(at, at + n), this.bodyFilled);
      this.bodyFilled += n;
      at += n;
      if (this.bodyFilled === this.body.length) {
        frames.push(this.body);
        this.body = undefined;
        this.bodyFilled = 0;
        this.headerFilled = 0;
      }
    }
    // An empty body completes as soon as its header does.
    if (this.body && this.body.length === 0) {
      frames.push(this.body);
      this.body = undefined;
      this.headerFilled = 0;
    }
    return frames;
  }
}
