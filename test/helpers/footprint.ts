// Footprint: the sizes of a node's per-peer and per-incarnation structures, read
// through its internals, for tests that check a long-lived node does not keep growing
// as peers come and go (memory under churn: sizes, not heap bytes, so the check is
// deterministic).
// Invariant: read-only; a structure the node no longer has reads as -1, so a rename
// shows up as a failing assertion, not as a silent pass.
import type { ClusterNode } from '../../src/index.js';

/** Sizes of one node's structures that could grow with departed peers. */
export interface Footprint {
  /** Incarnations whose signing keys the mesh remembers (mesh/identities.ts). */
  identities: number;
  /** Node names among them. */
  identityNames: number;
  /** Connected members in the mesh. */
  peers: number;
  /** Places the mesh may dial (mesh/candidates.ts). */
  candidates: number;
  /** Owner incarnations in the registry replica (registry/registry.ts). */
  registryOwners: number;
  /** Tombstones in the registry replica. */
  tombstones: number;
  /** Names in the fencing-epoch book. */
  epochNames: number;
  /** Members whose reconnects the node counts (node.ts linkSerial). */
  linkSerials: number;
}

type Sized = { size: number } | undefined;

function size(x: Sized): number {
  return typeof x?.size === 'number' ? x.size : -1;
}

/** The footprint of a started node. */
export function footprint(node: ClusterNode): Footprint {
  const n = node as unknown as {
    mesh?: { identities?: { size: number; names: number }; peers?: Sized; candidates?: Sized };
    replica?: { sync?: { state?: { ownerIds(): unknown[]; tombstones(): number } }; epochs?: { all(): unknown[] } };
    linkSerial?: Sized;
  };
  const state = n.replica?.sync?.state;
  return {
    identities: size(n.mesh?.identities),
    identityNames: typeof n.mesh?.identities?.names === 'number' ? n.mesh.identities.names : -1,
    peers: size(n.mesh?.peers),
    candidates: size(n.mesh?.candidates),
    registryOwners: state ? state.ownerIds().length : -1,
    tombstones: state ? state.tombstones() : -1,
    epochNames: n.replica?.epochs ? n.replica.epochs.all().length : -1,
    linkSerials: size(n.linkSerial),
  };
}
