// Mesh: the full mesh of authenticated connections, one per pair of nodes, like
// Erlang distribution. It composes the parts in this folder: the candidate table
// (candidates.ts) it dials with pacing and backoff (dialer.ts), the admission rules
// for authenticated connections and the handshake slots (admission.ts), the
// failure-log limiter (failure-log.ts), the wrong-cookie report (auth-failures.ts) and
// the goodbye codes (close-codes.ts) and the handshake queue (handshake-queue.ts): every
// handshake, inbound or outbound, waits for its turn, and its deadline (stretched by our
// own recent event-loop lag) starts with the turn; it carries the heartbeats
// and checks of the failure detector (membership/detector.ts) and reports nodeup /
// nodedown.
// Invariants: at most one active connection per peer name; nodeup and nodedown
// alternate per peer; a replaced duplicate connection never produces a nodedown.
import { ClusterError, describeError } from '../errors.js';
import type { NodeConfig } from '../config.js';
import { Connection, MAX_HANDSHAKE_FRAME_BYTES } from '../transport/connection.js';
import { HeldStream } from '../transport/held-stream.js';
import type { Listener, Network, Stream } from '../transport/transport.js';
import type { Role } from '../transport/session-crypto.js';
import type { DiscoveredPeer } from '../discovery/discovery.js';
import { Detector } from '../membership/detector.js';
import { dialHandshakeDeadlineMs, handshakeDeadlineMs, handshakeQueueWaitMs, newsDelayMs } from '../membership/timing.js';
import { MAX_MEMBERS, PROTOCOL_VERSION } from '../wire/messages.js';
import type { Hello, MemberInfo, SessionMessage } from '../wire/messages.js';
import type { Logger } from '../util/log.js';
import type { TimerHandle } from '../util/clock.js';
import type { Secret } from '../util/secret.js';
import type { TrafficCounts } from '../util/traffic.js';
import { decideAdmission, InboundSlots, isNewcomer } from './admission.js';
import type { InboundAction } from './admission.js';
import { CandidateTable, candidateName, MAX_GOSSIP_CANDIDATES_PER_MEMBER } from './candidates.js';
import type { Candidate, UpsertResult } from './candidates.js';
import { goodbyeCode, SHUTDOWN_GOODBYE } from './close-codes.js';
import type { GoodbyeCode } from './close-codes.js';
import { CONCURRENCY_RETRY_MS, DialPacer, mayResetBackoff, pacedDelay, redialDelay, SIMULTANEOUS_DIAL_GRACE_MS, yieldsFirstDial } from './dialer.js';
import { AuthFailureReport } from './auth-failures.js';
import { FailureLog, logSafe } from './failure-log.js';
import { OncePerWindow } from './rate-limit.js';
import { IdentityBook } from './identities.js';
import { ObserverSet } from './observers.js';
import { HandshakeQueue } from './handshake-queue.js';

/** A connected member as the mesh reports it. */
export interface MeshMember {
  name: string;
  incarnation: string;
  host: string;
  port: number;
  /** The Ed25519 public key its incarnation proved in the handshake (raw, 32 bytes). */
  key: Uint8Array;
}

/** What the mesh tells its owner. */
export interface MeshEvents {
  nodeup(member: MeshMember): void;
  nodedown(member: MeshMember, reason: string): void;
  /** The connection to a member was replaced by another one; the member stayed up. */
  relinked(member: MeshMember): void;
  /** An application message from a connected member. */
  message(from: string, channel: string, body: unknown): void;
  /** This node cannot go on (another live node holds our name). */
  fatal(err: ClusterError): void;
  /** The answer to an observer's (a hidden node's) status-channel message; undefined: none. */
  observerRequest?(observer: string, body: unknown): unknown;
  /** Members the Singleton's lease rules need the failure detector to watch (membership/detector.ts); default none. */
  leaseWatch?(): Iterable<string>;
}

interface Peer {
  conn: Connection;
  member: MeshMember;
  dialer: string;
  /** Clock time this connection became the active one. */
  since: number;
  /** Set while the peer's connection was closed as a duplicate and its replacement is awaited. */
  orphanTimer?: TimerHandle | undefined;
  /** Members this peer told us it is connected to (its list and its news), as many as it may gossip candidates: news of them is not for it. */
  links?: Set<string>;
}

/** An inbound connection waiting for, or holding, its handshake turn. */
interface InboundTurn {
  direction: 'inbound';
  ip: string;
  stream: HeldStream | undefined;
}

/** One of our dials waiting for, or holding, its handshake turn. */
interface OutboundTurn {
  direction: 'outbound';
  start: () => void;
}

type Turn = InboundTurn | OutboundTurn;

/** The connection manager of one node. */
/** A member as a member list names it. */
function memberInfo(m: MeshMember): MemberInfo {
  return { name: m.name, inc: m.incarnation, host: m.host, port: m.port };
}

export class Mesh {
  private readonly peers = new Map<string, Peer>();
  private readonly candidates = new CandidateTable();
  private readonly pending = new Set<Connection>();
  /** Handshake turns: how many run at once, and who waits (handshake-queue.ts). */
  private readonly turns: HandshakeQueue<Turn>;
  /** Gives back the turn an inbound connection in its handshake still holds. */
  private readonly turnOf = new Map<Connection, () => void>();
  /** Inbound connections waiting in the queue (held, not read beyond their first frame). */
  private readonly queuedInbound = new Set<InboundTurn>();
  /** Our dials waiting in the queue. */
  private readonly queuedOutbound = new Set<OutboundTurn>();
  /** Drops queued inbound connections that waited handshakeQueueWaitMs. */
  private queueTimer: TimerHandle | undefined;
  /** Members that came up since the last news went out, each with its connection (see flushNews). */
  private news: Peer[] = [];
  private newsTimer: TimerHandle | undefined;
  private listener: Listener | undefined;
  private detector: Detector | undefined;
  private stopped = false;
  private readonly startedAt: number;
  private readonly log: Logger;
  private readonly failureLog: FailureLog;
  /** Unreachable seeds: one warning per seed address per minute, the rest at debug. */
  private readonly seedLog: FailureLog;
  private readonly pacer: DialPacer;
  private readonly inbound: InboundSlots;
  private readonly authFailures: AuthFailureReport;
  private readonly notices = new OncePerWindow(NOTICE_INTERVAL_MS);
  /** True once any member has come up: the node is established, no longer a newcomer. */
  private everHadMember = false;
  /** Hidden nodes connected to us (never members). */
  private readonly observers: ObserverSet;
  /** The signing key each incarnation proved (an incarnation never changes keys). */
  private readonly identities = new IdentityBook();
  /** Candidates with our own name we said (once, at debug) we do not dial. */
  private readonly ownNameNoted = new Set<string>();
  /** Bytes and frames of every connection (handshakes included), added to the node's counters. */
  private readonly traffic: TrafficCounts | undefined;

  constructor(
    private readonly config: NodeConfig,
    private readonly network: Network,
    private readonly cookie: Secret,
    readonly incarnation: string,
    private readonly events: MeshEvents,
    /** Our incarnation's signing key, whose public half every hello announces (read at the first hello). */
    private readonly signingKey: { readonly publicKey: Uint8Array },
    /** Counters every connection adds its bytes and frames to; default none. */
    traffic?: TrafficCounts,
  ) {
    this.traffic = traffic;
    this.startedAt = config.clock.now();
    this.log = config.logger;
    this.failureLog = new FailureLog(this.log, () => config.clock.now());
    this.seedLog = new FailureLog(this.log, () => config.clock.now(), 1);
    this.pacer = new DialPacer(() => config.clock.now());
    this.inbound = new InboundSlots(() => config.clock.now());
    this.turns = new HandshakeQueue<Turn>(() => config.clock.now());
    this.authFailures = new AuthFailureReport(this.log, this.failureLog, () => config.clock.now());
    this.observers = new ObserverSet({
      clock: config.clock,
      log: this.log,
      failureTimeoutMs: config.failureTimeoutMs,
      memberInfos: () => this.memberInfos(),
      answer: (observer, body) => this.events.observerRequest?.(observer, body),
    });
  }

  /** The TCP port we listen on (after start). */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  get address(): string {
    return this.listener?.address ?? this.config.host;
  }

  /** Names of the connected members, sorted. */
  members(): string[] {
    return [...this.peers.keys()].sort();
  }

  /** How many connected members (only those in `among`, when given) we heard from within the last withinMs. */
  freshMembers(withinMs: number, among?: ReadonlySet<string>): number {
    const now = this.config.clock.now();
    let n = 0;
    for (const [name, p] of this.peers) if ((!among || among.has(name)) && now - p.conn.lastReceivedAt <= withinMs) n++;
    return n;
  }

  /** How long ago we last heard from a connected member, ms; undefined if it is not one. */
  heardMsAgo(name: string): number | undefined {
    const p = this.peers.get(name);
    return p && this.config.clock.now() - p.conn.lastReceivedAt;
  }

  /** Details of the connected members, sorted by name. */
  memberList(): MeshMember[] {
    return [...this.peers.values()].map((p) => ({ ...p.member })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async start(): Promise<void> {
    this.listener = await this.network.listen(this.config.host, this.config.port, (stream) => this.accept(stream));
    this.detector = new Detector({
      clock: this.config.clock,
      random: this.config.random,
      log: this.log,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      failureTimeoutMs: this.config.failureTimeoutMs,
      self: this.config.name,
      // A hidden node's members neither subscribe to it nor report to it: it hears them
      // by the pongs to its pings, to every member.
      watchAll: this.config.hidden,
      members: () => [...this.peers.keys()],
      lastHeard: (name) => this.peers.get(name)?.conn.lastReceivedAt,
      incarnation: (name) => this.peers.get(name)?.member.incarnation,
      leaseWatch: () => this.events.leaseWatch?.() ?? [],
      sendPings: (seq, to) => {
        for (const name of to) this.peers.get(name)?.conn.send({ t: 'ping', seq });
      },
      sendFd: (to, msg) => void this.peers.get(to)?.conn.send({ t: 'app', ch: FD_CHANNEL, body: msg }),
      declareDown: (name, silentForMs, reporters) => this.declareDown(name, silentForMs, reporters),
    });
  }

  /** Clock time of our last on-time heartbeat tick (our own liveness, for leases). */
  get lastHealthyTickAt(): number {
    return this.detector?.lastHealthyTickAt ?? this.config.clock.now();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.detector?.stop();
    for (const c of this.candidates.values()) this.config.clock.clearTimeout(c.timer);
    this.candidates.clear();
    this.pacedCount = 0;
    for (const conn of this.pending) conn.close();
    this.pending.clear();
    this.config.clock.clearTimeout(this.queueTimer);
    this.config.clock.clearTimeout(this.newsTimer);
    this.news = [];
    for (const t of this.queuedInbound) t.stream?.close();
    this.queuedInbound.clear();
    // Waiting dials go on, see that we stopped, and end.
    const waiting = [...this.queuedOutbound];
    this.queuedOutbound.clear();
    this.turns.clear();
    for (const t of waiting) t.start();
    this.observers.stop();
    const peers = [...this.peers.values()];
    this.peers.clear();
    for (const p of peers) p.conn.close(SHUTDOWN_GOODBYE);
    await this.listener?.close();
  }

  /** Send an application message to a connected member; false if not connected. */
  send(to: string, channel: string, body: unknown): boolean {
    const peer = this.peers.get(to);
    return peer ? peer.conn.send({ t: 'app', ch: channel, body }) : false;
  }

  /** Close the connection to a member (it misbehaved); it goes down and may reconnect. */
  disconnect(name: string, code: GoodbyeCode, reason: string): void {
    const peer = this.peers.get(name);
    if (!peer) return;
    this.log.warn('closing connection', { peer: name, addr: `${peer.member.host}:${peer.member.port}`, code, reason });
    this.down(peer, reason);
    peer.conn.close({ code, reason });
  }

  // ---- discovery input -------------------------------------------------------

  /** A discovery source found (or refreshed) a candidate. */
  peerFound(peer: DiscoveredPeer): void {
    if (this.stopped) return;
    const key = `${peer.source}:${peer.id}`;
    const { result, candidate } = this.candidates.upsertDiscovered(key, peer.source, peer.name, peer.addresses, peer.port);
    if (candidate) this.afterUpsert(candidate, result);
    else this.tableFull(peer.source);
  }

  private tableFull(source: string): void {
    if (this.notices.allow(`full:${source}`, this.config.clock.now())) {
      this.log.warn('too many candidates; ignoring new ones for now', { source, count: this.candidates.size });
    }
  }

  /** A discovery source lost a candidate (goodbye or expiry). */
  peerLost(id: string, source: DiscoveredPeer['source'] = 'mdns'): void {
    this.dropCandidate(`${source}:${id}`);
  }

  private afterUpsert(c: Candidate, result: UpsertResult): void {
    if (result === 'added') this.schedule(c, 0);
    else if (result === 'moved' && !c.self) {
      // A move resets the backoff at most once a minute (a record flipping its port must
      // not turn backoff into a flood); otherwise the next attempt, when due, uses the
      // new address.
      const now = this.config.clock.now();
      if (!mayResetBackoff(c.lastResetAt, now)) return;
      c.lastResetAt = now;
      c.attempt = 0;
      if (!c.dialing) this.schedule(c, 0);
    }
  }

  private dropCandidate(key: string): void {
    const c = this.candidates.remove(key);
    if (!c) return;
    this.config.clock.clearTimeout(c.timer);
    this.setPaced(c, false);
  }

  // ---- dialing ---------------------------------------------------------------

  private schedule(c: Candidate, delayMs: number, paced = false): void {
    if (this.stopped || c.self) return;
    this.config.clock.clearTimeout(c.timer);
    this.setPaced(c, paced);
    c.timer = this.config.clock.setTimeout(() => {
      c.timer = undefined;
      this.setPaced(c, false);
      void this.dial(c);
    }, delayMs);
  }

  /** Candidates waiting for the pacer: how far to spread their next attempts. */
  private pacedCount = 0;

  private setPaced(c: Candidate, paced: boolean): void {
    if (c.paced === paced) return;
    c.paced = paced;
    this.pacedCount += paced ? 1 : -1;
  }

  /** Whether a connection to `name` is in its handshake: an inbound one that said hello under it, or our dial through another candidate. */
  private handshakeUnderway(name: string, except: Candidate): boolean {
    for (const conn of this.pending) if (conn.claimedName === name) return true;
    return this.candidates.named(name).some((o) => o !== except && o.dialing);
  }

  private isConnected(c: Candidate): boolean {
    const name = candidateName(c);
    if (name !== undefined) return this.peers.has(name);
    for (const p of this.peers.values()) {
      if (p.member.port === c.port && c.addresses.includes(p.member.host)) return true;
    }
    return false;
  }

  private retry(c: Candidate): void {
    if (!this.candidates.has(c.key)) return;
    const delay = redialDelay(c.attempt, c.authFailures, this.config, this.config.random.float());
    c.attempt++;
    this.schedule(c, delay);
  }

  private get newcomer(): boolean {
    return isNewcomer(this.everHadMember, this.config.clock.now() - this.startedAt);
  }

  private async dial(c: Candidate): Promise<void> {
    if (this.stopped || c.dialing || c.self || !this.candidates.has(c.key)) return;
    if (this.isConnected(c)) return;
    if (c.advertisedName === this.config.name && !this.newcomer) {
      // Another live node with our name dials us and is refused by admission; a record
      // with our name is not worth a connection (it may be a spoof aimed at us). Only a
      // newcomer dials it, to learn whether its name is taken.
      if (!this.ownNameNoted.has(c.key) && this.ownNameNoted.size < MAX_OWN_NAME_NOTES) {
        this.ownNameNoted.add(c.key);
        this.log.debug('not dialing a candidate advertised with our own name', { addr: `${c.addresses.join('|')}:${c.port}` });
      }
      return;
    }
    const name = candidateName(c);
    if (name !== undefined) {
      if (this.handshakeUnderway(name, c)) {
        // A connection to that node is in its handshake already (its dial, or ours
        // through another candidate): one handshake per pair; look again afterwards.
        this.schedule(c, this.config.reconnectMinMs);
        return;
      }
      // A member named in a list we were given does not know us yet (news of us reaches it
      // only a handshake timeout later): it will not dial, so we do not wait for it.
      if (!c.yielded && c.attempt === 0 && c.source !== 'gossip' && yieldsFirstDial(this.config.name, name)) {
        c.yielded = true;
        this.schedule(c, SIMULTANEOUS_DIAL_GRACE_MS);
        return;
      }
    }
    const wait = this.pacer.begin(c.addresses);
    if (wait > 0) {
      // Paced: wait for a token. With n candidates waiting, a token comes for this one
      // about every n waits, so spread over that: a thousand forged candidates cost
      // wakeups at the dial rate, not a thousand timers per token.
      this.schedule(c, pacedDelay(wait, this.pacedCount, this.config.random.float()), true);
      return;
    }
    c.dialing = true;
    const turn: OutboundTurn = { direction: 'outbound', start: () => {} };
    try {
      if (!(await this.takeTurn(turn))) {
        // The queue is full of inbound handshakes: ours comes later.
        this.schedule(c, pacedDelay(CONCURRENCY_RETRY_MS, this.pacedCount, this.config.random.float()), true);
        return;
      }
      if (this.stopped) return;
      let stream: Stream | undefined;
      let lastError: unknown;
      for (const [i, host] of c.addresses.entries()) {
        if (i > 0 && this.pacer.reserve(host) > 0) continue;
        try {
          stream = await this.network.dial(host, c.port, this.config.dialTimeoutMs);
          break;
        } catch (err) {
          lastError = err;
        }
      }
      if (this.stopped) {
        stream?.close();
        return;
      }
      if (!stream) {
        // A seed the user named is worth a warning (rate-limited per address); a
        // discovered candidate that went away is not.
        if (c.source === 'seed') this.seedLog.note(c.addresses[0] ?? '', 'cannot reach seed', { addr: `${c.addresses.join('|')}:${c.port}`, error: describeError(lastError) }, 'warn');
        else this.failureLog.note(c.addresses[0] ?? '', 'dial failed', { peer: nameForLog(c), addr: `${c.addresses.join('|')}:${c.port}`, error: describeError(lastError) }, 'debug');
        this.retry(c);
        return;
      }
      const conn = this.connect(stream, 'dialer');
      let peer: Hello;
      try {
        peer = await conn.handshake();
      } catch (err) {
        const code = err instanceof ClusterError ? err.code : 'ERR_PROTOCOL';
        const addr = `${stream.remoteAddress}:${c.port}`;
        if (code === 'ERR_AUTH_FAILED') {
          c.authFailures++;
          this.authFailures.failed(conn.claimedName, stream.remoteAddress, addr, this.peers.size > 0);
        } else {
          this.failureLog.note(stream.remoteAddress, 'handshake failed', { peer: nameForLog(c), addr, code, error: describeError(err) });
        }
        this.retry(c);
        return;
      }
      c.authFailures = 0;
      if (peer.name === this.config.name && peer.inc === this.incarnation) {
        c.self = true;
        conn.close();
        return;
      }
      if (c.advertisedName === undefined) c.learnedName = peer.name;
      if (!this.admit(conn, peer, stream.remoteAddress, c.advertisedName)) {
        this.retry(c);
        return;
      }
      c.attempt = 0;
    } finally {
      c.dialing = false;
      this.pacer.end();
      this.queuedOutbound.delete(turn);
      this.startTurns(this.turns.leave(turn));
    }
  }

  // ---- handshake turns ---------------------------------------------------------

  /** Wait for a handshake turn for one of our dials; false if the queue is full. */
  private takeTurn(turn: OutboundTurn): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const answer = this.turns.enter(turn, 'outbound', '');
      if (answer === 'refused') return resolve(false);
      turn.start = () => resolve(true);
      if (answer === 'run') resolve(true);
      else this.queuedOutbound.add(turn);
    });
  }

  /** Start the handshakes whose turn came. */
  private startTurns(turns: Turn[]): void {
    for (const t of turns) {
      if (t.direction === 'outbound') {
        this.queuedOutbound.delete(t);
        t.start();
      } else this.startInbound(t);
    }
  }

  /** Drop queued inbound connections that waited too long, oldest first; look again when the next one is due. */
  private armQueueExpiry(): void {
    if (this.queueTimer !== undefined || this.stopped) return;
    const oldest = this.turns.oldestInboundQueuedAt();
    if (oldest === undefined) return;
    const waitMs = handshakeQueueWaitMs(this.config.handshakeTimeoutMs);
    this.queueTimer = this.config.clock.setTimeout(() => {
      this.queueTimer = undefined;
      for (const t of this.turns.expire(waitMs)) {
        if (t.direction === 'inbound') this.dropQueued(t, waitMs);
      }
      this.armQueueExpiry();
    }, Math.max(0, oldest + waitMs - this.config.clock.now()));
  }

  /**
   * A queued inbound connection waited its longest: close it. Not a failed handshake (it
   * merely waited for us), so no warning; one that never sent a whole hello is no real
   * dialer (they send theirs at once) and counts as a failed handshake of its address.
   */
  private dropQueued(t: InboundTurn, waitedMs: number): void {
    if (!this.queuedInbound.delete(t)) return;
    this.inbound.settled(t.ip);
    const silent = !t.stream?.hasFrame;
    if (silent) this.inbound.failed(t.ip);
    this.failureLog.note(t.ip, 'dropped a connection that waited too long for its handshake turn', { addr: `${t.ip}:${t.stream?.remotePort ?? 0}`, waitedMs: Math.round(waitedMs), silent }, 'debug');
    t.stream?.close();
  }

  /** An inbound connection's turn came: its handshake (and deadline) start now. */
  private startInbound(t: InboundTurn): void {
    this.queuedInbound.delete(t);
    const stream = t.stream!;
    if (this.stopped) {
      this.startTurns(this.turns.leave(t));
      stream.close();
      return;
    }
    const ip = t.ip;
    const conn = this.connect(stream, 'listener', t);
    conn.handshake().then(
      (peer) => {
        if (this.stopped) return conn.close();
        if (peer.name === this.config.name && peer.inc === this.incarnation) return conn.close();
        this.admit(conn, peer, ip);
      },
      (err: unknown) => {
        this.inbound.failed(ip);
        const code = err instanceof ClusterError ? err.code : 'ERR_PROTOCOL';
        const addr = `${ip}:${stream.remotePort}`;
        if (code === 'ERR_AUTH_FAILED') this.authFailures.failed(conn.claimedName, ip, addr, this.peers.size > 0);
        else this.failureLog.note(ip, 'handshake failed', { addr, code, error: describeError(err) });
      },
    );
  }

  // ---- connections -----------------------------------------------------------

  private hello(): Hello {
    return {
      t: 'hello',
      v: PROTOCOL_VERSION,
      name: this.config.name,
      inc: this.incarnation,
      nonce: this.config.random.bytes(32),
      port: this.port,
      up: Math.max(0, Math.floor(this.config.clock.now() - this.startedAt)),
      key: this.signingKey.publicKey,
      hidden: this.config.hidden,
    };
  }

  /** Start a handshake on stream (an inbound one holding `turn`) now. */
  private connect(stream: Stream, role: Role, turn?: InboundTurn): Connection {
    // Gives the inbound turn back, once. Bytes held while queued are read inside the
    // constructor, so the hello may be answered before conn exists.
    let held = turn;
    const releaseTurn = (): void => {
      if (held) this.startTurns(this.turns.leave(held));
      held = undefined;
    };
    const conn = new Connection(stream, {
      role,
      cookie: this.cookie,
      random: this.config.random,
      hello: this.hello(),
      maxFrameBytes: this.config.maxFrameBytes,
      // Local health: a node whose own loop is slow gives its handshakes longer; a dial
      // also gives the peer the time it may keep us in its queue.
      handshakeTimeoutMs: (role === 'dialer' ? dialHandshakeDeadlineMs : handshakeDeadlineMs)(this.config.handshakeTimeoutMs, this.detector?.recentLagMs ?? 0),
      clock: this.config.clock,
      // A turn paces our work: once we have answered the hello, only the dialer's
      // confirm is left, so the turn goes to the next in line. A peer that stalls there
      // (a hostile one, without the cookie) then holds a pending slot until its
      // deadline, never a turn.
      onAwaitingConfirm: releaseTurn,
      ...(this.traffic ? { traffic: this.traffic } : {}),
    });
    this.pending.add(conn);
    if (held) this.turnOf.set(conn, releaseTurn);
    // A connection that failed at once (bytes held while queued may be garbage) settles here.
    conn.onClose(() => this.settlePending(conn));
    return conn;
  }

  /** conn left its handshake (admitted or closed): free its slots and its turn. Idempotent. */
  private settlePending(conn: Connection): void {
    if (!this.pending.delete(conn) || conn.role !== 'listener') return;
    this.inbound.settled(conn.remoteAddress);
    const releaseTurn = this.turnOf.get(conn);
    this.turnOf.delete(conn);
    releaseTurn?.();
  }

  private accept(stream: Stream): void {
    if (this.stopped) {
      stream.close();
      return;
    }
    const ip = stream.remoteAddress;
    const action = this.inbound.check(ip, this.pending.size + this.queuedInbound.size);
    if (action !== 'accept') {
      this.failureLog.note(ip, INBOUND_REFUSALS[action], { addr: `${ip}:${stream.remotePort}`, code: 'ERR_PROTOCOL' });
      stream.close();
      return;
    }
    // From here until its handshake ends the connection holds one of ip's pending slots,
    // queued or running.
    this.inbound.opened(ip);
    const turn: InboundTurn = { direction: 'inbound', ip, stream: undefined };
    const held = new HeldStream(stream, Math.min(MAX_HANDSHAKE_FRAME_BYTES, this.config.maxFrameBytes), {
      firstFrame: () => this.startTurns(this.turns.ready(turn)),
      overflow: () => {
        if (!this.queuedInbound.delete(turn)) return;
        this.inbound.settled(ip);
        this.inbound.failed(ip);
        this.startTurns(this.turns.leave(turn));
        this.failureLog.note(ip, 'handshake failed', { addr: `${ip}:${stream.remotePort}`, code: 'ERR_FRAME_TOO_LARGE', error: 'sent more than a hello before its handshake turn' });
      },
    });
    turn.stream = held;
    const answer = this.turns.enter(turn, 'inbound', ip, held.hasFrame);
    if (answer === 'refused') {
      this.inbound.settled(ip);
      this.failureLog.note(ip, INBOUND_REFUSALS['refuse-busy'], { addr: `${ip}:${stream.remotePort}`, code: 'ERR_PROTOCOL' });
      held.close();
      return;
    }
    if (answer === 'run') {
      this.startInbound(turn);
      return;
    }
    this.queuedInbound.add(turn);
    held.onClose(() => {
      // Closed by the peer while waiting: free its place.
      if (!this.queuedInbound.delete(turn)) return;
      this.inbound.settled(ip);
      this.startTurns(this.turns.leave(turn));
    });
    this.armQueueExpiry();
  }

  /** Decide what an authenticated connection becomes. Returns true if it is now the active one. */
  private admit(conn: Connection, peer: Hello, host: string, advertisedName?: string): boolean {
    this.settlePending(conn);
    if (conn.state !== 'open') return false;
    if (peer.hidden) return this.admitObserver(conn, peer, host);
    const dialer = conn.role === 'dialer' ? this.config.name : peer.name;
    const member: MeshMember = { name: peer.name, incarnation: peer.inc, host, port: peer.port, key: peer.key };
    const existing = this.peers.get(peer.name);
    const now = this.config.clock.now();
    const action = decideAdmission({
      self: { name: this.config.name, inc: this.incarnation, up: conn.localHello.up, newcomer: this.newcomer },
      peer: { name: peer.name, inc: peer.inc, up: peer.up },
      keyConflict: this.identities.check(peer.name, peer.inc, peer.key) === 'conflict',
      dialer,
      advertisedName,
      existing: existing && {
        inc: existing.member.incarnation,
        open: existing.conn.state !== 'closed',
        dialer: existing.dialer,
        // Only a member whose heartbeats we watch has a silence we can judge.
        silentForMs: this.detector?.observedSilenceMs(peer.name),
        ageMs: now - existing.since,
      },
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      simultaneousWindowMs: this.config.handshakeTimeoutMs,
    });
    switch (action) {
      case 'self':
        conn.close();
        return false;
      case 'refuse-name-in-use':
        this.failureLog.note(host, peer.name === this.config.name ? 'refused a node using our name' : 'refused a second live node with the same name', { peer: peer.name, addr: host, code: 'ERR_NAME_IN_USE' });
        conn.close({ code: 'ERR_NAME_IN_USE', reason: `the name ${peer.name} is already in use by a live node` });
        return false;
      case 'yield-name':
        conn.close();
        this.events.fatal(new ClusterError('ERR_NAME_IN_USE', `the name ${peer.name} is already in use by a live node at ${host}:${peer.port}`));
        return false;
      case 'refuse-name-mismatch':
        this.failureLog.note(host, 'refused a candidate whose authenticated name differs from the advertised one', {
          peer: peer.name,
          advertised: logSafe(advertisedName),
          addr: `${host}:${conn.remotePort}`,
          code: 'NAME_MISMATCH',
        });
        conn.close({ code: 'NAME_MISMATCH', reason: 'this address was advertised under another name' });
        return false;
      case 'refuse-unverified':
        // A new incarnation under a member's name while the old one's connection is open
        // and unwatched: watch the old one, and let the newcomer come back. Restarted:
        // the old one is declared down meanwhile; a second live node: refused then.
        this.detector?.doubt(peer.name);
        this.log.debug('a new incarnation of a connected member; checking the old one first', { peer: peer.name, addr: `${host}:${conn.remotePort}` });
        conn.close({ code: 'BUSY', reason: 'the previous incarnation of this node is still connected; checking it, try again' });
        return false;
      case 'refuse-duplicate':
        conn.close({ code: 'DUPLICATE', reason: 'a connection between these nodes already exists' });
        return false;
      case 'refuse-key-mismatch':
        this.failureLog.note(host, 'refused a node presenting another signing key than its incarnation proved before (an impostor?)', {
          peer: peer.name,
          addr: `${host}:${conn.remotePort}`,
          code: 'KEY_MISMATCH',
        });
        conn.close({ code: 'KEY_MISMATCH', reason: 'this incarnation proved another signing key before' });
        return false;
      case 'replace': {
        // Replace silently: the peer stays up. The new connection becomes current first,
        // so closing the old one is not mistaken for the peer going down.
        const old = existing!;
        const meta = { peer: peer.name, addr: `${host}:${conn.remotePort}`, previous: `${old.conn.remoteAddress}:${old.conn.remotePort}` };
        // After the simultaneous-dial window a replacement is news (the old one was unhealthy).
        if (now - old.since > this.config.handshakeTimeoutMs) this.log.info('connection replaced by a new one between the same nodes', meta);
        else this.log.debug('connection replaced by a new one between the same nodes', meta);
        this.config.clock.clearTimeout(old.orphanTimer);
        this.activate(conn, member, dialer, false);
        old.conn.close({ code: 'DUPLICATE', reason: 'replaced by another connection between these nodes' });
        return true;
      }
      case 'replace-restarted':
        // The old incarnation is gone (restarted node): replace it.
        this.down(existing!, 'restarted with a new incarnation');
        existing!.conn.close();
        this.activate(conn, member, dialer, true);
        return true;
      case 'accept':
        this.activate(conn, member, dialer, true);
        return true;
    }
  }

  /** A hidden node: an observer (observers.ts), never a member; hidden nodes do not talk to each other. */
  private admitObserver(conn: Connection, peer: Hello, host: string): boolean {
    if (this.config.hidden || conn.role !== 'listener') {
      conn.close({ code: 'HIDDEN', reason: 'hidden nodes talk only to members that they dial' });
      return false;
    }
    if (peer.name === this.config.name || this.peers.has(peer.name)) {
      this.failureLog.note(host, 'refused an observer using a member\'s name', { peer: peer.name, addr: host, code: 'ERR_NAME_IN_USE' });
      conn.close({ code: 'ERR_NAME_IN_USE', reason: `the name ${peer.name} is already in use by a live node` });
      return false;
    }
    return this.observers.admit(conn, peer.name);
  }

  /** Names of the hidden nodes connected to us now (never members). */
  observerNames(): string[] {
    return this.observers.names();
  }

  private activate(conn: Connection, member: MeshMember, dialer: string, announce: boolean): void {
    this.identities.remember(member.name, member.incarnation, member.key);
    const peer: Peer = { conn, member, dialer, since: this.config.clock.now() };
    this.peers.set(member.name, peer);
    this.everHadMember = true;
    this.detector?.forget(member.name);
    conn.onClose((err) => {
      if (this.peers.get(member.name) !== peer) return;
      if (err?.code === 'ERR_NAME_IN_USE') {
        this.peers.delete(member.name);
        this.events.fatal(new ClusterError('ERR_NAME_IN_USE', `the name ${this.config.name} is already in use by a live node (told by ${member.name})`));
        return;
      }
      const bye = goodbyeCode(conn.byeCode);
      if (bye === 'DUPLICATE') {
        // The peer keeps another connection to us that we have not admitted yet (both
        // dialed at once): stay up and wait for it instead of flapping down and up.
        // That connection may still wait for its turn here or there: give it as long as a dial's deadline.
        const waitMs = dialHandshakeDeadlineMs(this.config.handshakeTimeoutMs, this.detector?.recentLagMs ?? 0);
        peer.orphanTimer = this.config.clock.setTimeout(() => this.down(peer, 'duplicate connection closed and no replacement arrived'), waitMs);
        return;
      }
      if (bye === 'DECLARED_DOWN') {
        this.declaredDownAt = this.config.clock.now();
        const why = err?.message.replace(/^peer said goodbye: /, '') ?? 'no reason given';
        this.log.warn(`${member.name} declared this node down (${why}): this node was unresponsive or cut off`, { peer: member.name });
        this.down(peer, 'it declared this node down');
        return;
      }
      this.down(peer, err ? err.message : 'connection closed');
    });
    if (announce) {
      this.log.info('nodeup', { peer: member.name, addr: `${member.host}:${member.port}` });
      this.events.nodeup({ ...member });
    } else {
      this.events.relinked({ ...member });
    }
    // Only now deliver what the peer already sent: listeners know it is up.
    conn.onMessage((msg) => this.onMessage(peer, msg));
    // Tell the new peer whom we know, and everyone else about the new peer (a hidden
    // node tells no one: it is not a member, and members do not listen to it).
    if (this.config.hidden) return;
    conn.send({ t: 'members', members: this.memberInfos() });
    if (announce) this.queueNews(peer);
  }

  /**
   * News of a member that came up, for the members connected before it. The newcomer has
   * our list and dials them itself, so news is only the fallback for one it cannot reach:
   * it waits newsDelayMs, and all newcomers of the wait go in one message per member.
   * (News at once, one message per newcomer and member, cost every node O(N^2) frames
   * while N nodes formed: 16 of 44 s when 50 processes formed on 2 cores.) The others
   * already know everyone else we know (each was sent the list when it came up, and news
   * since): newcomers are the only news, and not for a member that told us it is
   * connected to the newcomer, or that the newcomer told us it is connected to.
   */
  private queueNews(peer: Peer): void {
    this.news.push(peer);
    this.newsTimer ??= this.config.clock.setTimeout(() => this.flushNews(), newsDelayMs(this.config.handshakeTimeoutMs));
  }

  private flushNews(): void {
    this.newsTimer = undefined;
    // Still up on the same connection; a newcomer that went (or came back) meanwhile is no news.
    const fresh = this.news.filter((p) => this.peers.get(p.member.name) === p);
    this.news = [];
    if (fresh.length === 0 || this.stopped) return;
    // Not for the newcomer itself, nor for a member connected after it (it got the
    // newcomer in our list), nor where either of the two told us of their link.
    const isNewsFor = (other: Peer, p: Peer): boolean => p !== other && p.since >= other.since && !other.links?.has(p.member.name) && !p.links?.has(other.member.name);
    for (const other of this.peers.values()) {
      const members = fresh.filter((p) => isNewsFor(other, p)).map((p) => memberInfo(p.member));
      for (let i = 0; i < members.length; i += MAX_MEMBERS) other.conn.send({ t: 'members', members: members.slice(i, i + MAX_MEMBERS) });
    }
  }

  private down(peer: Peer, reason: string): void {
    if (this.peers.get(peer.member.name) !== peer) return;
    this.config.clock.clearTimeout(peer.orphanTimer);
    this.peers.delete(peer.member.name);
    this.detector?.forget(peer.member.name);
    // Links to it were links to this incarnation: a next one is news again.
    for (const p of this.peers.values()) p.links?.delete(peer.member.name);
    this.log.info('nodedown', { peer: peer.member.name, reason });
    this.events.nodedown({ ...peer.member }, reason);
    // Candidates learned only by gossip go with the member, and so do those only it
    // vouched for; discovery's own stay and are redialed.
    for (const c of this.candidates.gossiperGone(peer.member.name)) this.dropCandidate(c.key);
    for (const c of this.candidates.named(peer.member.name)) {
      if (c.source === 'gossip') this.dropCandidate(c.key);
      else {
        c.attempt = 0;
        c.yielded = false;
        this.schedule(c, redialDelay(0, 0, this.config, this.config.random.float()));
      }
    }
    for (const c of this.candidates.unnamedAt(peer.member.host, peer.member.port)) this.schedule(c, this.config.reconnectMinMs);
  }

  private memberInfos(): MemberInfo[] {
    const list: MemberInfo[] = [];
    for (const p of this.peers.values()) list.push(memberInfo(p.member));
    return list;
  }

  private onMessage(peer: Peer, msg: SessionMessage): void {
    switch (msg.t) {
      case 'ping':
        // Both sides ping every interval, so each hears the other without pongs.
        return;
      case 'pong':
        return;
      case 'members':
        for (const m of msg.members) {
          // A member can only misreport its own links, which decides only what we tell it.
          if ((peer.links ??= new Set()).size < MAX_GOSSIP_CANDIDATES_PER_MEMBER) peer.links.add(m.name);
          if (m.name === this.config.name || this.peers.has(m.name) || m.port === 0) continue;
          const { result, candidate } = this.candidates.upsertGossip(peer.member.name, m.name, m.host, m.port);
          if (candidate) this.afterUpsert(candidate, result);
          else this.tableFull('gossip');
        }
        return;
      case 'app':
        if (msg.ch === FD_CHANNEL) {
          // Subscriptions belong to one connection: a replaced one has no say.
          if (this.peers.get(peer.member.name) !== peer) return;
          try {
            this.detector?.onMessage(peer.member.name, msg.body);
          } catch (err) {
            this.disconnect(peer.member.name, 'ERR_PROTOCOL', describeError(err));
          }
          return;
        }
        this.events.message(peer.member.name, msg.ch, msg.body);
        return;
      case 'bye':
        return;
    }
  }

  // ---- failure detection (the Detector judges; the mesh acts) -------------------

  /** Clock time a member last told us it declared us down (-Infinity: never). */
  declaredDownAt = -Infinity;

  private declareDown(name: string, silentFor: number, reporters?: readonly string[]): void {
    const peer = this.peers.get(name);
    if (!peer) return;
    const reason = reporters ? `reported down by ${reporters.join(' and ')}` : `no heartbeat for ${Math.round(silentFor)} ms`;
    this.down(peer, reason);
    peer.conn.close({ code: 'DECLARED_DOWN', reason });
  }
}

/** A candidate's name for a log line: it came from discovery, so it is escaped. */
function nameForLog(c: Candidate): string | undefined {
  const name = candidateName(c);
  return name === undefined ? undefined : logSafe(name);
}

/** The mesh-internal channel of the failure detector's messages (subscriptions, indirect checks, reports). */
const FD_CHANNEL = 'fd';
/** At most one "candidate table full" warning per source per this many ms. */
const NOTICE_INTERVAL_MS = 60_000;
/** Candidates with our own name remembered as already noted at debug. */
const MAX_OWN_NAME_NOTES = 64;
/** The log line for each way an inbound connection is refused before its handshake. */
const INBOUND_REFUSALS: Record<Exclude<InboundAction, 'accept'>, string> = {
  'refuse-busy': 'too many connections in their handshake; refusing',
  'refuse-busy-source': 'too many connections in their handshake from this address; refusing',
  'refuse-failing-source': 'too many failed handshakes from this address; refusing',
};
