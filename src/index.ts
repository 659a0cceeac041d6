// The public API of cluster-node: createNode(), its options and events, error codes,
// and the profiles and building blocks useful to library users and simulations.
export { createNode, ClusterNode } from './node.js';
export { shortName, shortHostname } from './names.js';
export type { Member, NodeEvents, NodeState } from './node.js';
export { DEFAULT_CALL_TIMEOUT_MS } from './registry/messaging.js';
export type { NameHandler, CallOptions } from './registry/messaging.js';
export type { Claim } from './registry/registry.js';
export type { ClusterStatus, MemberView, ViewMember, ViewClaim } from './status.js';
export type { Stamp } from './registry/hlc.js';
export type { TrafficCounts } from './util/traffic.js';
export { SingletonSupervisor, DEFAULT_SETTLE_MS } from './singleton/supervisor.js';
export type { SingletonContext, SingletonStart, SingletonOptions, SingletonState, RegisterResult } from './singleton/supervisor.js';
export { SINGLETON_NAME, ROAR, roaringSingleton } from './singleton/singleton.js';
export { DEFAULT_ETCD_PREFIX } from './singleton/etcd-lease.js';
export type { EtcdLeaseOptions } from './singleton/etcd-lease.js';
export type { LeaseBackend, LeaseKind, LeaseTenure, LeaseHolder, LeaseEvents } from './singleton/lease.js';
export { resolveConfig, lanConfig, testConfig } from './config.js';
export type { NodeOptions, NodeConfig } from './config.js';
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_FAILURE_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_RECONNECT_MIN_MS,
  DEFAULT_RECONNECT_MAX_MS,
} from './config.js';
export { ClusterError, isClusterError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { DEFAULT_MAX_FRAME_BYTES } from './wire/frame.js';
export { PROTOCOL_VERSION } from './wire/messages.js';
export { systemClock, ManualClock } from './util/clock.js';
export type { Clock } from './util/clock.js';
export { systemRandom, seededRandom } from './util/random.js';
export type { Random } from './util/random.js';
export { Secret } from './util/secret.js';
export { createLogger, silentLogger } from './util/log.js';
export type { Logger, LogLevel } from './util/log.js';
export type { Network, Stream, Listener } from './transport/transport.js';
export { MemoryNetwork } from './transport/memory.js';
export type { Discovery, DiscoveredPeer, DiscoverySink } from './discovery/discovery.js';
export { staticDiscovery } from './discovery/static.js';
export { DEFAULT_CLUSTER_LABEL } from './discovery/mdns-records.js';
