// Held stream: an inbound Stream waiting for its handshake turn. It holds what the peer
// sends until a reader attaches (the Connection, when the turn comes), then hands the
// held bytes over in order and passes everything after straight through.
// Invariants: while held, at most FRAME_HEADER_BYTES + maxHeldBytes bytes are kept (a
// dialer sends one hello, a few hundred bytes, then waits for ours): one byte more, or
// a frame header announcing a longer frame, and the stream is closed and overflow()
// called once. firstFrame() is called once, when a whole first frame has arrived.
import { FRAME_HEADER_BYTES } from '../wire/frame.js';
import type { Stream } from './transport.js';

/** What a HeldStream tells its holder. */
export interface HeldStreamEvents {
  /** A whole first frame has arrived: the handshake can make progress once started. */
  firstFrame(): void;
  /** The peer sent more than a held stream keeps; the stream is closed. */
  overflow(): void;
}

/** A Stream whose incoming bytes are held (bounded) until a reader attaches. */
export class HeldStream implements Stream {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private reader: ((chunk: Buffer) => void) | undefined;
  private framed = false;
  /** The length the first frame's header announced, once its 4 bytes arrived. */
  private firstLength: number | undefined;
  private closed = false;

  /** maxHeldBytes: the largest first frame body accepted while held, in bytes. */
  constructor(
    private readonly inner: Stream,
    private readonly maxHeldBytes: number,
    private readonly events: HeldStreamEvents,
  ) {
    inner.onData((chunk) => this.receive(chunk));
    inner.onClose(() => {
      this.closed = true;
      this.held = [];
      this.heldBytes = 0;
    });
  }

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get remotePort(): number {
    return this.inner.remotePort;
  }

  /** Whether a whole first frame has arrived. */
  get hasFrame(): boolean {
    return this.framed;
  }

  /** Bytes held now. */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  write(data: Uint8Array): void {
    this.inner.write(data);
  }

  close(): void {
    this.held = [];
    this.heldBytes = 0;
    this.inner.close();
  }

  /** Attach the reader: the held bytes first, in order, then every chunk as it comes. */
  onData(cb: (chunk: Buffer) => void): void {
    this.reader = cb;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const chunk of held) {
      if (this.reader !== cb) return;
      cb(chunk);
    }
  }

  onClose(cb: (err?: Error) => void): void {
    this.inner.onClose(cb);
  }

  private receive(chunk: Buffer): void {
    if (this.reader) {
      this.reader(chunk);
      return;
    }
    if (this.closed) return;
    this.heldBytes += chunk.length;
    if (this.heldBytes > FRAME_HEADER_BYTES + this.maxHeldBytes) return this.overflow();
    this.held.push(chunk);
    if (this.framed || this.heldBytes < FRAME_HEADER_BYTES) return;
    if (this.firstLength === undefined) {
      this.firstLength = Buffer.concat(this.held, FRAME_HEADER_BYTES).readUInt32BE(0);
      if (this.firstLength > this.maxHeldBytes) return this.overflow();
    }
    if (this.heldBytes >= FRAME_HEADER_BYTES + this.firstLength) {
      this.framed = true;
      this.events.firstFrame();
    }
  }

  private overflow(): void {
    this.closed = true;
    // Tell the holder first: the stream's own close handlers may run within close().
    this.events.overflow();
    this.close();
  }
}
