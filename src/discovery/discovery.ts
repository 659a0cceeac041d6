// Discovery: the port through which the node learns candidate peers to dial. mDNS
// (mdns.ts) and static seeds (static.ts) implement it. A discovery source only
// reports addresses; authentication happens in the handshake, never here.

/** A candidate peer: where a node may be listening. */
export interface DiscoveredPeer {
  /** Stable id of this candidate within its source (mDNS instance name, or "host:port" for a seed). */
  id: string;
  /** The node name, when the source knows it (mDNS TXT); undefined for seeds. */
  name?: string;
  /** IPv4 addresses to try, in order of preference. */
  addresses: string[];
  /** TCP port. */
  port: number;
  source: 'mdns' | 'seed';
  /**
   * mDNS only: the IPv4 source address of the response that described this candidate
   * (its SRV record). Always on one of our links, but not authenticated: anyone on the
   * link can send from any address. Undefined for seeds.
   */
  sourceAddress?: string;
}

/** Where a discovery source reports what it finds. */
export interface DiscoverySink {
  /** A candidate appeared or its addresses changed. */
  peerFound(peer: DiscoveredPeer): void;
  /** A candidate said goodbye or expired. */
  peerLost(id: string): void;
}

/** A source of candidate peers. */
export interface Discovery {
  /** Begin discovering; reports go to sink. Must not reject for lack of a network: warn instead. */
  start(sink: DiscoverySink): Promise<void>;
  /** Stop, saying goodbye where the protocol has one. */
  stop(): Promise<void>;
}
