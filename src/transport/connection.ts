// Connection: one peer connection over a byte Stream — framing, the handshake, then
// sealed session messages. It turns every fault (oversized frame, bad msgpack,
// failed tag, bad shape, deadline) into a closed connection carrying a ClusterError;
// nothing thrown here escapes into socket callbacks.
// Invariants: session messages are delivered in order, only after authentication.
// Until the handshake completes, frames are capped at MAX_HANDSHAKE_FRAME_BYTES (the
// handshake's messages are a few hundred bytes): an unauthenticated peer can make us
// buffer at most that much; the configured maxFrameBytes applies only once the
// handshake is done. The handshake deadline is absolute (set once, never extended) and
// starts when the Connection is made: the mesh makes it when the handshake's turn comes.
import { ClusterError, describeError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { decode, encode } from '../wire/codec.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from '../wire/frame.js';
import { PROTOCOL_VERSION, parseHandshake, parseSession } from '../wire/messages.js';
import type { HandshakeMessage, Hello, SessionMessage } from '../wire/messages.js';
import type { Random } from '../util/random.js';
import type { Secret } from '../util/secret.js';
import type { TrafficCounts } from '../util/traffic.js';
import { Handshake } from './handshake.js';
import { Opener, SEAL_OVERHEAD_BYTES, Sealer } from './session-crypto.js';
import type { Role } from './session-crypto.js';
import type { Stream } from './transport.js';

/** Largest frame accepted while the handshake runs: 4 KiB (a hello is about 200 bytes). */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;

/** Settings for one connection. */
export interface ConnectionOptions {
  role: Role;
  /** The cluster cookie: the handshake's CPace password. */
  cookie: Secret;
  /** Source of the handshake's ephemeral scalar. */
  random: Random;
  /** Our hello, with a fresh nonce. */
  hello: Hello;
  /** Largest frame accepted after the handshake, in bytes. */
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  clock: Clock;
  /**
   * Listener only: called once when we have answered the dialer's hello and only its
   * confirm is left — our share of the handshake's work is done, the rest is waiting.
   */
  onAwaitingConfirm?: () => void;
  /** Counters to add this connection's bytes and frames to (after framing, handshake included); default none. */
  traffic?: TrafficCounts;
}

/** Lifecycle of a connection. */
export type ConnectionState = 'handshake' | 'open' | 'closed';

/** A framed, authenticated, encrypted connection to one peer. */
export class Connection {
  state: ConnectionState = 'handshake';
  /** The peer's verified hello, once the handshake is done. */
  peer: Hello | undefined;
  /** Clock time of the last frame received (any kind). */
  lastReceivedAt: number;
  /** Why the connection closed, once closed (undefined for a clean close). */
  closeError: ClusterError | undefined;
  /** The code of the peer's goodbye, if it said one. */
  byeCode: string | undefined;
  #claimedName: string | undefined;

  private readonly decoder: FrameDecoder;
  private readonly handshaker: Handshake;
  private sealer: Sealer | undefined;
  private opener: Opener | undefined;
  private deadline: TimerHandle | undefined;
  private settle: { resolve: (peer: Hello) => void; reject: (err: ClusterError) => void } | undefined;
  private messageHandler: ((msg: SessionMessage) => void) | undefined;
  private readonly backlog: SessionMessage[] = [];
  private readonly closeHandlers: ((err?: ClusterError) => void)[] = [];
  private readonly handshakePromise: Promise<Hello>;

  constructor(
    private readonly stream: Stream,
    private readonly options: ConnectionOptions,
  ) {
    this.decoder = new FrameDecoder(Math.min(MAX_HANDSHAKE_FRAME_BYTES, options.maxFrameBytes));
    this.handshaker = new Handshake({ role: options.role, cookie: options.cookie, hello: options.hello, random: options.random });
    this.lastReceivedAt = options.clock.now();
    this.handshakePromise = new Promise<Hello>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A rejected handshake is always reported through handshake(); never leave it unhandled.
    this.handshakePromise.catch(() => {});
    this.deadline = options.clock.setTimeout(() => {
      this.fail(new ClusterError('ERR_HANDSHAKE_TIMEOUT', `handshake did not complete within ${options.handshakeTimeoutMs} ms`));
    }, options.handshakeTimeoutMs);
    const first = this.handshaker.start();
    if (first.send) this.writeHandshake(first.send);
    if (first.fail) this.fail(first.fail);
    // Read only once the handshake has started: a stream that held bytes while it waited
    // for its turn (held-stream.ts) hands them over as soon as a reader attaches.
    stream.onData((chunk) => this.onData(chunk));
    stream.onClose((err) => this.onStreamClosed(err));
  }

  /**
   * The node name from the peer's hello once it parsed, UNVERIFIED until handshake()
   * resolves: for log lines such as "authentication failed with bob@host", never for decisions.
   */
  get claimedName(): string | undefined {
    return this.#claimedName;
  }

  /** The hello we sent (without our CPace share). */
  get localHello(): Hello {
    return this.options.hello;
  }

  get role(): Role {
    return this.options.role;
  }

  get remoteAddress(): string {
    return this.stream.remoteAddress;
  }

  get remotePort(): number {
    return this.stream.remotePort;
  }

  /** Resolves with the peer's verified hello, or rejects with why the handshake failed. */
  handshake(): Promise<Hello> {
    return this.handshakePromise;
  }

  /** Receive session messages; messages that arrived before this call are delivered first. */
  onMessage(handler: (msg: SessionMessage) => void): void {
    this.messageHandler = handler;
    while (this.backlog.length && this.state === 'open') this.deliver(this.backlog.shift()!);
  }

  /** Called once when the connection closes; err is undefined for a clean close by us. */
  onClose(handler: (err?: ClusterError) => void): void {
    if (this.state === 'closed') handler(this.closeError);
    else this.closeHandlers.push(handler);
  }

  /**
   * Send a session message; returns false if the connection is not open. Throws
   * ERR_BAD_MESSAGE (not plain data) or ERR_FRAME_TOO_LARGE to the caller, before
   * anything is sealed: a message of ours that cannot go is our caller's fault, not the
   * peer's, and the connection stays open.
   */
  send(msg: SessionMessage): boolean {
    if (this.state !== 'open' || !this.sealer) return false;
    const body = encode(msg);
    if (body.length + SEAL_OVERHEAD_BYTES > this.options.maxFrameBytes) {
      throw new ClusterError('ERR_FRAME_TOO_LARGE', `a message of ${body.length} bytes does not fit the frame limit of ${this.options.maxFrameBytes} bytes`);
    }
    try {
      this.write(encodeFrame(this.sealer.seal(body), this.options.maxFrameBytes));
      return true;
    } catch (err) {
      this.fail(err instanceof ClusterError ? err : new ClusterError('ERR_PROTOCOL', `cannot send: ${describeError(err)}`, { cause: err }));
      return false;
    }
  }


  /** Close, telling the peer why when a reason is given. */
  close(bye?: { code: string; reason: string }): void {
    if (this.state === 'closed') return;
    if (bye && this.state === 'open') this.send({ t: 'bye', code: bye.code, reason: bye.reason });
    this.finish(undefined);
  }

  private writeHandshake(msg: HandshakeMessage): void {
    this.write(encodeFrame(encode(msg), this.options.maxFrameBytes));
  }

  /** Put one whole frame on the stream, counted. */
  private write(frame: Buffer): void {
    const t = this.options.traffic;
    if (t) {
      t.meshBytesOut += frame.length;
      t.meshFramesOut++;
    }
    this.stream.write(frame);
  }

  private onData(chunk: Buffer): void {
    if (this.options.traffic) this.options.traffic.meshBytesIn += chunk.length;
    // During the handshake the decoder runs with the small cap and must not see the
    // header of a session frame before the cap is raised. Fed at most
    // FRAME_HEADER_BYTES at a time it completes at most one frame per push and holds
    // fewer than a header's bytes beyond it, so the cap is raised in time.
    let offset = 0;
    while (this.state === 'handshake' && offset < chunk.length) {
      const end = Math.min(chunk.length, offset + FRAME_HEADER_BYTES);
      this.onBytes(chunk.subarray(offset, end));
      offset = end;
    }
    if (offset < chunk.length) this.onBytes(offset === 0 ? chunk : chunk.subarray(offset));
  }

  private onBytes(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof ClusterError ? err : new ClusterError('ERR_BAD_FRAME', describeError(err)));
      return;
    }
    if (this.options.traffic) this.options.traffic.meshFramesIn += frames.length;
    for (const frame of frames) {
      if ((this.state as ConnectionState) === 'closed') return;
      this.lastReceivedAt = this.options.clock.now();
      try {
        if (this.state === 'handshake') this.onHandshakeFrame(frame);
        else this.onSessionFrame(frame);
      } catch (err) {
        this.fail(err instanceof ClusterError ? err : new ClusterError('ERR_PROTOCOL', describeError(err), { cause: err }));
        return;
      }
    }
  }

  private onHandshakeFrame(frame: Buffer): void {
    const msg = parseHandshake(decode(frame));
    if (msg.t === 'hello' && msg.v === PROTOCOL_VERSION) this.#claimedName ??= msg.name;
    const step = this.handshaker.receive(msg);
    if (step.send) this.writeHandshake(step.send);
    if (step.fail) {
      this.fail(step.fail);
      return;
    }
    if (step.send?.t === 'hello' && this.options.role === 'listener') this.options.onAwaitingConfirm?.();
    if (step.done) {
      this.options.clock.clearTimeout(this.deadline);
      this.deadline = undefined;
      this.peer = step.done.peer;
      this.sealer = new Sealer(step.done.sendKey);
      this.opener = new Opener(step.done.receiveKey);
      this.decoder.setMaxFrameBytes(this.options.maxFrameBytes);
      this.state = 'open';
      this.settle?.resolve(step.done.peer);
    }
  }

  private onSessionFrame(frame: Buffer): void {
    const msg = parseSession(decode(this.opener!.open(frame)));
    if (msg.t === 'bye') {
      this.byeCode = msg.code;
      this.finish(new ClusterError(msg.code === 'ERR_NAME_IN_USE' ? 'ERR_NAME_IN_USE' : 'ERR_CONNECTION_CLOSED', `peer said goodbye: ${msg.reason}`));
      return;
    }
    if (this.messageHandler) this.deliver(msg);
    else this.backlog.push(msg);
  }

  private deliver(msg: SessionMessage): void {
    try {
      this.messageHandler!(msg);
    } catch (err) {
      this.fail(new ClusterError('ERR_PROTOCOL', `message handler failed: ${describeError(err)}`, { cause: err }));
    }
  }

  private onStreamClosed(err?: Error): void {
    if (this.state === 'closed') return;
    this.finish(new ClusterError('ERR_CONNECTION_CLOSED', err ? `connection lost: ${err.message}` : 'connection closed by peer', { cause: err }));
  }

  private fail(err: ClusterError): void {
    this.finish(err);
  }

  private finish(err: ClusterError | undefined): void {
    if (this.state === 'closed') return;
    const wasHandshake = this.state === 'handshake';
    this.state = 'closed';
    this.closeError = err;
    this.options.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
    this.stream.close();
    if (wasHandshake) this.settle?.reject(err ?? new ClusterError('ERR_CONNECTION_CLOSED', 'closed during the handshake'));
    for (const h of this.closeHandlers.splice(0)) {
      try {
        h(err);
      } catch {
        // close handlers are ours and must not throw; never let one break the others
      }
    }
  }
}
