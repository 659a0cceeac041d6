// Config: what a user passes (NodeOptions) and the resolved, validated form the
// node runs on (NodeConfig). Defaults are named DEFAULT_* constants and come in two
// profiles: lanConfig() for real networks and testConfig() for fast local tests.
// Invariant: a NodeConfig is always valid; resolveConfig throws ERR_CONFIG otherwise.
import { ClusterError } from './errors.js';
import { describeValue } from './util/untrusted.js';
import { isValidNodeName } from './wire/messages.js';
import { DEFAULT_MAX_FRAME_BYTES } from './wire/frame.js';
import { DEFAULT_ANTI_ENTROPY_INTERVAL_MS, DEFAULT_REGISTRY_FANOUT } from './registry/sync.js';
import { DEFAULT_SETTLE_MS } from './singleton/supervisor.js';
import type { Clock } from './util/clock.js';
import { systemClock } from './util/clock.js';
import type { Random } from './util/random.js';
import { systemRandom } from './util/random.js';
import { Secret } from './util/secret.js';
import type { Logger } from './util/log.js';
import { silentLogger } from './util/log.js';
import type { Network } from './transport/transport.js';
import type { Discovery } from './discovery/discovery.js';
import { DEFAULT_CLUSTER_LABEL, isValidClusterLabel } from './discovery/mdns-records.js';

/** Interval between heartbeats on an idle connection: 500 ms. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 500;
/** Silence after which a peer is declared down: 3 s. */
export const DEFAULT_FAILURE_TIMEOUT_MS = 3000;
/** Deadline for a handshake to complete: 5 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Deadline for a TCP connect: 3 s. */
export const DEFAULT_DIAL_TIMEOUT_MS = 3000;
/** First reconnect delay after a failed dial: 200 ms (doubles per failure). */
export const DEFAULT_RECONNECT_MIN_MS = 200;
/** Longest reconnect delay to a discoverable peer: 4 s. */
export const DEFAULT_RECONNECT_MAX_MS = 4000;
/** Longest backoff after a peer failed authentication: 60 s. */
export const DEFAULT_AUTH_BACKOFF_MAX_MS = 60_000;
/** Longest interval between mDNS queries: 60 s (they start at 1 s and double). */
export const DEFAULT_MDNS_QUERY_MAX_INTERVAL_MS = 60_000;

/** What a user passes to createNode(). Only name and cookie are required. */
export interface NodeOptions {
  /** Full node name, name@host. */
  name: string;
  /** Shared secret; every node of a cluster uses the same one. Never logged. */
  cookie: string;
  /**
   * Public cluster label advertised over mDNS (TXT `cluster`): nodes with another label
   * are ignored by discovery, so several clusters can share a LAN. 1 to 63 characters of
   * A-Za-z0-9_-; default 'default'. Not a secret and no access control: the cookie is.
   */
  cluster?: string;
  /** IPv4 address to listen on (the CLI's --listen); default '0.0.0.0'. */
  listen?: string;
  /** @deprecated The old name of `listen`; still accepted. */
  host?: string;
  /** TCP port to listen on; default 0 (any free port). */
  port?: number;
  /** Static peers as 'host:port', tried forever with backoff. */
  seeds?: string[];
  /** Discover peers with mDNS; default true. */
  mdns?: boolean;
  /** IPv4 address of the one interface mDNS uses; default every multicast-capable IPv4 interface. */
  interface?: string;
  heartbeatIntervalMs?: number;
  failureTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  dialTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  authBackoffMaxMs?: number;
  mdnsQueryMaxIntervalMs?: number;
  maxFrameBytes?: number;
  /** Settle window before a Singleton claims its name, in ms; default 2000. */
  settleMs?: number;
  /** Interval of registry anti-entropy, in ms; default 1000. */
  antiEntropyIntervalMs?: number;
  /** Members each registry change is pushed to; default 4. */
  registryFanout?: number;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /** Replace TCP (simulations). */
  network?: Network;
  /** A directory where the node keeps the highest fencing epochs it has seen, so epochs keep rising across a restart of the whole cluster; default none (in memory only). */
  stateDir?: string;
  /** Replace mDNS and seeds with custom discovery sources. */
  discovery?: Discovery[];
  /**
   * A hidden node (like Erlang's): it connects to the members and can ask each for its
   * view (clusterStatus()), but it is never a member — never listed, never counted for a
   * quorum, never asked to vote, never holds a name — and it does not announce itself over
   * mDNS. `cluster-node status` runs one. Default false.
   */
  hidden?: boolean;
}

/** The resolved configuration. */
export interface NodeConfig {
  name: string;
  /** The cookie, held so that it never shows in a log, util.inspect() or JSON.stringify(). */
  cookie: Secret;
  cluster: string;
  host: string;
  port: number;
  seeds: { host: string; port: number }[];
  mdns: boolean;
  interface: string | undefined;
  heartbeatIntervalMs: number;
  failureTimeoutMs: number;
  handshakeTimeoutMs: number;
  dialTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  authBackoffMaxMs: number;
  mdnsQueryMaxIntervalMs: number;
  maxFrameBytes: number;
  settleMs: number;
  antiEntropyIntervalMs: number;
  registryFanout: number;
  clock: Clock;
  random: Random;
  logger: Logger;
  network: Network | undefined;
  stateDir: string | undefined;
  discovery: Discovery[] | undefined;
  hidden: boolean;
}

/** Timings for real LANs (the defaults). */
export function lanConfig(): Pick<
  NodeConfig,
  'heartbeatIntervalMs' | 'failureTimeoutMs' | 'handshakeTimeoutMs' | 'dialTimeoutMs' | 'reconnectMinMs' | 'reconnectMaxMs' | 'authBackoffMaxMs' | 'mdnsQueryMaxIntervalMs' | 'settleMs' | 'antiEntropyIntervalMs'
> {
  return {
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    failureTimeoutMs: DEFAULT_FAILURE_TIMEOUT_MS,
    handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
    dialTimeoutMs: DEFAULT_DIAL_TIMEOUT_MS,
    reconnectMinMs: DEFAULT_RECONNECT_MIN_MS,
    reconnectMaxMs: DEFAULT_RECONNECT_MAX_MS,
    authBackoffMaxMs: DEFAULT_AUTH_BACKOFF_MAX_MS,
    mdnsQueryMaxIntervalMs: DEFAULT_MDNS_QUERY_MAX_INTERVAL_MS,
    settleMs: DEFAULT_SETTLE_MS,
    antiEntropyIntervalMs: DEFAULT_ANTI_ENTROPY_INTERVAL_MS,
  };
}

/** Faster timings for tests on one machine. */
export function testConfig(): ReturnType<typeof lanConfig> {
  return {
    heartbeatIntervalMs: 100,
    failureTimeoutMs: 600,
    handshakeTimeoutMs: 1000,
    dialTimeoutMs: 1000,
    reconnectMinMs: 50,
    reconnectMaxMs: 500,
    authBackoffMaxMs: 2000,
    mdnsQueryMaxIntervalMs: 4000,
    settleMs: 500,
    antiEntropyIntervalMs: 200,
  };
}

function fail(message: string): never {
  throw new ClusterError('ERR_CONFIG', message);
}

/** Parse 'host:port' (IPv4 or hostname). Throws ERR_CONFIG with a hint on bad input. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(s.trim());
  if (!m) fail(`seed "${s}" is not host:port (for example 192.168.1.20:4369)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) fail(`seed "${s}" has port ${port}; use 1-65535`);
  return { host: m[1]!, port };
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) fail(`${name} must be a positive number of milliseconds, got ${v}`);
  return v;
}

/** Resolve options into a validated NodeConfig, or throw ClusterError ERR_CONFIG saying what to fix. */
export function resolveConfig(options: NodeOptions): NodeConfig {
  if (typeof options.name !== 'string' || !isValidNodeName(options.name)) {
    fail(`node name "${String(options.name)}" must look like name@host (letters, digits, '.', '_' and '-')`);
  }
  if (typeof options.cookie !== 'string' || options.cookie.length === 0) {
    fail('a cookie is required: every node of a cluster must share the same secret');
  }
  if (options.listen !== undefined && options.host !== undefined && options.listen !== options.host) {
    fail(`listen ("${String(options.listen)}") and its deprecated alias host ("${String(options.host)}") differ; give listen only`);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`port must be 0-65535, got ${port}`);
  const d = lanConfig();
  const cfg: NodeConfig = {
    name: options.name,
    cookie: new Secret(options.cookie),
    cluster: options.cluster ?? DEFAULT_CLUSTER_LABEL,
    host: options.listen ?? options.host ?? '0.0.0.0',
    port,
    seeds: (options.seeds ?? []).map(parseHostPort),
    mdns: options.mdns ?? true,
    interface: options.interface,
    heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? d.heartbeatIntervalMs),
    failureTimeoutMs: positive('failureTimeoutMs', options.failureTimeoutMs ?? d.failureTimeoutMs),
    handshakeTimeoutMs: positive('handshakeTimeoutMs', options.handshakeTimeoutMs ?? d.handshakeTimeoutMs),
    dialTimeoutMs: positive('dialTimeoutMs', options.dialTimeoutMs ?? d.dialTimeoutMs),
    reconnectMinMs: positive('reconnectMinMs', options.reconnectMinMs ?? d.reconnectMinMs),
    reconnectMaxMs: positive('reconnectMaxMs', options.reconnectMaxMs ?? d.reconnectMaxMs),
    authBackoffMaxMs: positive('authBackoffMaxMs', options.authBackoffMaxMs ?? d.authBackoffMaxMs),
    mdnsQueryMaxIntervalMs: positive('mdnsQueryMaxIntervalMs', options.mdnsQueryMaxIntervalMs ?? d.mdnsQueryMaxIntervalMs),
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    settleMs: options.settleMs ?? d.settleMs,
    antiEntropyIntervalMs: positive('antiEntropyIntervalMs', options.antiEntropyIntervalMs ?? d.antiEntropyIntervalMs),
    registryFanout: options.registryFanout ?? DEFAULT_REGISTRY_FANOUT,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    // Every line names the node (field `node`): logs of several nodes can be merged.
    logger: (options.logger ?? silentLogger).child({ node: options.name }),
    network: options.network,
    stateDir: options.stateDir,
    discovery: options.discovery,
    hidden: options.hidden ?? false,
  };
  if (!isValidClusterLabel(cfg.cluster)) {
    fail(`cluster label ${describeValue(cfg.cluster as unknown, 70)} must be 1 to 63 characters of letters, digits, '_' and '-' (for example "lab-2"); nodes with the same label on one LAN find each other`);
  }
  if (cfg.failureTimeoutMs < 2 * cfg.heartbeatIntervalMs) {
    fail(`failureTimeoutMs (${cfg.failureTimeoutMs}) must be at least twice heartbeatIntervalMs (${cfg.heartbeatIntervalMs})`);
  }
  if (cfg.interface !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(cfg.interface)) {
    fail(`interface "${cfg.interface}" must be the IPv4 address of a local interface, for example 192.168.1.10`);
  }
  if (!Number.isFinite(cfg.settleMs) || cfg.settleMs < 0) fail(`settleMs must be 0 or more milliseconds, got ${cfg.settleMs}`);
  if (!Number.isInteger(cfg.registryFanout) || cfg.registryFanout < 1) fail(`registryFanout must be a positive integer, got ${cfg.registryFanout}`);
  if (!Number.isInteger(cfg.maxFrameBytes) || cfg.maxFrameBytes < 1024) fail('maxFrameBytes must be an integer of at least 1024');
  return cfg;
}
