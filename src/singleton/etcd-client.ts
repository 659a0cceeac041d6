// etcd client: the few calls of etcd's v3 HTTP/JSON gateway the etcd lease needs,
// over Node's fetch. The only module that talks to etcd.
// - Bounded: every request has a deadline (AbortSignal), every answer is read up to
//   ETCD_MAX_RESPONSE_BYTES (a whole body, or one line of a watch stream) and parsed
//   only then; a longer one is cut off and refused.
// - Several endpoints: a request tries them in turn, starting at the last one that
//   answered; it fails with ERR_ETCD_UNREACHABLE only when none answered.
// - Authentication (user and password): a token from /v3/auth/authenticate, sent as
//   the Authorization header, fetched again once when etcd says it is invalid.
// - TLS: https:// endpoints use Node's trust store (NODE_EXTRA_CA_CERTS for a private CA).
// Invariant: no request outlives its deadline or its caller's signal; a watch ends
// when its signal aborts.
import { ClusterError, describeError } from '../errors.js';
import { cleanText } from '../util/untrusted.js';
import { errorMessage, ETCD_MAX_RESPONSE_BYTES, EtcdResponseError } from './etcd-wire.js';

/** How to reach etcd. */
export interface EtcdClientOptions {
  /** Client URLs, e.g. ['http://127.0.0.1:2379']; tried in turn. */
  endpoints: readonly string[];
  /** User name for etcd's authentication; none by default. */
  username?: string;
  /** Password of that user. */
  password?: string;
}

/** etcd could not be reached at any endpoint (or did not answer in time). */
export class EtcdUnreachableError extends ClusterError {
  constructor(message: string, cause?: unknown) {
    super('ERR_ETCD_UNREACHABLE', message, { cause });
  }
}

/** A validated list of endpoints: http(s) URLs without credentials, path or query; throws ERR_CONFIG otherwise. */
export function parseEndpoints(list: readonly string[]): string[] {
  if (list.length === 0 || list.length > 16) throw new ClusterError('ERR_CONFIG', 'give 1 to 16 etcd endpoints, for example http://127.0.0.1:2379');
  return list.map((e) => {
    let u: URL;
    try {
      u = new URL(e);
    } catch {
      throw new ClusterError('ERR_CONFIG', `an etcd endpoint must be a URL like http://127.0.0.1:2379, got "${cleanText(e, 80)}"`);
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
      throw new ClusterError('ERR_CONFIG', `an etcd endpoint must be http:// or https:// with host and port only, got "${cleanText(e, 80)}"`);
    }
    return `${u.protocol}//${u.host}`;
  });
}

/** Read a body (or stream) up to max bytes; refuse more. */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new EtcdResponseError(`etcd answered with ${declared} bytes, more than ${max}`);
  }
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new EtcdResponseError(`etcd answered with more than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new EtcdResponseError(`etcd answered with something that is not JSON (${text.length} characters: "${cleanText(text, 40)}")`);
  }
}

/** A small client of etcd's v3 JSON gateway. */
export class EtcdClient {
  private readonly endpoints: string[];
  private current = 0;
  private token: string | undefined;

  constructor(private readonly o: EtcdClientOptions) {
    this.endpoints = parseEndpoints(o.endpoints);
  }

  /** The endpoints, for messages. */
  describe(): string {
    return this.endpoints.join(',');
  }

  /** POST body to path and return the parsed JSON answer; throws EtcdUnreachableError or EtcdResponseError. */
  async call(path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    return this.send(path, body, timeoutMs, signal);
  }

  /**
   * Open a watch (POST /v3/watch) and hand each message to onMessage until signal
   * aborts, the stream ends, or onMessage returns true. Throws like call().
   */
  async watch(body: unknown, signal: AbortSignal, onMessage: (msg: unknown) => boolean): Promise<void> {
    const res = await this.open('/v3/watch', body, signal);
    const reader = res.body?.getReader();
    if (!reader) return;
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        pending += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line && onMessage(parseJson(line))) return;
        }
        if (pending.length > ETCD_MAX_RESPONSE_BYTES) throw new EtcdResponseError(`etcd sent a watch message longer than ${ETCD_MAX_RESPONSE_BYTES} bytes`);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ClusterError) throw err;
      throw new EtcdUnreachableError(`the etcd watch broke: ${describeError(err)}`, err);
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  private async send(path: string, body: unknown, timeoutMs: number, signal: AbortSignal | undefined, retried = false): Promise<unknown> {
    const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
    const res = await this.open(path, body, signal ? AbortSignal.any([deadline, signal]) : deadline);
    let text: string;
    try {
      text = await readBounded(res, ETCD_MAX_RESPONSE_BYTES);
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      throw new EtcdUnreachableError(`etcd at ${this.endpoints[this.current]} did not finish its answer: ${describeError(err)}`, err);
    }
    const json = parseJson(text);
    if (res.ok) return json;
    const message = errorMessage(json);
    if (!retried && this.o.username !== undefined && /auth token|token is invalid|unauthenticated/i.test(message)) {
      this.token = undefined;
      return this.send(path, body, timeoutMs, signal, true);
    }
    throw new EtcdResponseError(`etcd refused ${path} (HTTP ${res.status}): ${message}`);
  }

  /** Open a POST at the first endpoint that answers (headers received), starting with the last good one. */
  private async open(path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    const payload = JSON.stringify(body);
    const errors: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const idx = (this.current + i) % this.endpoints.length;
      const endpoint = this.endpoints[idx]!;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        const token = await this.authToken(endpoint, signal);
        if (token) headers.authorization = token;
        const res = await fetch(endpoint + path, { method: 'POST', body: payload, headers, signal });
        this.current = idx;
        return res;
      } catch (err) {
        if (signal.aborted && (signal.reason as { name?: string } | undefined)?.name !== 'TimeoutError') throw new EtcdUnreachableError('request cancelled', err);
        if (err instanceof EtcdResponseError) throw err;
        const cause = (err as { cause?: unknown }).cause;
        errors.push(`${endpoint}: ${describeError(cause ?? err)}`);
        if (signal.aborted) break;
      }
    }
    throw new EtcdUnreachableError(`etcd unreachable (${errors.join('; ')})`);
  }

  private async authToken(endpoint: string, signal: AbortSignal): Promise<string | undefined> {
    if (this.o.username === undefined) return undefined;
    if (this.token) return this.token;
    const res = await fetch(endpoint + '/v3/auth/authenticate', {
      method: 'POST',
      body: JSON.stringify({ name: this.o.username, password: this.o.password ?? '' }),
      headers: { 'content-type': 'application/json' },
      signal,
    });
    const json = parseJson(await readBounded(res, ETCD_MAX_RESPONSE_BYTES));
    if (!res.ok) throw new EtcdResponseError(`etcd refused the user ${cleanText(this.o.username, 64)}: ${errorMessage(json)}`);
    const token = (json as { token?: unknown }).token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096 || cleanText(token) !== token) throw new EtcdResponseError('etcd answered the authentication without a usable token');
    this.token = token;
    return token;
  }
}
