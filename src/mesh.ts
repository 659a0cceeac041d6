// Mesh: the full mesh of authenticated connections, one per pair of nodes, like
// Erlang distribution. It dials candidates from discovery and from members' gossip,
// admits authenticated connections (self, duplicates, same-name conflicts), carries
// the heartbeats and checks of the failure detector (membership/detector.ts), and
// reports nodeup / nodedown.
// Invariants: at most one active connection per peer name; nodeup and nodedown
// alternate per peer; a replaced duplicate connection never produces a nodedown.
import { ClusterError, describeError } from './errors.js';
import type { NodeConfig } from './config.js';
import { Connection } from './transport/connection.js';
import type { Listener, Network, Stream } from './transport/transport.js';
import type { Role } from './transport/session-crypto.js';
import type { DiscoveredPeer } from './discovery/discovery.js';
import { backoffDelay } from './membership/failure-detector.js';
import { Detector } from './membership/detector.js';
import { nameHolder, preferConnection } from './membership/membership.js';
import { PROTOCOL_VERSION } from './wire/messages.js';
import type { Hello, MemberInfo, SessionMessage } from './wire/messages.js';
import type { Logger } from './util/log.js';
import type { TimerHandle } from './util/clock.js';
import type { Secret } from './util/secret.js';

/** A connected member as the mesh reports it. */
export interface MeshMember {
  name: string;
  incarnation: string;
  host: string;
  port: number;
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
}

interface Peer {
  conn: Connection;
  member: MeshMember;
  dialer: string;
  /** Set while the peer's connection was closed as a duplicate and its replacement is awaited. */
  orphanTimer?: TimerHandle | undefined;
}

/** Goodbye code for a connection closed because another one between the same nodes wins. */
const DUPLICATE = 'DUPLICATE';

/**
 * Goodbye code for a connection closed because its peer fell silent and was declared
 * down. A peer that was only frozen reads it when it wakes, and so learns that the
 * closing side is alive and judged *it*, not the other way round.
 */
const DECLARED_DOWN = 'DECLARED_DOWN';

interface Candidate {
  key: string;
  name: string | undefined;
  addresses: string[];
  port: number;
  /** Failed attempts in a row, for backoff. */
  attempt: number;
  authFailures: number;
  timer: TimerHandle | undefined;
  dialing: boolean;
  /** The candidate turned out to be this node. */
  self: boolean;
  /** Learned from a member's gossip: dropped when that member goes down. */
  gossip: boolean;
}

const SHUTDOWN = { code: 'SHUTDOWN', reason: 'node is stopping' };

/** The connection manager of one node. */
export class Mesh {
  private readonly peers = new Map<string, Peer>();
  private readonly candidates = new Map<string, Candidate>();
  private readonly pending = new Set<Connection>();
  private listener: Listener | undefined;
  private detector: Detector | undefined;
  private stopped = false;
  private readonly startedAt: number;
  private readonly log: Logger;

  constructor(
    private readonly config: NodeConfig,
    private readonly network: Network,
    private readonly cookie: Secret,
    readonly incarnation: string,
    private readonly events: MeshEvents,
  ) {
    this.startedAt = config.clock.now();
    this.log = config.logger;
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

  /** How many connected members we heard from within the last withinMs. */
  freshMembers(withinMs: number): number {
    const now = this.config.clock.now();
    let n = 0;
    for (const p of this.peers.values()) if (now - p.conn.lastReceivedAt <= withinMs) n++;
    return n;
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
      members: () => [...this.peers.keys()],
      lastHeard: (name) => this.peers.get(name)?.conn.lastReceivedAt,
      sendPings: (seq) => {
        for (const peer of this.peers.values()) peer.conn.send({ t: 'ping', seq });
      },
      sendFd: (to, msg) => void this.peers.get(to)?.conn.send({ t: 'app', ch: FD_CHANNEL, body: msg }),
      declareDown: (name, silentForMs) => this.declareDown(name, silentForMs),
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
    for (const conn of this.pending) conn.close();
    this.pending.clear();
    const peers = [...this.peers.values()];
    this.peers.clear();
    for (const p of peers) p.conn.close(SHUTDOWN);
    await this.listener?.close();
  }

  /** Send an application message to a connected member; false if not connected. */
  send(to: string, channel: string, body: unknown): boolean {
    const peer = this.peers.get(to);
    return peer ? peer.conn.send({ t: 'app', ch: channel, body }) : false;
  }

  /** Close the connection to a member (it misbehaved); it goes down and may reconnect. */
  disconnect(name: string, code: string, reason: string): void {
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
    // A candidate with our own name but another identity (discovery drops our own
    // records) is dialed too: the handshake settles which of two live nodes keeps it.
    this.upsertCandidate(key, peer.name, peer.addresses, peer.port, false);
  }

  /** A discovery source lost a candidate (goodbye or expiry). */
  peerLost(id: string, source: DiscoveredPeer['source'] = 'mdns'): void {
    this.dropCandidate(`${source}:${id}`);
  }

  private upsertCandidate(key: string, name: string | undefined, addresses: string[], port: number, gossip: boolean): void {
    const existing = this.candidates.get(key);
    if (existing) {
      const changed = existing.port !== port || existing.addresses.join() !== addresses.join();
      existing.name = name ?? existing.name;
      existing.addresses = addresses;
      existing.port = port;
      if (changed && !existing.self) {
        existing.attempt = 0;
        this.schedule(existing, 0);
      }
      return;
    }
    const c: Candidate = { key, name, addresses, port, attempt: 0, authFailures: 0, timer: undefined, dialing: false, self: false, gossip };
    this.candidates.set(key, c);
    this.schedule(c, 0);
  }

  private dropCandidate(key: string): void {
    const c = this.candidates.get(key);
    if (!c) return;
    this.config.clock.clearTimeout(c.timer);
    this.candidates.delete(key);
  }

  // ---- dialing ---------------------------------------------------------------

  private schedule(c: Candidate, delayMs: number): void {
    if (this.stopped || c.self) return;
    this.config.clock.clearTimeout(c.timer);
    c.timer = this.config.clock.setTimeout(() => {
      c.timer = undefined;
      void this.dial(c);
    }, delayMs);
  }

  private isConnected(c: Candidate): boolean {
    if (c.name !== undefined) return this.peers.has(c.name);
    for (const p of this.peers.values()) {
      if (p.member.port === c.port && c.addresses.includes(p.member.host)) return true;
    }
    return false;
  }

  private retry(c: Candidate): void {
    if (!this.candidates.has(c.key)) return;
    const { reconnectMinMs, reconnectMaxMs, authBackoffMaxMs } = this.config;
    const delay =
      c.authFailures > 0
        ? backoffDelay(c.authFailures - 1, 1000, authBackoffMaxMs, this.config.random.float())
        : backoffDelay(c.attempt, reconnectMinMs, reconnectMaxMs, this.config.random.float());
    c.attempt++;
    this.schedule(c, delay);
  }

  private async dial(c: Candidate): Promise<void> {
    if (this.stopped || c.dialing || c.self || !this.candidates.has(c.key)) return;
    if (this.isConnected(c)) return;
    c.dialing = true;
    try {
      let stream: Stream | undefined;
      let lastError: unknown;
      for (const host of c.addresses) {
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
        this.log.debug('dial failed', { peer: c.name, addr: `${c.addresses.join('|')}:${c.port}`, error: describeError(lastError) });
        this.retry(c);
        return;
      }
      const conn = this.connect(stream, 'dialer');
      let peer: Hello;
      try {
        peer = await conn.handshake();
      } catch (err) {
        const code = err instanceof ClusterError ? err.code : 'ERR_PROTOCOL';
        if (code === 'ERR_AUTH_FAILED') {
          c.authFailures++;
          this.log.warn('authentication failed', { peer: c.name, addr: `${stream.remoteAddress}:${c.port}`, code });
        } else {
          this.log.warn('handshake failed', { peer: c.name, addr: `${stream.remoteAddress}:${c.port}`, code, error: describeError(err) });
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
      c.name ??= peer.name;
      if (!this.admit(conn, peer, stream.remoteAddress)) {
        this.retry(c);
        return;
      }
      c.attempt = 0;
    } finally {
      c.dialing = false;
    }
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
    };
  }

  private connect(stream: Stream, role: Role): Connection {
    const conn = new Connection(stream, {
      role,
      cookie: this.cookie,
      random: this.config.random,
      hello: this.hello(),
      maxFrameBytes: this.config.maxFrameBytes,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      clock: this.config.clock,
    });
    this.pending.add(conn);
    conn.onClose(() => this.pending.delete(conn));
    return conn;
  }

  private accept(stream: Stream): void {
    if (this.stopped) {
      stream.close();
      return;
    }
    if (this.pending.size >= MAX_PENDING_HANDSHAKES) {
      this.logFailure(stream.remoteAddress, 'too many connections in their handshake; refusing', { addr: `${stream.remoteAddress}:${stream.remotePort}`, code: 'ERR_PROTOCOL' });
      stream.close();
      return;
    }
    const conn = this.connect(stream, 'listener');
    conn.handshake().then(
      (peer) => {
        if (this.stopped) return conn.close();
        if (peer.name === this.config.name && peer.inc === this.incarnation) return conn.close();
        this.admit(conn, peer, stream.remoteAddress);
      },
      (err: unknown) => {
        const code = err instanceof ClusterError ? err.code : 'ERR_PROTOCOL';
        const addr = `${stream.remoteAddress}:${stream.remotePort}`;
        if (code === 'ERR_AUTH_FAILED') this.logFailure(stream.remoteAddress, 'authentication failed', { addr, code });
        else this.logFailure(stream.remoteAddress, 'handshake failed', { addr, code, error: describeError(err) });
      },
    );
  }

  private readonly failureLogWindows = new Map<string, { since: number; count: number }>();

  /**
   * A failed inbound connection costs one warning line — but at most
   * FAILURE_LOGS_PER_WINDOW per address per FAILURE_LOG_WINDOW_MS, so a flood of
   * hostile connections cannot flood the log (the rest go to debug, with a count).
   */
  private logFailure(address: string, message: string, meta: Record<string, unknown>): void {
    const now = this.config.clock.now();
    let w = this.failureLogWindows.get(address);
    if (!w || now - w.since > FAILURE_LOG_WINDOW_MS) {
      if (w && w.count > FAILURE_LOGS_PER_WINDOW) this.log.warn('more connection failures from this address were logged at debug level', { addr: address, count: w.count - FAILURE_LOGS_PER_WINDOW });
      w = { since: now, count: 0 };
      this.failureLogWindows.set(address, w);
      if (this.failureLogWindows.size > 1024) this.failureLogWindows.delete(this.failureLogWindows.keys().next().value!);
    }
    w.count++;
    if (w.count <= FAILURE_LOGS_PER_WINDOW) this.log.warn(message, meta);
    else this.log.debug(message, meta);
  }

  /** Decide what an authenticated connection becomes. Returns true if it is now the active one. */
  private admit(conn: Connection, peer: Hello, host: string): boolean {
    this.pending.delete(conn);
    if (conn.state !== 'open') return false;
    const dialer = conn.role === 'dialer' ? this.config.name : peer.name;
    const member: MeshMember = { name: peer.name, incarnation: peer.inc, host, port: peer.port };

    if (peer.name === this.config.name) {
      const mine = { inc: this.incarnation, up: conn.localHello.up };
      const holder = nameHolder(mine, { inc: peer.inc, up: peer.up });
      if (holder.inc === this.incarnation) {
        this.log.warn('refused a node using our name', { peer: peer.name, addr: host, code: 'ERR_NAME_IN_USE' });
        conn.close({ code: 'ERR_NAME_IN_USE', reason: `the name ${peer.name} is already in use by a live node` });
      } else {
        conn.close();
        this.events.fatal(new ClusterError('ERR_NAME_IN_USE', `the name ${peer.name} is already in use by a live node at ${host}:${peer.port}`));
      }
      return false;
    }

    const existing = this.peers.get(peer.name);
    if (existing && existing.member.incarnation === peer.inc) {
      if (existing.conn.state !== 'closed') {
        const keep = preferConnection({ dialer: existing.dialer }, { dialer }, this.config.name, peer.name);
        if (keep === 'existing') {
          conn.close({ code: DUPLICATE, reason: 'a connection between these nodes already exists' });
          return false;
        }
      }
      // Replace silently: the peer stays up. The new connection becomes current first,
      // so closing the old one is not mistaken for the peer going down.
      this.config.clock.clearTimeout(existing.orphanTimer);
      this.activate(conn, member, dialer, false);
      existing.conn.close({ code: DUPLICATE, reason: 'replaced by another connection between these nodes' });
      return true;
    }
    if (existing) {
      const silentFor = this.config.clock.now() - existing.conn.lastReceivedAt;
      if (silentFor <= 2 * this.config.heartbeatIntervalMs) {
        this.log.warn('refused a second live node with the same name', { peer: peer.name, addr: host, code: 'ERR_NAME_IN_USE' });
        conn.close({ code: 'ERR_NAME_IN_USE', reason: `the name ${peer.name} is already in use by a live node` });
        return false;
      }
      // The old incarnation is gone (restarted node): replace it.
      this.down(existing, 'restarted with a new incarnation');
      existing.conn.close();
    }
    this.activate(conn, member, dialer, true);
    return true;
  }

  private activate(conn: Connection, member: MeshMember, dialer: string, announce: boolean): void {
    const peer: Peer = { conn, member, dialer };
    this.peers.set(member.name, peer);
    this.detector?.forget(member.name);
    conn.onClose((err) => {
      if (this.peers.get(member.name) !== peer) return;
      if (err?.code === 'ERR_NAME_IN_USE') {
        this.peers.delete(member.name);
        this.events.fatal(new ClusterError('ERR_NAME_IN_USE', `the name ${this.config.name} is already in use by a live node (told by ${member.name})`));
        return;
      }
      if (conn.byeCode === DUPLICATE) {
        // The peer keeps another connection to us that we have not admitted yet (both
        // dialed at once): stay up and wait for it instead of flapping down and up.
        peer.orphanTimer = this.config.clock.setTimeout(() => this.down(peer, 'duplicate connection closed and no replacement arrived'), this.config.handshakeTimeoutMs);
        return;
      }
      if (conn.byeCode === DECLARED_DOWN) {
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
    // Tell the new peer whom we know, and everyone else about the new peer.
    const members = this.memberInfos();
    conn.send({ t: 'members', members });
    if (announce) {
      for (const other of this.peers.values()) if (other !== peer) other.conn.send({ t: 'members', members });
    }
  }

  private down(peer: Peer, reason: string): void {
    if (this.peers.get(peer.member.name) !== peer) return;
    this.config.clock.clearTimeout(peer.orphanTimer);
    this.peers.delete(peer.member.name);
    this.detector?.forget(peer.member.name);
    this.log.info('nodedown', { peer: peer.member.name, reason });
    this.events.nodedown({ ...peer.member }, reason);
    // Candidates learned only by gossip go with the member; discovery's own stay and are redialed.
    for (const c of [...this.candidates.values()]) {
      if (c.name !== peer.member.name) continue;
      if (c.gossip) this.dropCandidate(c.key);
      else {
        c.attempt = 0;
        this.schedule(c, backoffDelay(0, this.config.reconnectMinMs, this.config.reconnectMaxMs, this.config.random.float()));
      }
    }
    for (const c of this.candidates.values()) {
      if (c.name === undefined && c.port === peer.member.port && c.addresses.includes(peer.member.host)) this.schedule(c, this.config.reconnectMinMs);
    }
  }

  private memberInfos(): MemberInfo[] {
    const list: MemberInfo[] = [];
    for (const p of this.peers.values()) list.push({ name: p.member.name, inc: p.member.incarnation, host: p.member.host, port: p.member.port });
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
          if (m.name === this.config.name || this.peers.has(m.name) || m.port === 0) continue;
          this.upsertCandidate(`gossip:${m.name}`, m.name, [m.host], m.port, true);
        }
        return;
      case 'app':
        if (msg.ch === FD_CHANNEL) {
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

  private declareDown(name: string, silentFor: number): void {
    const peer = this.peers.get(name);
    if (!peer) return;
    const reason = `no heartbeat for ${Math.round(silentFor)} ms`;
    this.down(peer, reason);
    peer.conn.close({ code: DECLARED_DOWN, reason });
  }
}

/** Inbound connections allowed in their handshake at once; more are closed at once. */
const MAX_PENDING_HANDSHAKES = 256;
/** Warning lines per address per window for failed inbound connections. */
const FAILURE_LOGS_PER_WINDOW = 5;
const FAILURE_LOG_WINDOW_MS = 60_000;
/** The mesh-internal channel of the failure detector's indirect checks. */
const FD_CHANNEL = 'fd';
