// mDNS discovery: the socket shell around the pure record rules (mdns-records.ts),
// peer table (mdns-peers.ts) and interface selection (mdns-interfaces.ts), and the
// only importer of `multicast-dns`. It opens one
// multicast-dns socket per chosen IPv4 interface (all bound to 0.0.0.0:5353 with
// SO_REUSEADDR, joined and sending on that one interface), announces, answers, queries
// and says goodbye, and reports peers of our cluster (same public cluster label) to a
// DiscoverySink. Nothing it advertises is derived from the cookie. Given traffic
// counters, it makes the UDP sockets itself (as multicast-dns would) and counts every
// datagram in and out on them.
// Responses are accepted from the local link only (RFC 6762 §11): a response, multicast
// or unicast, whose source address is on none of our interfaces' subnets is dropped,
// counted, logged at debug, and warned about at most once a minute per interface. The
// RFC's other test (IP TTL 255) is out of reach because Node cannot read a datagram's
// TTL, so the source-subnet check is the rule; a sender on the link can still forge
// any source address, which is why every record is validated, TTLs are clamped, and
// goodbyes count only from the address the records came from (mdns-peers.ts). Queries
// from off the link are not answered either, so the node never reflects its records at
// an address beyond the link.
// Invariants: nothing thrown in a socket or timer callback escapes (every body is
// guarded); socket trouble is logged once per interface and error code, never per
// packet; no timers are left and no sink call is made after stop() resolves; a packet
// seen on several sockets (Linux delivers each multicast packet to every socket bound
// to the port) is acted on only by the socket of the interface whose subnet holds its
// source, and each socket answers only queries from its own subnets.
import makeMdns from 'multicast-dns';
import { networkInterfaces } from 'node:os';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { ClusterError, describeError } from '../errors.js';
import { isValidNodeName } from '../wire/messages.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Random } from '../util/random.js';
import type { Logger } from '../util/log.js';
import type { TrafficCounts } from '../util/traffic.js';
import type { Discovery, DiscoverySink } from './discovery.js';
import { classifySource, ipv4ToInt, onInterfaceSubnet, selectMdnsInterfaces, sysfsInterfaceFlags } from './mdns-interfaces.js';
import type { MdnsInterface, MdnsInterfaceSelection, SourceLink } from './mdns-interfaces.js';
import { MdnsPeerTable } from './mdns-peers.js';
import type { PeerTableResult } from './mdns-peers.js';
import {
  MDNS_RECORD_TTL_S,
  MDNS_SERVICE_TYPE,
  browseQuery,
  buildQuery,
  isValidClusterLabel,
  mdnsIdentity,
  parseResponse,
  queryAsksForUs,
  queryDelayMs,
  serviceRecords,
} from './mdns-records.js';
import type { MdnsIdentity, OutgoingQuery, OutgoingQuestion } from './mdns-records.js';
import { judgeSeenQuery, mayStandIn, nextResponseAt, responseDelayMs } from './mdns-suppression.js';

/** UDP port of multicast DNS. */
export const MDNS_PORT = 5353;
/** IPv4 multicast group of multicast DNS. */
export const MDNS_GROUP = '224.0.0.251';
/** Time between the two start-up announcements: 1 s. */
export const MDNS_ANNOUNCE_INTERVAL_MS = 1000;
export { MDNS_MIN_RESPONSE_INTERVAL_MS } from './mdns-suppression.js';
/** How long start() waits for the sockets to bind: 2 s. */
export const MDNS_BIND_TIMEOUT_MS = 2000;
/** How long stop() waits for goodbyes to be sent, and then for sockets to close: 1 s each. */
export const MDNS_STOP_STEP_TIMEOUT_MS = 1000;
/** How often the interfaces are listed again, to follow a cable plugged in (or an address given) after start: 3 s. */
export const MDNS_RESCAN_INTERVAL_MS = 3000;
/** Least time between two warnings about off-link responses on one interface: 60 s. */
export const MDNS_OFF_LINK_WARN_INTERVAL_MS = 60_000;
/** TTL of records in answers to legacy (non-5353) unicast queries, in seconds (RFC 6762 §6.7). */
const LEGACY_TTL_S = 10;
/** Most questions in one refresh or resolve query. */
const MAX_QUESTIONS_PER_SEND = 32;
/** What mdnsDiscovery needs. */
export interface MdnsOptions {
  /** Node name, e.g. "alice@host" (A-Za-z0-9_.- and one '@'). */
  name: string;
  /** Hex id of this boot; makes the instance name unique per boot. */
  incarnation: string;
  /** TCP port this node listens on (SRV port), 1..65535. */
  port: number;
  /**
   * Public cluster label (TXT `cluster`), 1 to 63 characters of A-Za-z0-9_-; only peers
   * with the same label are reported. Not a secret: the handshake checks the cookie.
   */
  cluster: string;
  /** IPv4 address of the one interface to use; default every multicast-capable IPv4 interface. */
  interface?: string;
  /** Longest interval between browse queries in ms (they go out at start, then 1 s, 2 s, 4 s ...); config default 60 000. */
  queryMaxIntervalMs: number;
  /** Source of time and timers (every timer of this module goes through it). */
  clock: Clock;
  /** Source of jitter. */
  random: Random;
  /** Where warnings (once per interface and error code) and debug lines go. */
  logger: Logger;
  /** Announce and answer for ourselves; default true. False: only browse (a hidden node, which nobody should dial). */
  announce?: boolean;
  /** Counters every datagram sent or received on our sockets is added to; default none. */
  traffic?: TrafficCounts;
}

/** Discover peers of our cluster with mDNS / DNS-SD. Throws ERR_CONFIG on bad options. */
export function mdnsDiscovery(options: MdnsOptions): Discovery {
  const bad = (what: string): never => {
    throw new ClusterError('ERR_CONFIG', `mdnsDiscovery: ${what}`);
  };
  if (typeof options.name !== 'string' || !isValidNodeName(options.name)) bad(`name ${JSON.stringify(options.name)} is not a node name (name@host)`);
  if (typeof options.incarnation !== 'string' || !/^[0-9a-fA-F]{1,64}$/.test(options.incarnation)) bad('incarnation must be 1 to 64 hex digits');
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) bad(`port ${options.port} must be the bound TCP port, 1..65535`);
  if (!isValidClusterLabel(options.cluster)) bad('cluster must be 1 to 63 characters of A-Za-z0-9_-');
  if (options.interface !== undefined && ipv4ToInt(options.interface) === undefined) bad(`interface ${JSON.stringify(options.interface)} must be an IPv4 address such as 192.168.1.10`);
  if (!Number.isFinite(options.queryMaxIntervalMs) || options.queryMaxIntervalMs <= 0) bad('queryMaxIntervalMs must be a positive number of milliseconds');
  return new MdnsDiscovery(options);
}

type MulticastDns = ReturnType<typeof makeMdns>;

/**
 * The UDP socket multicast-dns would make itself (udp4, SO_REUSEADDR), with every
 * datagram in and out added to traffic. multicast-dns sends with
 * send(buffer, offset, length, port, address, cb).
 */
function countedSocket(traffic: TrafficCounts): Socket {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  socket.on('message', (msg: Buffer) => {
    traffic.mdnsPacketsIn++;
    traffic.mdnsBytesIn += msg.length;
  });
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  (socket as { send: (...args: unknown[]) => void }).send = (...args: unknown[]): void => {
    const msg = args[0];
    traffic.mdnsPacketsOut++;
    traffic.mdnsBytesOut += typeof args[2] === 'number' ? args[2] : Buffer.isBuffer(msg) ? msg.length : 0;
    send(...args);
  };
  return socket;
}
type SendCallback = (err: Error | null) => void;

interface Endpoint {
  iface: MdnsInterface;
  mdns: MulticastDns | undefined;
  /** Bound to the port. */
  ready: boolean;
  /** Joined the group on its interface (multicast-dns then also sets the outgoing interface). */
  joined: boolean;
  /** Unusable (bind failed); destroyed. */
  dead: boolean;
  announcing: boolean;
  bound: Promise<void>;
  lastResponseAt: number;
  lastLegacyAt: number;
  responseTimer: TimerHandle | undefined;
  /** Responses dropped because their source was off-link, and when we last warned about it. */
  offLinkDropped: number;
  offLinkWarnedAt: number;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

class MdnsDiscovery implements Discovery {
  private readonly opts: MdnsOptions;
  private readonly log: Logger;
  private readonly id: MdnsIdentity;
  private readonly table: MdnsPeerTable;
  private readonly endpoints: Endpoint[] = [];
  private readonly timers = new Set<TimerHandle>();
  private readonly warned = new Set<string>();
  private state: State = 'new';
  private sink: DiscoverySink | undefined;
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private queryAttempt = 0;
  private queryTimer: TimerHandle | undefined;
  /** When we last sent a browse query ourselves, when one was last sent or treated as sent, and when the next is due. */
  private lastOwnBrowseAt = -Infinity;
  private lastBrowseAt = -Infinity;
  private browseDueAt = Infinity;
  /** Browse queries sent, and ones treated as sent because another node's stood in (RFC 6762 §7.3). */
  private browseSent = 0;
  private browseSuppressed = 0;
  private deadlineTimer: TimerHandle | undefined;
  private deadlineAt: number | undefined;

  constructor(opts: MdnsOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'mdns' });
    this.id = mdnsIdentity(opts.name, opts.incarnation, opts.port, opts.cluster);
    this.table = new MdnsPeerTable({
      isPreferredAddress: (a) => this.endpoints.some((ep) => !ep.dead && onInterfaceSubnet(ep.iface, a)),
      jitter01: () => opts.random.float(),
    });
  }

  start(sink: DiscoverySink): Promise<void> {
    if (this.state !== 'new') {
      return Promise.reject(new ClusterError('ERR_CONFIG', 'mDNS discovery was already started; create a new one with mdnsDiscovery()'));
    }
    this.state = 'starting';
    this.sink = sink;
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private active(): boolean {
    return this.state === 'running';
  }

  private select(): MdnsInterfaceSelection {
    try {
      return selectMdnsInterfaces(networkInterfaces(), sysfsInterfaceFlags(), this.opts.interface);
    } catch (err) {
      return { chosen: [], warnings: [`cannot list network interfaces (${describeError(err)}); mDNS discovery is off; --seed still works`] };
    }
  }

  private async doStart(): Promise<void> {
    const selection = this.select();
    for (const w of selection.warnings) this.log.warn(`mDNS: ${w}`);
    for (const iface of selection.chosen) this.open(iface);
    await this.within(
      this.endpoints.map((ep) => ep.bound),
      MDNS_BIND_TIMEOUT_MS,
    );
    if (this.state !== 'starting') return; // stop() came first
    this.state = 'running';
    this.scheduleRescan();
    this.scheduleQuery();
    if (selection.chosen.length === 0) {
      this.log.debug('mDNS: no interface yet; checking again every few seconds');
      return;
    }
    const live = this.endpoints.filter((ep) => !ep.dead);
    if (live.length === 0) {
      this.log.warn('mDNS: unavailable on every interface; discovery by --seed still works');
      return;
    }
    this.log.info('mDNS discovery started', {
      instance: this.id.instance,
      interfaces: live.map((ep) => `${ep.iface.name} (${ep.iface.address})`).join(', '),
    });
    for (const ep of live) if (ep.ready && ep.joined) this.announce(ep);
  }

  /**
   * Follow the machine's interfaces: one that appears (a cable plugged in after start;
   * Node lists no interface without carrier) gets an endpoint, which announces and
   * queries at once; one that disappears loses its endpoint.
   */
  private scheduleRescan(): void {
    this.later(() => {
      if (!this.active()) return;
      const chosen = this.select().chosen;
      const wanted = new Set(chosen.map((i) => i.address));
      for (const ep of [...this.endpoints]) {
        if (wanted.has(ep.iface.address)) continue;
        this.endpoints.splice(this.endpoints.indexOf(ep), 1);
        if (!ep.dead) {
          this.log.warn(`mDNS: interface ${this.where(ep)} is down or gone; mDNS resumes there when it is back (--seed still works)`);
          void this.destroy(ep);
        }
      }
      const have = new Set(this.endpoints.map((ep) => ep.iface.address));
      for (const iface of chosen) {
        if (have.has(iface.address)) continue;
        this.log.info(`mDNS: interface ${iface.name} (${iface.address}) is up; announcing and querying there`, { instance: this.id.instance });
        this.open(iface);
        this.queryAttempt = 0;
        this.later(() => this.sendBrowse(), 200);
      }
      this.scheduleRescan();
    }, MDNS_RESCAN_INTERVAL_MS);
  }

  private async doStop(): Promise<void> {
    const previous = this.state;
    this.state = 'stopping';
    if (previous === 'new') {
      this.state = 'stopped';
      return;
    }
    await this.startPromise?.catch(() => undefined);
    this.clearTimers();
    const goodbyes = this.endpoints
      .filter((ep) => ep.ready && ep.joined && !ep.dead && this.opts.announce !== false)
      .map(
        (ep) =>
          new Promise<void>((resolve) => {
            const records = serviceRecords(this.id, ep.iface.addresses.map((a) => a.address), 0);
            if (!this.send(ep, (m, cb) => m.respond({ answers: records }, cb), resolve)) resolve();
          }),
      );
    await this.within(goodbyes, MDNS_STOP_STEP_TIMEOUT_MS);
    await this.within(this.endpoints.map((ep) => this.destroy(ep)), MDNS_STOP_STEP_TIMEOUT_MS);
    this.clearTimers();
    this.state = 'stopped';
    this.log.debug('mDNS discovery stopped', { browseQueriesSent: this.browseSent, browseQueriesSuppressed: this.browseSuppressed });
  }

  // ---- sockets ----

  private open(iface: MdnsInterface): void {
    let markBound: () => void = () => undefined;
    const ep: Endpoint = {
      iface,
      mdns: undefined,
      ready: false,
      joined: false,
      dead: false,
      announcing: false,
      bound: new Promise<void>((resolve) => (markBound = resolve)),
      lastResponseAt: -Infinity,
      lastLegacyAt: -Infinity,
      responseTimer: undefined,
      offLinkDropped: 0,
      offLinkWarnedAt: -Infinity,
    };
    this.endpoints.push(ep);
    let m: MulticastDns;
    try {
      // bind to 0.0.0.0: a socket bound to the interface's unicast address would never see multicast.
      const socket = this.opts.traffic ? countedSocket(this.opts.traffic) : undefined;
      m = makeMdns({ interface: iface.address, bind: '0.0.0.0', port: MDNS_PORT, reuseAddr: true, loopback: true, ttl: 255, ...(socket ? { socket } : {}) });
    } catch (err) {
      this.warnOnce(ep, 'create', `mDNS cannot open a socket for interface ${this.where(ep)}: ${describeError(err)}; use --seed for static peers`);
      ep.dead = true;
      markBound();
      return;
    }
    ep.mdns = m;
    m.on('ready', () =>
      this.guard('ready', () => {
        ep.ready = true;
        markBound();
      }),
    );
    m.on('networkInterface', () =>
      this.guard('networkInterface', () => {
        ep.joined = true;
        if (this.active() && ep.ready) this.announce(ep);
      }),
    );
    m.on('error', (err: Error) =>
      this.guard('error', () => {
        const code = errorCode(err);
        this.warnOnce(
          ep,
          `error:${code}`,
          `mDNS cannot bind UDP port ${MDNS_PORT} for interface ${this.where(ep)}: ${code}` +
            (code === 'EADDRINUSE' ? ' (another program holds it without SO_REUSEADDR)' : '') +
            '; mDNS is off there, use --seed for static peers',
        );
        ep.dead = true;
        markBound();
        void this.destroy(ep);
      }),
    );
    m.on('warning', (err: Error) => this.guard('warning', () => this.onWarning(ep, err)));
    m.on('response', (packet: unknown, rinfo: RemoteInfo) => this.guard('response', () => this.onResponse(ep, packet, rinfo)));
    m.on('query', (packet: unknown, rinfo: RemoteInfo) => this.guard('query', () => this.onQuery(ep, packet, rinfo)));
  }

  private destroy(ep: Endpoint): Promise<void> {
    ep.dead = true;
    const m = ep.mdns;
    if (!m) return Promise.resolve();
    return new Promise<void>((resolve) => {
      try {
        m.destroy(() => resolve());
      } catch {
        resolve(); // the socket was already closed
      }
    });
  }

  /** Send through ep if it can send; returns false (and never calls done) when it cannot. */
  private send(ep: Endpoint, fn: (m: MulticastDns, cb: SendCallback) => void, done?: () => void): boolean {
    const m = ep.mdns;
    if (!m || ep.dead || !ep.ready || !ep.joined) return false;
    const cb: SendCallback = (err) =>
      this.guard('send', () => {
        if (err) this.warnOnce(ep, `send:${errorCode(err)}`, `mDNS cannot send on interface ${this.where(ep)}: ${errorCode(err)}; use --seed for static peers`);
        done?.();
      });
    try {
      fn(m, cb);
    } catch (err) {
      cb(err instanceof Error ? err : new Error(String(err)));
    }
    return true;
  }

  private onWarning(ep: Endpoint, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') {
      this.log.debug('mDNS: ignored an undecodable packet', { iface: ep.iface.name, error: describeError(err).slice(0, 120) });
      return;
    }
    const syscall = (err as NodeJS.ErrnoException).syscall;
    if (syscall === 'addMembership') {
      this.warnOnce(ep, `join:${code}`, `mDNS cannot join ${MDNS_GROUP} on interface ${this.where(ep)}: ${code}; will retry every 5 s, use --seed for static peers`);
    } else {
      this.warnOnce(ep, `warning:${code}`, `mDNS socket problem on interface ${this.where(ep)}: ${code}${syscall ? ` (${syscall})` : ''}`);
    }
  }

  // ---- protocol ----

  private onResponse(ep: Endpoint, packet: unknown, rinfo: RemoteInfo): void {
    if (!this.active()) return;
    if (rinfo.port !== MDNS_PORT) return; // RFC 6762 §6: responses must come from port 5353
    const link = this.linkOf(ep, rinfo.address);
    if (link === 'other-link') return; // the endpoint of that link acts on its own copy
    if (link === 'off-link') {
      this.offLink(ep, rinfo.address);
      return;
    }
    const parsed = parseResponse(packet, this.id);
    if (parsed.rejected.length > 0) {
      this.log.debug('mDNS: ignored malformed records', { from: rinfo.address, iface: ep.iface.name, reasons: parsed.rejected.slice(0, 3) });
    }
    for (const f of parsed.foreign) {
      this.log.debug('mDNS: ignored an instance of another cluster or version', { instance: f.instance, reason: f.reason, from: rinfo.address });
    }
    if (parsed.ptrs.length + parsed.srvs.length + parsed.txts.length + parsed.addresses.length + parsed.foreign.length === 0) return;
    const res = this.table.apply(parsed, this.opts.clock.now(), rinfo.address);
    if (res.ignoredGoodbyes.length > 0) {
      this.log.debug('mDNS: ignored a goodbye from another address than the records came from', {
        from: rinfo.address,
        names: res.ignoredGoodbyes.slice(0, 3).map((n) => n.slice(0, 80)),
      });
    }
    this.handle(res);
  }

  /** Drop a response from an off-link source: count it, debug each, warn once a minute per interface. */
  private offLink(ep: Endpoint, from: string): void {
    ep.offLinkDropped++;
    this.log.debug('mDNS: dropped a response from an off-link source', { from, iface: ep.iface.name });
    const now = this.opts.clock.now();
    if (now - ep.offLinkWarnedAt < MDNS_OFF_LINK_WARN_INTERVAL_MS) return;
    ep.offLinkWarnedAt = now;
    this.log.warn(
      `mDNS: ignoring responses from ${from}, which is not on the subnet of interface ${this.where(ep)} (RFC 6762 §11: only the local link may answer); ${ep.offLinkDropped} dropped so far`,
    );
  }

  private onQuery(ep: Endpoint, packet: unknown, rinfo: RemoteInfo): void {
    if (!this.active()) return;
    const link = this.linkOf(ep, rinfo.address);
    if (rinfo.port === MDNS_PORT && link === 'this-link') this.maybeSuppressBrowse(packet);
    if (this.opts.announce === false) return;
    if (!queryAsksForUs(this.id, packet)) return;
    if (link === 'other-link') return; // the endpoint of that link answers its own copy
    if (link === 'off-link') {
      // Never answer off the link (RFC 6762 §11): a unicast answer would reflect our records at any address.
      this.log.debug('mDNS: ignored a query from an off-link source', { from: rinfo.address, iface: ep.iface.name });
      return;
    }
    if (rinfo.port === MDNS_PORT) {
      this.respondSoon(ep, responseDelayMs(this.opts.random.float()));
      return;
    }
    // Legacy unicast query (RFC 6762 §6.7), e.g. `dig -p 5353 @224.0.0.251`: answer it directly.
    const now = this.opts.clock.now();
    if (now - ep.lastLegacyAt < 200) return;
    ep.lastLegacyAt = now;
    const p = packet as { id?: unknown; questions?: unknown };
    const id = typeof p.id === 'number' && Number.isInteger(p.id) ? p.id & 0xffff : 0;
    const questions = Array.isArray(p.questions) ? (p.questions as unknown[]).slice(0, 1).filter(isOwnQuestion(this.id)) : [];
    const answers = serviceRecords(this.id, ep.iface.addresses.map((a) => a.address), LEGACY_TTL_S);
    this.send(ep, (m, cb) => m.respond({ id, questions, answers }, { port: rinfo.port, address: rinfo.address }, cb));
  }

  /** Where src lies as seen from ep (see classifySource): ep's own link, another endpoint's link, or off-link. */
  private linkOf(ep: Endpoint, src: string): SourceLink {
    return classifySource(ep.iface, this.endpoints.filter((o) => o !== ep && !o.dead).map((o) => o.iface), src);
  }

  private announce(ep: Endpoint): void {
    if (ep.announcing || this.opts.announce === false) return;
    ep.announcing = true;
    this.respondSoon(ep, 0);
    this.later(() => this.respondSoon(ep, 0), MDNS_ANNOUNCE_INTERVAL_MS);
  }

  /** Multicast our records on ep after delayMs, at most once per second, coalescing requests. */
  private respondSoon(ep: Endpoint, delayMs: number): void {
    if (ep.responseTimer || !this.active()) return;
    const now = this.opts.clock.now();
    const due = nextResponseAt(now, delayMs, ep.lastResponseAt);
    ep.responseTimer = this.later(() => {
      ep.responseTimer = undefined;
      if (!this.active()) return;
      ep.lastResponseAt = this.opts.clock.now();
      const answers = serviceRecords(this.id, ep.iface.addresses.map((a) => a.address), MDNS_RECORD_TTL_S);
      this.send(ep, (m, cb) => m.respond({ answers }, cb));
    }, Math.ceil(due - now));
  }

  private scheduleQuery(): void {
    this.cancel(this.queryTimer);
    const delay = queryDelayMs(this.queryAttempt, this.opts.queryMaxIntervalMs, this.opts.random.float());
    this.browseDueAt = this.opts.clock.now() + delay;
    this.queryTimer = this.later(() => {
      this.queryTimer = undefined;
      this.queryAttempt++;
      this.sendBrowse();
      this.scheduleQuery();
    }, delay);
  }

  /** Send a browse query with as many known answers as fit in one packet. */
  private sendBrowse(): void {
    const now = this.opts.clock.now();
    this.lastOwnBrowseAt = now;
    this.lastBrowseAt = now;
    this.browseSent++;
    this.sendQuery(browseQuery(this.id, this.table.knownAnswers(now)));
  }

  /**
   * Duplicate question suppression (RFC 6762 §7.3): another node's browse query that
   * lists nothing we do not know stands in for our next one, which is treated as sent
   * (the schedule moves on from now). Only with one interface (the query stands in on
   * its own link only), and when mayStandIn says our next one is planned.
   */
  private maybeSuppressBrowse(packet: unknown): void {
    if (!this.queryTimer) return;
    // Our browse query goes out on every interface; another's stands in for it on its own link only.
    if (this.endpoints.filter((ep) => !ep.dead).length !== 1) return;
    const now = this.opts.clock.now();
    const schedule = { lastOwnAtMs: this.lastOwnBrowseAt, lastAtMs: this.lastBrowseAt, dueAtMs: this.browseDueAt };
    if (!mayStandIn(now, schedule, this.opts.queryMaxIntervalMs)) return;
    if (judgeSeenQuery(this.id, packet, (instance) => this.table.knows(instance, now)) !== 'suppress') return;
    this.browseSuppressed++;
    this.lastBrowseAt = now;
    this.queryAttempt++;
    this.scheduleQuery();
  }

  private sendQuery(q: OutgoingQuery): void {
    for (const ep of this.endpoints) {
      this.send(ep, (m, cb) => m.query({ questions: q.questions, answers: q.answers }, cb));
    }
  }

  private askFor(names: string[], type: OutgoingQuestion['type']): void {
    for (let i = 0; i < names.length; i += MAX_QUESTIONS_PER_SEND) {
      const questions = names.slice(i, i + MAX_QUESTIONS_PER_SEND).map((name): OutgoingQuestion => ({ name, type }));
      this.sendQuery(buildQuery(this.id, questions));
    }
  }

  /** Pass table results on: sink reports, A and refresh queries, and the next expiry timer. */
  private handle(res: PeerTableResult): void {
    for (const c of res.changes) {
      if (!this.active()) break;
      try {
        if (c.kind === 'found') {
          this.log.debug('mDNS: peer found', { id: c.peer.id, peer: c.peer.name, addresses: c.peer.addresses.join(','), port: c.peer.port });
          this.sink?.peerFound(c.peer);
        } else {
          this.log.debug('mDNS: peer lost', { id: c.id });
          this.sink?.peerLost(c.id);
        }
      } catch (err) {
        this.log.warn('mDNS: discovery sink threw', { error: describeError(err) });
      }
    }
    if (!this.active()) return;
    if (res.resolve.length > 0) this.askFor(res.resolve, 'A');
    if (res.refresh.length > 0) this.askFor(res.refresh, 'SRV');
    if (res.dropped > 0 && !this.warned.has('table-full')) {
      this.warned.add('table-full');
      this.log.warn('mDNS: too many instances on the network; ignoring new ones until some expire');
    }
    this.armDeadline();
  }

  private armDeadline(): void {
    const next = this.table.nextDeadline();
    if (next === this.deadlineAt && (next === undefined || this.deadlineTimer)) return;
    this.cancel(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineAt = next;
    if (next === undefined) return;
    this.deadlineTimer = this.later(() => {
      this.deadlineTimer = undefined;
      this.deadlineAt = undefined;
      if (!this.active()) return;
      this.handle(this.table.tick(this.opts.clock.now()));
    }, Math.max(0, Math.ceil(next - this.opts.clock.now())));
  }

  // ---- helpers ----

  private where(ep: Endpoint): string {
    return `${ep.iface.name} (${ep.iface.address})`;
  }

  private warnOnce(ep: Endpoint, key: string, message: string): void {
    const k = `${ep.iface.name}/${ep.iface.address}/${key}`;
    if (this.warned.has(k)) return;
    this.warned.add(k);
    this.log.warn(message);
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn(`mDNS: internal error in ${what} handler`, { error: describeError(err) });
    }
  }

  private later(fn: () => void, ms: number): TimerHandle {
    const h: TimerHandle = this.opts.clock.setTimeout(() => {
      this.timers.delete(h);
      this.guard('timer', fn);
    }, ms);
    this.timers.add(h);
    return h;
  }

  private cancel(h: TimerHandle | undefined): void {
    if (!h) return;
    this.opts.clock.clearTimeout(h);
    this.timers.delete(h);
  }

  private clearTimers(): void {
    for (const h of this.timers) this.opts.clock.clearTimeout(h);
    this.timers.clear();
    for (const ep of this.endpoints) ep.responseTimer = undefined;
    this.queryTimer = undefined;
    this.deadlineTimer = undefined;
    this.deadlineAt = undefined;
  }

  /** Wait for all promises, or at most ms on the injected clock. */
  private within(promises: Promise<void>[], ms: number): Promise<void> {
    if (promises.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const h = this.opts.clock.setTimeout(resolve, ms);
      void Promise.all(promises).then(() => {
        this.opts.clock.clearTimeout(h);
        resolve();
      });
    });
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : describeError(err).slice(0, 80);
}

function isOwnQuestion(id: MdnsIdentity): (q: unknown) => q is OutgoingQuestion {
  const names = [id.instance, id.target, MDNS_SERVICE_TYPE].map((n) => n.toLowerCase());
  return (q: unknown): q is OutgoingQuestion => {
    if (typeof q !== 'object' || q === null) return false;
    const { name, type } = q as { name?: unknown; type?: unknown };
    return (
      typeof name === 'string' &&
      names.includes(name.toLowerCase()) &&
      (type === 'PTR' || type === 'SRV' || type === 'TXT' || type === 'A')
    );
  };
}
