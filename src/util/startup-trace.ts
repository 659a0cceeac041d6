// Start-up trace: named moments of a node's start-up, recorded as User Timing marks
// (performance.mark, names `cluster-node:<phase>`) so the start-up benchmark can say
// where the time from exec to `node ready` goes.
// Invariants: off unless the environment variable CLUSTER_NODE_STARTUP_TRACE is set to
// 1 when this module loads; when off, a mark is one boolean test (nothing is stored,
// so a long-lived process that starts many nodes keeps no entries). Marks carry no
// data, only a phase name, so they can never hold a cookie or a peer's input.

/** The moments marked, in the order they happen on the way to `node ready`. */
export type StartupPhase =
  /** The CLI has parsed its command line (and read the cookie file, if any). */
  | 'args'
  /** The CLI's logger exists. */
  | 'logger'
  /** createNode() returned: configuration resolved, the node object built. */
  | 'created'
  /** The node listens on its TCP port. */
  | 'listening'
  /** Every discovery source (seeds, mDNS) has started. */
  | 'discovery'
  /** `node ready` was logged. */
  | 'ready';

/** Prefix of every mark's name. */
export const STARTUP_MARK_PREFIX = 'cluster-node:';

/** Environment variable that turns the marks on (value `1`). */
export const STARTUP_TRACE_ENV = 'CLUSTER_NODE_STARTUP_TRACE';

const enabled = process.env[STARTUP_TRACE_ENV] === '1';

/** Record that start-up reached phase (a User Timing mark), when tracing is on; otherwise nothing. */
export function traceStartup(phase: StartupPhase): void {
  if (enabled) performance.mark(STARTUP_MARK_PREFIX + phase);
}
