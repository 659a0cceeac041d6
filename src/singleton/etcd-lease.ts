// etcd lease: the etcd v3 lease backend of a failover Singleton (lease.ts), modelled on
// etcd's concurrency.Election.
// - Acquire: read the election key; while another holds it, watch it until it is
//   deleted (its holder revoked its lease, or the lease expired). Then grant a lease
//   with the TTL of etcd-tenure.ts and create the key on it in one compare-and-swap
//   transaction (create revision 0 -> put); the one transaction that wins starts a
//   tenure, the others watch again. A lease whose creation failed is revoked.
// - Fencing token: the key's create revision (the transaction's revision). Every
//   creation is a new, higher revision of the store, so tokens strictly increase (not
//   consecutively).
// - Holding: a keepalive every third of the TTL, each followed by a read that the key
//   is still ours (same create revision). The tenure is valid until holdDeadline (last
//   successful keepalive's send time + TTL - margin, on the injected clock): valid()
//   checks it at every call, and a timer ends the tenure there. A keepalive answered
//   with TTL 0 (the lease expired, as after a freeze) or a key that is gone or
//   re-created ends the tenure at once.
// - Release (stop, SIGTERM): revoke the lease; etcd deletes the key, and the standbys'
//   watches see it within milliseconds.
// - etcd unreachable: a standby says so once per outage (error) and retries with
//   backoff; a holder keeps trying to renew until its deadline, then stops.
// Invariant: valid() is true only between winning the key and holdDeadline of the last
// successful keepalive, and never again for that tenure once it turned false.
import { describeError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { cleanText } from '../util/untrusted.js';
import { EtcdClient } from './etcd-client.js';
import type { EtcdClientOptions } from './etcd-client.js';
import { b64, createIfAbsentRequest, parseCreate, parseGrant, parseKeepalive, parseRange, parseWatchMessage } from './etcd-wire.js';
import type { EtcdKey } from './etcd-wire.js';
import { etcdRequestTimeoutMs, etcdRetryMs, etcdTtlSeconds, holdDeadline, keepaliveIntervalMs, watchRenewMs } from './etcd-tenure.js';
import type { LeaseBackend, LeaseEvents, LeaseHolder, LeaseTenure } from './lease.js';

/** Default key prefix of election keys: `/cluster-node/`; the key is prefix + cluster label + '/' + Singleton name. */
export const DEFAULT_ETCD_PREFIX = '/cluster-node/';

/** How a Singleton reaches etcd (the library option `etcd` of a Singleton; the CLI's --etcd-*). */
export interface EtcdLeaseOptions extends EtcdClientOptions {
  /** Prefix of the election keys; default DEFAULT_ETCD_PREFIX. */
  prefix?: string;
}

/** What the etcd lease needs from its node. */
export interface EtcdLeaseSettings extends EtcdLeaseOptions {
  /** This node's name (the election key's value). */
  self: string;
  /** The Singleton's name. */
  name: string;
  /** The cluster label (part of the key, so clusters sharing an etcd do not meet). */
  cluster: string;
  clock: Clock;
  logger: Logger;
  /** The node's failure timeout (ms): the lease's TTL follows it. */
  failureTimeoutMs: number;
}

type Phase = 'idle' | 'standby' | 'held' | 'closed';

/** A failover Singleton's lease held in etcd v3. */
export class EtcdLease implements LeaseBackend {
  readonly kind = 'etcd' as const;
  /** The election key. */
  readonly key: string;
  private readonly client: EtcdClient;
  private readonly ttlS: number;
  private phase: Phase = 'idle';
  private leaseId: string | undefined;
  private token = 0;
  private deadline = -Infinity;
  private events: LeaseEvents | undefined;
  private keepTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private readonly closing = new AbortController();
  /** Set while etcd cannot be reached (the error was logged once). */
  private outage = false;
  /** Set while renewals fail (a warning was logged once). */
  private renewFailing = false;
  private holderNoted = '';
  /** Set when a watch saw the key deleted: the next attempt goes straight to the transaction. */
  private keyFreed = false;

  constructor(private readonly s: EtcdLeaseSettings) {
    this.client = new EtcdClient(s);
    this.ttlS = etcdTtlSeconds(s.failureTimeoutMs);
    this.key = `${s.prefix ?? DEFAULT_ETCD_PREFIX}${s.cluster}/${s.name}`;
  }

  async acquire(signal: AbortSignal, events: LeaseEvents): Promise<LeaseTenure | undefined> {
    if (this.phase === 'closed' || signal.aborted) return undefined;
    this.phase = 'standby';
    const stop = AbortSignal.any([signal, this.closing.signal]);
    let failures = 0;
    while (!stop.aborted) {
      try {
        const tenure = await this.attempt(stop);
        this.reachable();
        failures = 0;
        if (tenure) {
          this.events = events;
          return tenure;
        }
      } catch (err) {
        if (stop.aborted) break;
        failures++;
        this.unreachable(err);
        await this.sleep(etcdRetryMs(failures), stop);
      }
    }
    return undefined;
  }

  async renew(): Promise<boolean> {
    await this.keepalive();
    return this.valid();
  }

  valid(): boolean {
    return this.phase === 'held' && this.s.clock.now() < this.deadline;
  }

  async release(): Promise<void> {
    const id = this.leaseId;
    this.leaseId = undefined;
    this.endHold();
    if (this.phase === 'held') this.phase = 'idle';
    if (id) await this.revoke(id);
  }

  async holder(): Promise<LeaseHolder | undefined> {
    const r = parseRange(await this.client.call('/v3/kv/range', { key: b64(this.key) }, etcdRequestTimeoutMs(this.ttlS)));
    return r.key ? { owner: r.key.owner, token: r.key.createRevision } : undefined;
  }

  /** etcd's lease TTL decides, not the cluster's failure detector: nobody to watch for it. */
  watch(): string[] {
    return [];
  }

  close(): void {
    this.phase = 'closed';
    this.closing.abort();
    this.endHold();
  }

  // ---- standing ------------------------------------------------------------------

  /**
   * One round: the key held by another -> watch it (undefined); free -> try to create
   * it. Right after a watch saw the key deleted, the read is skipped: the transaction
   * reads the key anyway when it finds it taken, and a handover costs one round trip less.
   */
  private async attempt(stop: AbortSignal): Promise<LeaseTenure | undefined> {
    const timeout = etcdRequestTimeoutMs(this.ttlS);
    const freed = this.keyFreed;
    this.keyFreed = false;
    if (!freed) {
      const read = parseRange(await this.client.call('/v3/kv/range', { key: b64(this.key) }, timeout, stop));
      if (read.key) {
        await this.standBy(read.key, read.revision, stop);
        return undefined;
      }
    }
    const sentAt = this.s.clock.now();
    const grant = parseGrant(await this.client.call('/v3/lease/grant', { TTL: this.ttlS }, timeout, stop));
    let created;
    try {
      created = parseCreate(await this.client.call('/v3/kv/txn', createIfAbsentRequest(this.key, this.s.self, grant.id), timeout, stop));
    } catch (err) {
      // It may have been created on our lease without our hearing so: give the lease back.
      void this.revoke(grant.id);
      throw err;
    }
    if (!created.succeeded) {
      void this.revoke(grant.id);
      if (created.held) await this.standBy(created.held, created.revision, stop);
      return undefined;
    }
    const deadline = holdDeadline(sentAt, grant.ttlS);
    if (stop.aborted || this.phase !== 'standby' || this.s.clock.now() >= deadline) {
      await this.revoke(grant.id);
      return undefined;
    }
    this.phase = 'held';
    this.leaseId = grant.id;
    this.token = created.revision;
    this.deadline = deadline;
    this.renewFailing = false;
    this.holderNoted = '';
    this.scheduleDeadline();
    this.scheduleKeepalive(keepaliveIntervalMs(grant.ttlS));
    return { token: created.revision };
  }

  /** Watch a held key from revision+1 until it is deleted, the watch breaks, or watchRenewMs passes. */
  private async standBy(held: EtcdKey, revision: number, stop: AbortSignal): Promise<void> {
    this.noteHolder(held);
    const done = new AbortController();
    const timer = this.s.clock.setTimeout(() => done.abort(), watchRenewMs(this.ttlS));
    try {
      await this.client.watch({ create_request: { key: b64(this.key), start_revision: String(revision + 1) } }, AbortSignal.any([stop, done.signal]), (raw) => {
        const msg = parseWatchMessage(raw);
        if (msg.events.some((e) => e.type === 'DELETE')) this.keyFreed = true;
        return this.keyFreed || msg.canceled;
      });
    } finally {
      this.s.clock.clearTimeout(timer);
    }
  }

  /** A standby says who holds the name, once per change of holder or token. */
  private noteHolder(held: EtcdKey): void {
    const key = `${held.owner}#${held.createRevision}`;
    if (key === this.holderNoted || held.owner === this.s.self) return;
    this.holderNoted = key;
    this.s.logger.info(`${this.s.name} is held by ${held.owner}, etcd revision ${held.createRevision}; this node stands by`, { name: this.s.name, holder: held.owner, epoch: held.createRevision });
  }

  private unreachable(err: unknown): void {
    if (this.outage) return;
    this.outage = true;
    this.s.logger.error(`${this.s.name}: cannot use etcd at ${this.client.describe()}: ${describeError(err)}; this node stays a standby and keeps trying`, { name: this.s.name, code: (err as { code?: string }).code });
  }

  private reachable(): void {
    if (!this.outage) return;
    this.outage = false;
    this.s.logger.info(`${this.s.name}: etcd at ${this.client.describe()} answers again`, { name: this.s.name });
  }

  // ---- holding -------------------------------------------------------------------

  private scheduleKeepalive(ms: number): void {
    this.s.clock.clearTimeout(this.keepTimer);
    this.keepTimer = this.s.clock.setTimeout(() => void this.keepalive(), ms);
  }

  private scheduleDeadline(): void {
    this.s.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.s.clock.setTimeout(() => {
      if (this.phase === 'held' && this.s.clock.now() >= this.deadline) this.lose(this.overdue());
    }, this.deadline - this.s.clock.now());
  }

  /**
   * Why a tenure past its deadline ends: a timer that fires more than a keepalive period
   * late means this node itself was unresponsive (frozen, or its loop stalled);
   * otherwise the renewals did not get through.
   */
  private overdue(): string {
    const late = this.s.clock.now() - this.deadline;
    return late > keepaliveIntervalMs(this.ttlS)
      ? `this node was unresponsive past its etcd lease (by ${Math.round(late)} ms); it may have been replaced`
      : `its etcd lease could not be renewed within its TTL (${this.ttlS} s)`;
  }

  /** One renewal: keepalive, then check the key is still ours; extends the deadline on success. */
  private async keepalive(): Promise<void> {
    const id = this.leaseId;
    if (this.phase !== 'held' || !id) return;
    const token = this.token;
    const sentAt = this.s.clock.now();
    const timeout = etcdRequestTimeoutMs(this.ttlS);
    try {
      if (sentAt >= this.deadline) return this.lose(this.overdue());
      const ttlS = parseKeepalive(await this.client.call('/v3/lease/keepalive', { ID: id }, timeout, this.closing.signal));
      if (!this.holding(id, token)) return;
      if (ttlS <= 0) return this.lose('its etcd lease expired (this node was unresponsive or cut off from etcd); it may have been replaced');
      const read = parseRange(await this.client.call('/v3/kv/range', { key: b64(this.key) }, timeout, this.closing.signal));
      if (!this.holding(id, token)) return;
      if (!read.key || read.key.createRevision !== token) {
        return this.lose(read.key ? `superseded by ${cleanText(read.key.owner, 80)} (etcd revision ${read.key.createRevision})` : 'its election key is gone from etcd');
      }
      this.deadline = Math.max(this.deadline, holdDeadline(sentAt, ttlS));
      this.scheduleDeadline();
      if (this.renewFailing) {
        this.renewFailing = false;
        this.s.logger.info(`${this.s.name} (epoch ${token}): etcd lease renewed again`, { name: this.s.name, epoch: token });
      }
      this.scheduleKeepalive(Math.max(0, sentAt + keepaliveIntervalMs(ttlS) - this.s.clock.now()));
    } catch (err) {
      if (!this.holding(id, token)) return;
      if (!this.renewFailing) {
        this.renewFailing = true;
        this.s.logger.warn(`${this.s.name} (epoch ${token}): cannot renew the etcd lease: ${describeError(err)}; stopping in ${Math.max(0, Math.round(this.deadline - this.s.clock.now()))} ms unless a renewal gets through`, { name: this.s.name, epoch: token });
      }
      if (this.s.clock.now() >= this.deadline) return this.lose(this.overdue());
      this.scheduleKeepalive(Math.max(0, Math.min(sentAt + keepaliveIntervalMs(this.ttlS) / 2, this.deadline) - this.s.clock.now()));
    }
  }

  private holding(id: string, token: number): boolean {
    return this.phase === 'held' && this.leaseId === id && this.token === token;
  }

  /** The tenure ends: say why, stop the timers, and tell the supervisor (which stops the code, then releases). */
  private lose(why: string): void {
    if (this.phase !== 'held') return;
    this.s.logger.warn(`stale tenure of ${this.s.name} (epoch ${this.token}): ${why}; stopping`, { name: this.s.name, epoch: this.token });
    this.phase = 'standby';
    this.endHold();
    const events = this.events;
    this.events = undefined;
    events?.lost('stale tenure', true);
  }

  private endHold(): void {
    this.s.clock.clearTimeout(this.keepTimer);
    this.s.clock.clearTimeout(this.deadlineTimer);
    this.keepTimer = undefined;
    this.deadlineTimer = undefined;
    this.deadline = -Infinity;
  }

  /** Revoke a lease, best effort and bounded: a failure only means etcd expires it after its TTL. */
  private async revoke(id: string): Promise<void> {
    try {
      await this.client.call('/v3/lease/revoke', { ID: id }, etcdRequestTimeoutMs(this.ttlS));
    } catch (err) {
      this.s.logger.debug(`${this.s.name}: could not revoke etcd lease: ${describeError(err)} (it expires within ${this.ttlS} s)`, { name: this.s.name });
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.s.clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.s.clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
