// Traffic: counters of what a node put on and took off the wire, for benchmarks and
// operators (node.traffic(), the status view). One mutable record per node, shared by
// the places that touch sockets: the mesh's connections add the bytes of every frame
// (handshake frames included, after framing: what the socket carries, not counting
// TCP/IP headers), mDNS adds every UDP datagram it sends or receives.
// Invariants: counters only grow, by whole non-negative integers; reading them
// allocates a copy, so a caller can never change them.

/** Bytes and frames on the mesh's TCP connections, and packets and bytes of mDNS, since the node started. */
export interface TrafficCounts {
  /** Bytes received on mesh connections (frame headers included; TCP/IP headers not). */
  meshBytesIn: number;
  /** Bytes sent on mesh connections (frame headers included; TCP/IP headers not). */
  meshBytesOut: number;
  /** Frames received on mesh connections (handshake and session frames). */
  meshFramesIn: number;
  /** Frames sent on mesh connections (handshake and session frames). */
  meshFramesOut: number;
  /** UDP datagrams received on the mDNS sockets (our own multicast, looped back, included). */
  mdnsPacketsIn: number;
  /** UDP datagrams sent on the mDNS sockets. */
  mdnsPacketsOut: number;
  /** UDP payload bytes received on the mDNS sockets. */
  mdnsBytesIn: number;
  /** UDP payload bytes sent on the mDNS sockets. */
  mdnsBytesOut: number;
}

/** The field names of TrafficCounts, in a fixed order. */
export const TRAFFIC_FIELDS = ['meshBytesIn', 'meshBytesOut', 'meshFramesIn', 'meshFramesOut', 'mdnsPacketsIn', 'mdnsPacketsOut', 'mdnsBytesIn', 'mdnsBytesOut'] as const;

/** A fresh set of counters at zero. */
export function zeroTraffic(): TrafficCounts {
  return { meshBytesIn: 0, meshBytesOut: 0, meshFramesIn: 0, meshFramesOut: 0, mdnsPacketsIn: 0, mdnsPacketsOut: 0, mdnsBytesIn: 0, mdnsBytesOut: 0 };
}

/** A copy of counts (what a reader gets). */
export function copyTraffic(counts: Readonly<TrafficCounts>): TrafficCounts {
  return { ...counts };
}

/** The growth of every counter from `from` to `to` (a later reading of the same node). */
export function trafficDelta(from: Readonly<TrafficCounts>, to: Readonly<TrafficCounts>): TrafficCounts {
  const d = zeroTraffic();
  for (const k of TRAFFIC_FIELDS) d[k] = to[k] - from[k];
  return d;
}
