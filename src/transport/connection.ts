// Connection: one peer connection over a byte Stream — framing, the handshake, then
// sealed session messages. It turns every fault (oversized frame, bad msgpack,
// failed tag, bad shape, deadline) into a closed connection carrying a ClusterError;
// nothing thrown here escapes into socket callbacks.
// Invariant: session messages are delivered in order, only after authentication.
import { ClusterError, describeError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { decode, encode } from '../wire/codec.js';
import { encodeFrame, FrameDecoder } from '../wire/frame.js';
import { parseHandshake, parseSession } from '../wire/messages.js';
import type { HandshakeMessage, Hello, SessionMessage } from '../wire/messages.js';
import { Handshake } from './handshake.js';
import { Opener, Sealer } from './session-crypto.js';
import type { Role } from './session-crypto.js';
import type { Stream } from './transport.js';

/** Settings for one connection. */
export interface ConnectionOptions {
  role: Role;
  clusterKey: Buffer;
  /** Our hello, with a fresh nonce. */
  hello: Hello;
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  clock: Clock;
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
  private claimed: string | undefined;

  constructor(
    private readonly stream: Stream,
    private readonly options: ConnectionOptions,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    this.handshaker = new Handshake(options.role, options.clusterKey, options.hello);
    this.lastReceivedAt = options.clock.now();
    this.handshakePromise = new Promise<Hello>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A rejected handshake is always reported through handshake(); never leave it unhandled.
    this.handshakePromise.catch(() => {});
    stream.onData((chunk) => this.onData(chunk));
    stream.onClose((err) => this.onStreamClosed(err));
    this.deadline = options.clock.setTimeout(() => {
      this.fail(new ClusterError('ERR_HANDSHAKE_TIMEOUT', `handshake did not complete within ${options.handshakeTimeoutMs} ms`));
    }, options.handshakeTimeoutMs);
    this.writeHandshake(options.hello);
  }

  /** The hello we sent. */
  get localHello(): Hello {
    return this.options.hello;
  }

  /**
   * The name the peer's hello claimed, as soon as that hello parsed: NOT verified (the
   * handshake may still fail), for telling a user whom a failed handshake was with.
   * undefined until a hello of our protocol version arrives.
   */
  get claimedName(): string | undefined {
    return this.claimed;
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

  /** Send a session message; returns false if the connection is not open. */
  send(msg: SessionMessage): boolean {
    if (this.state !== 'open' || !this.sealer) return false;
    try {
      this.stream.write(encodeFrame(this.sealer.seal(encode(msg)), this.options.maxFrameBytes));
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
    this.stream.write(encodeFrame(encode(msg), this.options.maxFrameBytes));
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof ClusterError ? err : new ClusterError('ERR_BAD_FRAME', describeError(err)));
      return;
    }
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
    if (msg.t === 'hello' && msg.name !== '' && this.claimed === undefined) this.claimed = msg.name;
    const step = this.handshaker.receive(msg);
    if (step.send) this.writeHandshake(step.send);
    if (step.fail) {
      this.fail(step.fail);
      return;
    }
    if (step.done) {
      this.options.clock.clearTimeout(this.deadline);
      this.deadline = undefined;
      this.peer = step.done.peer;
      this.sealer = new Sealer(step.done.sendKey);
      this.opener = new Opener(step.done.receiveKey);
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
