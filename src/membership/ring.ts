// Ring: the monitoring ring of the failure detector (as in Akka's cluster heartbeat).
// Every node sorts the names of the members it is connected to, plus its own, into a
// ring and watches the RING_WATCH_K members that follow it (wrapping round). Each member
// is then watched by the K members before it, so a node sends and judges a constant
// number of heartbeats whatever the cluster size, and a failure is still seen by K
// members at once. Pure functions over names.
// Invariants: the result never contains `self` nor a name twice; with N - 1 <= K
// members it is every member (the whole cluster watches everyone, as before the ring);
// two nodes with the same member view compute the same ring.

/** How many ring successors each node watches (and so how many watchers each member has): 3. */
export const RING_WATCH_K = 3;

/** The sorted ring of `members` and `self`, without duplicates. */
function ringOf(self: string, members: Iterable<string>): string[] {
  const names = new Set(members);
  names.add(self);
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The k members after `self` on the ring of `members` plus `self` (wrapping); every member when there are no more than k. */
export function ringSuccessors(self: string, members: Iterable<string>, k: number = RING_WATCH_K): string[] {
  const ring = ringOf(self, members);
  const at = ring.indexOf(self);
  const out: string[] = [];
  for (let i = 1; i < ring.length && out.length < k; i++) out.push(ring[(at + i) % ring.length]!);
  return out;
}

/**
 * The members that watch `target` in our view: the k before it on the ring of
 * `members` plus `self` (wrapping), `self` and `target` left out. They are the ones to
 * ask whether they still hear it.
 */
export function ringPredecessors(self: string, members: Iterable<string>, target: string, k: number = RING_WATCH_K): string[] {
  const ring = ringOf(self, members);
  const at = ring.indexOf(target);
  if (at < 0) return [];
  const out: string[] = [];
  for (let i = 1; i < ring.length && i <= k; i++) {
    const name = ring[(at - i + ring.length) % ring.length]!;
    if (name !== self && name !== target) out.push(name);
  }
  return out;
}
