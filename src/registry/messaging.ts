// Messaging: send() and call() to whichever node holds a name. Handlers live on the
// holder; a call carries an id and waits for the reply, a timeout, or its target
// going down. Every failure reaches the caller as a ClusterError with a stable code.
// On the wire: 'msg' (to the holder; with an id when a reply is wanted) and 'reply',
// which the router (router.ts) hands to receive(). A 'msg' for a name this node (this
// incarnation) does not hold is answered ERR_NOT_HOLDER, never delivered.
// Invariant: each call settles exactly once and leaves no timer behind.
import { ClusterError, describeError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { NameMessage, RegistryMessage } from './messages.js';
import type { Claim } from './registry.js';

/**
 * Handles messages sent to a name this node holds; the return value (or what its promise
 * resolves to) answers a call(). Req and Res are the types you expect: they are not
 * checked, and a message comes from any member, so validate it before trusting it.
 */
export type NameHandler<Req = unknown, Res = unknown> = (message: Req, ctx: { name: string; from: string }) => Res | Promise<Res>;

/** Options of call(). */
export interface CallOptions {
  /** Milliseconds to wait for the reply; default 5000. */
  timeoutMs?: number;
}

/** Default call() timeout: 5 s. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** What messaging needs from the node. */
export interface MessagingPort {
  /** This node's name. */
  readonly self: string;
  /** This node's incarnation: only a claim of this boot holds a name here. */
  readonly inc: string;
  readonly clock: Clock;
  /** The holder of name, if any. */
  whereis(name: string): Claim | undefined;
  /** Send a registry message to a connected member; false if it is not connected; throws ERR_BAD_MESSAGE or ERR_FRAME_TOO_LARGE for a body that cannot go. */
  sendTo(node: string, msg: RegistryMessage): boolean;
}

interface PendingCall {
  resolve: (v: unknown) => void;
  reject: (e: ClusterError) => void;
  to: string;
  timer: TimerHandle;
}

/** Name-addressed send and call for one node. */
export class NameMessaging {
  private readonly handlers = new Map<string, NameHandler>();
  private readonly calls = new Map<number, PendingCall>();
  private nextCallId = 1;

  constructor(private readonly port: MessagingPort) {}

  setHandler(name: string, handler: NameHandler): void {
    this.handlers.set(name, handler);
  }

  deleteHandler(name: string): void {
    this.handlers.delete(name);
  }

  /** Fire and forget to the holder of name; false if nobody holds it or it is unreachable. */
  send(name: string, message: unknown): boolean {
    const holder = this.port.whereis(name);
    if (!holder) return false;
    if (holder.owner === this.port.self) {
      queueMicrotask(() => this.deliver(name, message, this.port.self, undefined));
      return true;
    }
    return this.port.sendTo(holder.owner, { k: 'msg', name, body: message });
  }

  /** Ask the holder of name and wait for its handler's answer. */
  call(name: string, message: unknown, options: CallOptions = {}): Promise<unknown> {
    const holder = this.port.whereis(name);
    if (!holder) return Promise.reject(new ClusterError('ERR_NO_SUCH_NAME', `no node holds ${name}`));
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const id = this.nextCallId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = this.port.clock.setTimeout(
        () => this.settle(id, false, { code: 'ERR_CALL_TIMEOUT', message: `no reply from ${holder.owner} for ${name} within ${timeoutMs} ms` }),
        timeoutMs,
      );
      this.calls.set(id, { resolve, reject, to: holder.owner, timer });
      if (holder.owner === this.port.self) {
        queueMicrotask(() => this.deliver(name, message, this.port.self, (ok, body) => this.settle(id, ok, body)));
      } else {
        let sent: boolean;
        try {
          sent = this.port.sendTo(holder.owner, { k: 'msg', name, body: message, id });
        } catch (err) {
          // The message cannot go (not plain data, too large): the caller's error, as it is.
          this.port.clock.clearTimeout(timer);
          this.calls.delete(id);
          reject(err);
          return;
        }
        if (!sent) this.settle(id, false, { code: 'ERR_CALL_FAILED', message: `${holder.owner} is not connected` });
      }
    });
  }

  /** A 'msg' or 'reply' from a connected member. */
  receive(from: string, msg: NameMessage): void {
    if (msg.k === 'reply') {
      this.settle(msg.id, msg.ok, msg.body);
      return;
    }
    const holder = this.port.whereis(msg.name);
    const mine = holder && holder.owner === this.port.self && holder.incarnation === this.port.inc;
    const id = msg.id;
    // A reply that cannot be sent throws to the caller of reply() (deliver), which answers with the error instead.
    const reply = id === undefined ? undefined : (ok: boolean, body: unknown): void => void this.port.sendTo(from, { k: 'reply', id, ok, body });
    if (!mine) {
      reply?.(false, { code: 'ERR_NOT_HOLDER', message: `${this.port.self} does not hold ${msg.name}` });
      return;
    }
    this.deliver(msg.name, msg.body, from, reply);
  }

  /** A message for a name we hold arrived; reply is set for calls. */
  deliver(name: string, body: unknown, from: string, reply: ((ok: boolean, body: unknown) => void) | undefined): void {
    const handler = this.handlers.get(name);
    if (!handler) {
      reply?.(false, { code: 'ERR_NOT_HOLDER', message: `${name} has no handler on ${this.port.self}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(body, { name, from }))
      .then(
        (result) => {
          try {
            reply?.(true, result ?? null);
          } catch (err) {
            reply?.(false, { code: 'ERR_CALL_FAILED', message: `the handler's result cannot be sent: ${describeError(err)}` });
          }
        },
        (err: unknown) => reply?.(false, { code: 'ERR_CALL_FAILED', message: describeError(err) }),
      );
  }

  /** The answer to call id arrived (or it failed). */
  settle(id: number, ok: boolean, body: unknown): void {
    const call = this.calls.get(id);
    if (!call) return;
    this.calls.delete(id);
    this.port.clock.clearTimeout(call.timer);
    if (ok) {
      call.resolve(body);
      return;
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as { code?: unknown; message?: unknown };
    const code = b.code === 'ERR_CALL_TIMEOUT' ? 'ERR_CALL_TIMEOUT' : b.code === 'ERR_NOT_HOLDER' ? 'ERR_NOT_HOLDER' : 'ERR_CALL_FAILED';
    call.reject(new ClusterError(code, typeof b.message === 'string' ? b.message.slice(0, 500) : 'call failed'));
  }

  /** Fail every call waiting on node (it went down), or every call when node is undefined. */
  failCalls(node: string | undefined, message: string): void {
    for (const [id, call] of [...this.calls]) if (node === undefined || call.to === node) this.settle(id, false, { code: 'ERR_CALL_FAILED', message });
  }
}
