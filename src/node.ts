// Node: the composition root. It resolves the configuration, stretches the cookie
// once, starts the mesh (TCP listener, dialer, heartbeats) and the discovery sources
// (mDNS and seeds), and re-emits membership changes as typed events.
// Invariant: after stop() resolves, the node holds no socket and no timer.
import { EventEmitter } from 'node:events';
import { resolveConfig } from './config.js';
import type { NodeConfig, NodeOptions } from './config.js';
import { ClusterError } from './errors.js';
import { Mesh } from './mesh.js';
import type { MeshMember } from './mesh.js';
import { clusterTag, deriveClusterKey } from './transport/session-crypto.js';
import { tcpNetwork } from './transport/tcp.js';
import type { Discovery } from './discovery/discovery.js';
import { mdnsDiscovery } from './discovery/mdns.js';
import { staticDiscovery } from './discovery/static.js';

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
}

/** Lifecycle of a node. */
export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** One cluster node. Create with createNode(). */
export class ClusterNode extends EventEmitter<NodeEvents> {
  readonly config: NodeConfig;
  /** Random id of this boot (hex). */
  readonly incarnation: string;
  private state: NodeState = 'new';
  private mesh: Mesh | undefined;
  private discoveries: Discovery[] = [];

  constructor(options: NodeOptions) {
    super();
    this.config = resolveConfig(options);
    this.incarnation = this.config.random.bytes(8).toString('hex');
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

  /** The other connected members with their addresses, sorted by name. */
  memberList(): Member[] {
    return this.mesh?.memberList() ?? [];
  }

  /** Listen, start discovery, and begin joining the cluster. Rejects with ERR_LISTEN if the port is taken. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ClusterError('ERR_CONFIG', `start() called on a node that is ${this.state}`);
    this.state = 'starting';
    const cfg = this.config;
    const key = deriveClusterKey(cfg.cookie);
    const mesh = new Mesh(cfg, cfg.network ?? tcpNetwork, key, this.incarnation, {
      nodeup: (m) => this.emit('nodeup', m),
      nodedown: (m, reason) => this.emit('nodedown', m, reason),
      message: () => {},
      fatal: (err) => this.onFatal(err),
    });
    this.mesh = mesh;
    try {
      await mesh.start();
    } catch (err) {
      this.state = 'stopped';
      throw err;
    }
    this.discoveries = cfg.discovery ?? [
      ...(cfg.seeds.length ? [staticDiscovery(cfg.seeds)] : []),
      ...(cfg.mdns
        ? [
            mdnsDiscovery({
              name: cfg.name,
              incarnation: this.incarnation,
              port: mesh.port,
              clusterTag: clusterTag(key),
              interface: cfg.interface,
              queryMaxIntervalMs: cfg.mdnsQueryMaxIntervalMs,
              clock: cfg.clock,
              random: cfg.random,
              logger: cfg.logger,
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
    this.state = 'running';
    cfg.logger.info('node ready', { node: cfg.name, address: mesh.address, port: mesh.port });
  }

  /** Say goodbye to discovery and to every peer, then close everything. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping' || this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.allSettled(this.discoveries.map((d) => d.stop()));
    await this.mesh?.stop();
    this.state = 'stopped';
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
