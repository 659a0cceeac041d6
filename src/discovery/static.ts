// Static discovery: the --seed peers, for networks where multicast does not pass.
// Seeds are reported once at start and never lost; the mesh retries them forever
// with backoff, and a seed that turns out to be this node is recognised and skipped.
import type { Discovery, DiscoverySink } from './discovery.js';

/** A discovery source for fixed host:port seeds. */
export function staticDiscovery(seeds: readonly { host: string; port: number }[]): Discovery {
  return {
    async start(sink: DiscoverySink) {
      for (const s of seeds) sink.peerFound({ id: `${s.host}:${s.port}`, addresses: [s.host], port: s.port, source: 'seed' });
    },
    async stop() {},
  };
}
