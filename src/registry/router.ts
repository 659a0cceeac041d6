// Router: the one entry point of the registry channel ('reg'). It parses each message
// once (parseRegistryMessage: every field checked before anyone acts on it) and
// dispatches it by kind:
//   delta, digest, synced -> replication (sync.ts)
//   msg, reply            -> name messaging (messaging.ts)
//   cfm, cfr              -> the claim rule (claims.ts), from connected members only
//   qreq, qres, qrel      -> quorum grants (singleton/quorum.ts)
//   epochs                -> the fencing-epoch book (singleton/epochs.ts)
// Invariant: per-link order is kept. Dispatch is synchronous, in arrival order, so a
// member's delta is merged before a later cfm on the same link is answered (the claim
// rule relies on it).
// The routes are plain interfaces declared here: the registry never imports the
// singleton layer; the composition (src/replica.ts) plugs the handlers in.
import { parseRegistryMessage } from './messages.js';
import type { ClaimMessage, EpochsMessage, NameMessage, QuorumMessage, ReplicationMessage } from './messages.js';

/** Who handles each kind of registry message. */
export interface RegistryRoutes {
  replication: { receive(from: string, msg: ReplicationMessage): void; isMember(node: string): boolean };
  messaging: { receive(from: string, msg: NameMessage): void };
  claims: { receive(from: string, msg: ClaimMessage): void };
  quorum: { receive(from: string, msg: QuorumMessage): void };
  epochs: { receive(from: string, msg: EpochsMessage): void };
}

/** Parses registry messages once and hands each to its handler. */
export class RegistryRouter {
  constructor(private readonly routes: RegistryRoutes) {}

  /** Handle a registry message from a connected member. Throws ERR_PROTOCOL on a malformed one (the caller closes the connection). */
  receive(from: string, raw: unknown): void {
    const msg = parseRegistryMessage(raw);
    const r = this.routes;
    switch (msg.k) {
      case 'delta':
      case 'digest':
      case 'synced':
        return r.replication.receive(from, msg);
      case 'msg':
      case 'reply':
        return r.messaging.receive(from, msg);
      case 'epochs':
        return r.epochs.receive(from, msg);
      case 'qreq':
      case 'qres':
      case 'qrel':
        return r.quorum.receive(from, msg);
      case 'cfm':
      case 'cfr':
        // Handled after every message before it on this link (the claim's delta) was merged.
        if (r.replication.isMember(from)) r.claims.receive(from, msg);
        return;
    }
  }
}
