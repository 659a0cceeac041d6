// Node: the composition root. It resolves the configuration, starts the mesh (TCP
// listener, dialer, heartbeats), the discovery sources (mDNS and seeds) and the
// registry replica (replica.ts: replication, claims, epochs, quorum grants, messaging
// behind one router), plugs the replica into the mesh, and offers the public API:
// membership, the global registry, messaging, Singletons.
// Invariant: after stop() resolves, the node holds no socket and no timer.
import { EventEmitter } from 'node:events';
import { resolveConfig } from './config.js';
import type { NodeConfig, NodeOptions } from './config.js';
import { ClusterError } from './errors.js';
import { Mesh } from './mesh/mesh.js';
import type { MeshMember } from './mesh/mesh.js';
import { tcpNetwork } from './transport/tcp.js';
import type { Discovery } from './discovery/discovery.js';
import { describeError } from './errors.js';
import { staticDiscovery } from './discovery/static.js';
import type { RegistrySync } from './registry/sync.js';
import { SigningKey } from './util/signing.js';
import type { TimerHandle } from './util/clock.js';
import { STATUS_CHANNEL } from './mesh/observers.js';
import { buildView, parseStatusMessage, StatusClient } from './status.js';
import type { ClusterStatus, StatusMessage } from './status.js';
import type { Claims } from './registry/claims.js';
import { Replica } from './replica.js';
import type { EpochBook } from './singleton/epochs.js';
import type { QuorumGrants } from './singleton/quorum.js';
import type { ClaimEpoch } from './registry/claims.js';
import { REGISTRY_CHANNEL, isValidRegisteredName } from './registry/messages.js';
import type { Claim } from './registry/registry.js';
import { NameMessaging } from './registry/messaging.js';
import { epochFilePath, readEpochs } from './util/state-file.js';
import { EpochSaver } from './util/epoch-saver.js';
import { traceStartup } from './util/startup-trace.js';
import { copyTraffic, zeroTraffic } from './util/traffic.js';
import type { TrafficCounts } from './util/traffic.js';
import type { CallOptions, NameHandler } from './registry/messaging.js';
import { candidacyPrefix, SingletonSupervisor } from './singleton/supervisor.js';
import { EtcdLease } from './singleton/etcd-lease.js';
import type { EtcdLeaseOptions } from './singleton/etcd-lease.js';
import type { ChangeEvent, ChangeListener, RegisterResult, SingletonHost, SingletonOptions, SingletonStart } from './singleton/supervisor.js';

/** Names the library keeps for itself (candidacy markers) start with this character. */
function isInternalName(name: string): boolean {
  return name.startsWith('\u0001');
}

/** A member of the cluster as reported in events. */
export type Member = MeshMember;

/** The events a node emits. */
export interface NodeEvents {
  /** A node joined (connected and authenticated). */
  nodeup: [member: Member];
  /** A node left: its connection closed or it fell silent. */
  nodedown: [member: Member, reason: string];
  /** The node cannot go on (for example another live node holds its name); it stops itself. */
  fatal: [error: ClusterError];
  /** A registered name has a (new) holder. */
  registered: [claim: Claim];
  /** Our claim on a name lost to an earlier claimant. */
  lost: [name: string, winner: Claim];
  /** A name has no holder any more (unregistered, or its holder went down). */
  freed: [name: string, previous: Claim];
}

/** Lifecycle of a node. */
export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** One cluster node. Create with createNode(). */
export class ClusterNode extends EventEmitter<NodeEvents> {
  readonly config: NodeConfig;
  /** Random id of this boot (hex). */
  readonly incarnation: string;
  /** This incarnation's Ed25519 key: signs our registry entries; its public half is in every hello. */
  private readonly signingKey: SigningKey;
  private state: NodeState = 'new';
  private mesh: Mesh | undefined;
  private replica: Replica | undefined;
  private registry: RegistrySync | undefined;
  private claims: Claims | undefined;
  private epochs: EpochBook | undefined;
  private quorum: QuorumGrants | undefined;
  private epochSaver: EpochSaver | undefined;
  private discoveries: Discovery[] = [];
  private readonly messaging: NameMessaging;
  private readonly supervisors = new Set<SingletonSupervisor>();
  /** Per member, how many times it came up: tells a continuous connection from a reconnect. */
  private readonly linkSerial = new Map<string, number>();
  private readonly changeListeners = new Set<ChangeListener>();
  /** A hidden node's questions to the members (clusterStatus()). */
  private statusClient: StatusClient | undefined;
  private startedAt = 0;
  /** What this node put on and took off the wire (mesh connections, mDNS). */
  private readonly trafficCounts: TrafficCounts = zeroTraffic();

  constructor(options: NodeOptions) {
    super();
    this.config = resolveConfig(options);
    this.incarnation = this.config.random.bytes(8).toString('hex');
    this.signingKey = SigningKey.fromSeed(this.config.random.bytes(32));
    this.messaging = new NameMessaging({
      self: this.config.name,
      inc: this.incarnation,
      clock: this.config.clock,
      whereis: (name) => this.registry?.whereis(name),
      sendTo: (node, msg) => this.mesh?.send(node, REGISTRY_CHANNEL, msg) ?? false,
    });
  }

  /** The node's full name, name@host. */
  get name(): string {
    return this.config.name;
  }

  /** The TCP port the node listens on (0 before start). */
  get port(): number {
    return this.mesh?.port ?? 0;
  }

  /** Names of the other connected members, sorted. */
  members(): string[] {
    return this.mesh?.members() ?? [];
  }

  /**
   * Resolves with members() once this node has company: at once if a member is up,
   * else when the first one comes up, or after timeoutMs (default the settle window)
   * when none does — then with []. start() resolves before any peer is known; await
   * this before reading members() at start-up.
   */
  joined(timeoutMs: number = this.config.settleMs): Promise<string[]> {
    if (this.state !== 'running') return Promise.reject(new ClusterError('ERR_NOT_STARTED', `the node is ${this.state}; call start() first`));
    if (this.members().length > 0) return Promise.resolve(this.members());
    return new Promise((resolve) => {
      const done = (): void => {
        this.off('nodeup', done);
        this.config.clock.clearTimeout(timer);
        resolve(this.members());
      };
      const timer = this.config.clock.setTimeout(done, timeoutMs);
      this.on('nodeup', done);
    });
  }

  /**
   * Bytes and frames this node sent and received on its mesh connections (handshakes
   * included, after framing) and mDNS datagrams and bytes, since createNode(); a copy.
   */
  traffic(): TrafficCounts {
    return copyTraffic(this.trafficCounts);
  }

  /** The other connected members with their addresses, sorted by name. */
  memberList(): Member[] {
    return this.mesh?.memberList() ?? [];
  }

  /** Listen, start discovery, and begin joining the cluster. Rejects with ERR_LISTEN if the port is taken. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ClusterError('ERR_CONFIG', `start() called on a node that is ${this.state}`);
    this.state = 'starting';
    const cfg = this.config;
    const saver: EpochSaver | undefined = cfg.stateDir
      ? new EpochSaver({ path: epochFilePath(cfg.stateDir, cfg.name), snapshot: (): [string, number][] => replica.epochs.all(), clock: cfg.clock, logger: cfg.logger })
      : undefined;
    this.epochSaver = saver;
    const replica = new Replica({
      self: { name: cfg.name, inc: this.incarnation },
      signer: this.signingKey,
      clock: cfg.clock,
      random: cfg.random,
      logger: cfg.logger,
      failureTimeoutMs: cfg.failureTimeoutMs,
      fanout: cfg.registryFanout,
      antiEntropyIntervalMs: cfg.antiEntropyIntervalMs,
      ...(saver ? { persist: () => saver.flush() } : {}),
      // Only a candidate for the name votes on it (observers are not asked, and refuse).
      epochInUse: (name): boolean => this.claimsOfMembers(candidacyPrefix(name)).length > 0,
      mayVote: (name): boolean => replica.sync.ownClaim(candidacyPrefix(name) + cfg.name) !== undefined,
      send: (to, msg) => mesh.send(to, REGISTRY_CHANNEL, msg),
      messaging: this.messaging,
      events: {
        registered: (c) => {
          if (!isInternalName(c.name)) this.emit('registered', c);
          this.changed('registered', c.name, c);
        },
        lost: (name, winner) => {
          // The replica's claim rule has released our losing claim already.
          this.messaging.deleteHandler(name);
          if (!isInternalName(name)) this.emit('lost', name, winner);
          this.changed('lost', name, winner);
        },
        freed: (name, prev) => {
          if (!isInternalName(name)) this.emit('freed', name, prev);
          this.changed('freed', name, prev);
        },
        epoch: () => saver?.markDirty(),
        epochsPruned: () => saver?.markDirty(),
      },
    });
    this.replica = replica;
    this.claims = replica.claims;
    this.epochs = replica.epochs;
    this.quorum = replica.quorum;
    const registry = replica.sync;
    if (cfg.stateDir) replica.epochs.seed(readEpochs(epochFilePath(cfg.stateDir, cfg.name)));
    // Save once at start: a state directory that cannot be written shows at once.
    saver?.markDirty();
    this.registry = registry;
    const mesh = new Mesh(cfg, cfg.network ?? tcpNetwork, cfg.cookie, this.incarnation, {
      nodeup: (m) => {
        // A hidden node replicates nothing: it asks the members for their views instead.
        if (!cfg.hidden) replica.nodeUp(m.name, m.incarnation, m.key);
        this.linkSerial.set(m.name, (this.linkSerial.get(m.name) ?? 0) + 1);
        this.emit('nodeup', m);
        this.changed('nodeup', m.name);
      },
      nodedown: (m, reason) => {
        if (!cfg.hidden) replica.nodeDown(m.name, m.incarnation);
        this.messaging.failCalls(m.name, `${m.name} went down`);
        this.emit('nodedown', m, reason);
        this.changed('nodedown', m.name);
      },
      relinked: (m) => replica.relinked(m.name),
      message: (from, channel, body) => {
        if (channel !== (cfg.hidden ? STATUS_CHANNEL : REGISTRY_CHANNEL)) return;
        try {
          if (cfg.hidden) this.statusClient?.receive(from, body);
          else replica.receive(from, body);
        } catch (err) {
          mesh.disconnect(from, 'ERR_PROTOCOL', describeError(err));
        }
      },
      fatal: (err) => this.onFatal(err),
      observerRequest: (_observer, body) => this.answerObserver(body),
      leaseWatch: () => [...this.supervisors].flatMap((s) => s.leaseWatch()),
    }, this.signingKey, this.trafficCounts);
    this.mesh = mesh;
    this.startedAt = cfg.clock.now();
    if (cfg.hidden) {
      this.statusClient = new StatusClient({
        setTimeout: (fn, ms) => cfg.clock.setTimeout(fn, ms),
        clearTimeout: (h) => cfg.clock.clearTimeout(h as TimerHandle | undefined),
        members: () => mesh.members(),
        send: (to, msg) => mesh.send(to, STATUS_CHANNEL, msg),
      });
    }
    try {
      await mesh.start();
    } catch (err) {
      this.state = 'stopped';
      throw err;
    }
    traceStartup('listening');
    // mDNS (and its multicast-dns dependency) is loaded only when it is used: a node
    // with --no-mdns, or with discovery sources of its own, starts without it.
    const mdnsDiscovery = cfg.discovery === undefined && cfg.mdns ? (await import('./discovery/mdns.js')).mdnsDiscovery : undefined;
    if (this.state !== 'starting') return; // stop() came while the module loaded: start nothing more
    this.discoveries = cfg.discovery ?? [
      ...(cfg.seeds.length ? [staticDiscovery(cfg.seeds)] : []),
      ...(mdnsDiscovery
        ? [
            mdnsDiscovery({
              name: cfg.name,
              incarnation: this.incarnation,
              port: mesh.port,
              cluster: cfg.cluster,
              interface: cfg.interface,
              queryMaxIntervalMs: cfg.mdnsQueryMaxIntervalMs,
              // A hidden node browses but never announces: nobody should dial it.
              announce: !cfg.hidden,
              clock: cfg.clock,
              random: cfg.random,
              logger: cfg.logger,
              traffic: this.trafficCounts,
            }),
          ]
        : []),
    ];
    for (const d of this.discoveries) {
      await d.start({
        peerFound: (p) => mesh.peerFound(p),
        peerLost: (id) => mesh.peerLost(id),
      });
    }
    traceStartup('discovery');
    replica.start();
    this.state = 'running';
    cfg.logger.info('node ready', { node: cfg.name, address: mesh.address, port: mesh.port });
    traceStartup('ready');
  }

  /** Say goodbye to discovery and to every peer, then close everything. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping' || this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.allSettled([...this.supervisors].map((s) => s.stop()));
    await Promise.allSettled(this.discoveries.map((d) => d.stop()));
    this.statusClient?.stop();
    this.replica?.stop();
    this.epochSaver?.stop();
    this.messaging.failCalls(undefined, 'node stopped');
    await this.mesh?.stop();
    this.state = 'stopped';
  }

  // ---- the global registry ------------------------------------------------------

  private running(): RegistrySync {
    if (this.state !== 'running' || !this.registry) throw new ClusterError('ERR_NOT_STARTED', `the node is ${this.state}; call start() first`);
    if (this.config.hidden) throw new ClusterError('ERR_HIDDEN', 'a hidden node observes the cluster and cannot register names or run Singletons; use clusterStatus()');
    return this.registry;
  }

  // ---- observing (hidden nodes) ---------------------------------------------------

  /** Our view, for an observer's status question; undefined for anything else. */
  private answerObserver(body: unknown): unknown {
    if (this.config.hidden || !this.mesh) return undefined;
    let msg: StatusMessage;
    try {
      msg = parseStatusMessage(body);
    } catch {
      return undefined;
    }
    if (msg.k !== 'q') return undefined;
    const mesh = this.mesh;
    const view = buildView({
      node: this.name,
      inc: this.incarnation,
      upMs: this.config.clock.now() - this.startedAt,
      members: mesh.memberList(),
      heardMsAgo: (name) => mesh.heardMsAgo(name),
      // A whereis asks about one name: one lookup, not a sorted copy of the whole registry.
      registered: msg.name === undefined ? this.registered() : this.registeredAs(msg.name),
      ...(msg.name !== undefined ? { only: msg.name } : { traffic: this.traffic() }),
    });
    return { k: 'a', id: msg.id, view };
  }

  /**
   * A hidden node's look at the cluster: asks every member it is connected to for its
   * view (members, registry; only `name` in the registry when given) and combines the
   * answers, after at most timeoutMs. Throws
   * ERR_CONFIG on a node that is not hidden (a member has its own view: members(),
   * registered()).
   */
  clusterStatus(timeoutMs = 2000, name?: string): Promise<ClusterStatus> {
    if (!this.config.hidden || !this.statusClient) {
      throw new ClusterError(this.state === 'running' ? 'ERR_CONFIG' : 'ERR_NOT_STARTED', 'clusterStatus() is for a started hidden node (createNode({ hidden: true }))');
    }
    return this.statusClient.request(timeoutMs, name);
  }

  /** Names of the hidden nodes (observers) connected to this member now. */
  observers(): string[] {
    return this.mesh?.observerNames() ?? [];
  }

  /**
   * Register name for this node across the cluster. Waits (up to settleMs) until the
   * registry has synced with every member up now, then claims the name unless a live
   * node already holds it, and confirms the claim with every connected member (one
   * round trip; nodes registering at the same instant resolve to one). Won: messages
   * to the name reach handler. Lost: the holder. Not confirmed in time (a member that
   * stays connected but does not answer within twice the failure timeout): `owner` is
   * undefined and `unconfirmed` says why; the claim was released.
   */
  async register<Req = unknown, Res = unknown>(name: string, handler?: NameHandler<Req, Res>): Promise<RegisterResult> {
    if (!isValidRegisteredName(name) || isInternalName(name)) throw new ClusterError('ERR_CONFIG', 'a registered name must be 1 to 255 characters and not start with \\u0001');
    await this.running().whenSynced(this.config.settleMs);
    return this.claimName(name, 0, handler as NameHandler | undefined);
  }

  /** Claim name through the claim rule (registry/claims.ts): confirmed by every connected member before it counts as won. */
  private async claimName(name: string, epoch: ClaimEpoch, handler?: NameHandler): Promise<RegisterResult> {
    this.running();
    const outcome = await this.claims!.claim(name, epoch);
    switch (outcome.kind) {
      case 'won':
        if (handler) this.messaging.setHandler(name, handler);
        return { won: true, claim: outcome.claim };
      case 'held': {
        const h = outcome.holder;
        if (!('inc' in h)) return { won: false, owner: h.owner, claim: h };
        // Named by a member's answer: our replica's copy of that claim if we have it.
        const local = this.registry?.whereis(name);
        const claim: Claim =
          local && local.owner === h.owner && local.incarnation === h.inc ? local : { name, owner: h.owner, incarnation: h.inc, stamp: h.stamp, version: 0, epoch: h.epoch ?? 0 };
        return { won: false, owner: h.owner, claim };
      }
      case 'unconfirmed':
        return { won: false, owner: undefined, unconfirmed: outcome.why };
    }
  }

  /** Release our claim on name (a tombstone spreads). Returns false if we held no claim. */
  unregister(name: string): boolean {
    this.messaging.deleteHandler(name);
    return this.registry?.release(name) ?? false;
  }

  /** The node holding name, or undefined. A local read. */
  whereis(name: string): string | undefined {
    return this.registry?.whereis(name)?.owner;
  }

  /** The holder's claim on name as registered() would list it: none for a free or internal name. */
  private registeredAs(name: string): Claim[] {
    const c = isInternalName(name) ? undefined : this.registry?.whereis(name);
    return c ? [c] : [];
  }

  /** Every held name with its holder's claim, sorted by name. */
  registered(): Claim[] {
    return (this.registry?.registered() ?? []).filter((c) => !isInternalName(c.name));
  }

  /** Raise name's epoch and wait until it is durably saved (true without a state directory); a tenure must not start on an epoch a crash could forget. */
  private async persistEpoch(name: string, epoch: number): Promise<boolean> {
    this.running();
    if (!this.epochs!.reserve(name, epoch)) return false;
    return this.epochSaver ? this.epochSaver.flush() : true;
  }

  /** The claims on prefix + node, for this node and every connected member (candidacy markers). */
  private claimsOfMembers(prefix: string): Claim[] {
    const claims: Claim[] = [];
    for (const node of [this.name, ...this.members()]) {
      const c = this.registry?.whereis(prefix + node);
      if (c) claims.push(c);
    }
    return claims;
  }

  private changed(event: ChangeEvent, name: string, claim?: Claim): void {
    for (const l of [...this.changeListeners]) {
      try {
        l(event, name, claim);
      } catch (err) {
        this.config.logger.error(`change listener failed: ${describeError(err)}`);
      }
    }
  }

  /** Send message to the holder of name (fire and forget). Returns false if nobody holds it. Throws ERR_BAD_MESSAGE if message is not plain data (objects, arrays, strings, numbers, booleans, null, Uint8Array), ERR_FRAME_TOO_LARGE if it does not fit a frame. */
  send(name: string, message: unknown): boolean {
    this.running();
    return this.messaging.send(name, message);
  }

  /** Send message to the holder of name and wait for its handler's answer. Rejects with ERR_NO_SUCH_NAME, ERR_CALL_TIMEOUT, ERR_CALL_FAILED, or ERR_BAD_MESSAGE / ERR_FRAME_TOO_LARGE for a message that cannot go. */
  call<Res = unknown, Req = unknown>(name: string, message: Req, options: CallOptions = {}): Promise<Res> {
    this.running();
    return this.messaging.call(name, message, options) as Promise<Res>;
  }

  /**
   * Run start() on exactly one node of the cluster under name (restart: temporary).
   * After a settle window the node claims name; the first claimant's code runs, later
   * claimants never start theirs, and code that loses the name to an earlier claimant
   * is stopped and not restarted.
   */
  singleton(name: string, start: SingletonStart, options: SingletonOptions = {}): SingletonSupervisor {
    this.running();
    if (options.quorum !== undefined && (!Number.isInteger(options.quorum) || options.quorum < 1)) {
      throw new ClusterError('ERR_CONFIG', `quorum must be a positive integer, got ${String(options.quorum)}`);
    }
    if (options.etcd && options.quorum !== undefined) throw new ClusterError('ERR_CONFIG', 'a Singleton elected through etcd takes no quorum (etcd is the quorum): give etcd or quorum, not both');
    const host: SingletonHost = {
      name: this.name,
      clock: this.config.clock,
      logger: this.config.logger,
      failureTimeoutMs: this.config.failureTimeoutMs,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      register: async (n, epoch = 0) => {
        await this.running().whenSynced(this.config.settleMs);
        return this.claimName(n, epoch);
      },
      unregister: (n) => this.unregister(n),
      holder: (n) => this.registry?.whereis(n),
      claimsOfMembers: (prefix) => this.claimsOfMembers(prefix),
      epochOf: (n) => this.epochs?.epochOf(n) ?? 0,
      persistEpoch: (n, epoch) => this.persistEpoch(n, epoch),
      requestQuorum: (n, epoch, needed, ms, voters) => {
        this.running();
        return this.quorum!.request(n, epoch, needed, ms, voters);
      },
      releaseQuorum: (n, epoch, granted) => this.quorum?.release(n, epoch, granted),
      whenSynced: (ms) => this.running().whenSynced(ms),
      isSynced: () => this.registry?.isSynced() ?? false,
      freshMembers: (ms, among) => this.mesh?.freshMembers(ms, among) ?? 0,
      members: () => this.members().map((m) => `${m}#${this.linkSerial.get(m) ?? 0}`),
      lastHealthyTickAt: () => this.mesh?.lastHealthyTickAt ?? 0,
      lastDeclaredDownAt: () => this.mesh?.declaredDownAt ?? -Infinity,
      onChange: (cb) => {
        this.changeListeners.add(cb);
        return () => this.changeListeners.delete(cb);
      },
    };
    const sup = new SingletonSupervisor(host, name, start, options.settleMs ?? this.config.settleMs, options, options.etcd ? this.etcdLease(name, options.etcd) : undefined);
    this.supervisors.add(sup);
    sup.run().catch((err: unknown) => this.config.logger.error(`${name} supervisor failed: ${describeError(err)}`, { name }));
    return sup;
  }

  /** The etcd lease backend of a Singleton (throws ERR_CONFIG on bad endpoints). */
  private etcdLease(name: string, o: EtcdLeaseOptions): EtcdLease {
    const cfg = this.config;
    return new EtcdLease({ ...o, self: cfg.name, name, cluster: cfg.cluster, clock: cfg.clock, logger: cfg.logger, failureTimeoutMs: cfg.failureTimeoutMs });
  }

  private onFatal(err: ClusterError): void {
    this.config.logger.error(err.message, { code: err.code });
    this.emit('fatal', err);
    void this.stop();
  }
}

/** Create a node; call start() to join the cluster. Throws ERR_CONFIG on bad options. */
export function createNode(options: NodeOptions): ClusterNode {
  return new ClusterNode(options);
}
