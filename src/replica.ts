// Replica: one node's registry and every protocol that rides on its channel, wired once
// for the node (node.ts) and the simulator (test/helpers/sim.ts) alike, so both run the
// same code: replication (registry/sync.ts), the claim rule (registry/claims.ts),
// name messaging (registry/messaging.ts, given by the caller), the fencing-epoch book
// (singleton/epochs.ts) and quorum grants (singleton/quorum.ts), behind one router
// (registry/router.ts).
// Direction: this is composition (the node layer): it may import registry and
// singleton; the registry reaches the singleton parts only through the ports it
// declares (EpochPort, the `claimed` event, the router's routes).
// Every message the parts send goes through `port.send` (one place to count or drop
// traffic in benchmarks), and every message received goes through receive().
// Invariants: no timers until start(); after stop() no part sends anything.
import { confirmTimeoutMs, grantLifetimeMs } from './membership/timing.js';
import { Claims } from './registry/claims.js';
import type { EntrySigner } from './registry/entry-signature.js';
import { DropLog } from './registry/drop-log.js';
import type { NameMessage, RegistryMessage } from './registry/messages.js';
import type { Claim } from './registry/registry.js';
import { RegistryRouter } from './registry/router.js';
import { RegistrySync } from './registry/sync.js';
import { EpochBook } from './singleton/epochs.js';
import { QuorumGrants } from './singleton/quorum.js';
import type { Clock } from './util/clock.js';
import type { Logger } from './util/log.js';
import type { Random } from './util/random.js';

/** What a replica reports. */
export interface ReplicaEvents {
  /** name now has this holder (new, or changed). */
  registered(claim: Claim): void;
  /** Our claim on name lost to an earlier claimant (the claim rule has released it already). */
  lost(name: string, winner: Claim): void;
  /** name has no holder any more. */
  freed(name: string, previous: Claim): void;
  /** The highest fencing epoch seen for name rose (persist it). */
  epoch?(name: string, epoch: number): void;
  /** Epochs of names nobody uses were forgotten (persist the smaller map). */
  epochsPruned?(): void;
}

/** Settings of a replica. */
export interface ReplicaOptions {
  self: { name: string; inc: string };
  /** This incarnation's signing key: every entry it writes is signed (registry/entry-signature.ts). */
  signer: EntrySigner;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Send a registry message to a connected member; false if it is not connected. */
  send(to: string, msg: RegistryMessage): boolean;
  events: ReplicaEvents;
  /** Where 'msg' and 'reply' go (the node's NameMessaging). */
  messaging: { receive(from: string, msg: NameMessage): void };
  /** The failure timeout, ms: the confirm deadline and the grant lifetime follow it (membership/timing.ts). */
  failureTimeoutMs: number;
  /** Deadline of a confirm round, ms; default confirmTimeoutMs(failureTimeoutMs). */
  confirmTimeoutMs?: number;
  /** Members each change is pushed to; default the sync's (4). */
  fanout?: number;
  /** Interval of anti-entropy digests, ms; default the sync's (1000). */
  antiEntropyIntervalMs?: number;
  /** Most entries per delta message; default the sync's. */
  maxDeltaEntries?: number;
  /** Resolves true once the epochs seen so far are durably saved; quorum grants wait for it. Default: none. */
  persist?: () => Promise<boolean>;
  /** Most names in the epoch book; default its own. */
  maxEpochNames?: number;
  /** Forget the epoch of a name nobody uses after this long, ms; default the book's. */
  epochPruneAfterMs?: number;
  /** Whether name has candidates (keeps its epoch); default never. */
  epochInUse?: (name: string) => boolean;
  /** Whether this node votes on name; default always. */
  mayVote?: (name: string) => boolean;
}

/** One node's registry replica with its protocols. */
export class Replica {
  readonly sync: RegistrySync;
  readonly epochs: EpochBook;
  readonly quorum: QuorumGrants;
  readonly claims: Claims;
  readonly router: RegistryRouter;
  /** The one way out for registry messages (replaceable, for benchmarks that count traffic). */
  readonly port: { send(to: string, msg: RegistryMessage): boolean };

  constructor(o: ReplicaOptions) {
    const port = { send: (to: string, msg: RegistryMessage): boolean => o.send(to, msg) };
    this.port = port;
    const send = (to: string, msg: RegistryMessage): boolean => this.port.send(to, msg);
    const drops = new DropLog(o.clock, o.logger);
    const epochs: EpochBook = new EpochBook({
      self: o.self.name,
      clock: o.clock,
      logger: o.logger,
      drops,
      holder: (n): Claim | undefined => sync.whereis(n),
      events: {
        epoch: (n, e) => o.events.epoch?.(n, e),
        epochsPruned: () => o.events.epochsPruned?.(),
      },
      ...(o.maxEpochNames !== undefined ? { maxEpochNames: o.maxEpochNames } : {}),
      ...(o.epochPruneAfterMs !== undefined ? { epochPruneAfterMs: o.epochPruneAfterMs } : {}),
      ...(o.epochInUse ? { epochInUse: o.epochInUse } : {}),
    });
    const sync: RegistrySync = new RegistrySync({
      self: o.self,
      signer: o.signer,
      clock: o.clock,
      random: o.random,
      logger: o.logger,
      port: { send },
      epochs,
      drops,
      ...(o.fanout !== undefined ? { fanout: o.fanout } : {}),
      ...(o.antiEntropyIntervalMs !== undefined ? { antiEntropyIntervalMs: o.antiEntropyIntervalMs } : {}),
      ...(o.maxDeltaEntries !== undefined ? { maxDeltaEntries: o.maxDeltaEntries } : {}),
      events: {
        registered: (c) => o.events.registered(c),
        lost: (name, winner) => {
          // A claim that lost stays lost: release it, so it cannot come back as the
          // holder when the winner goes away later.
          claims.lost(name);
          o.events.lost(name, winner);
        },
        freed: (name, prev) => o.events.freed(name, prev),
        claimed: (name, epoch) => quorum.claimed(name, epoch),
      },
    });
    const quorum: QuorumGrants = new QuorumGrants({
      self: o.self.name,
      clock: o.clock,
      logger: o.logger,
      drops,
      epochs,
      grantLifetimeMs: grantLifetimeMs(o.failureTimeoutMs),
      holder: (n): Claim | undefined => sync.whereis(n),
      isMember: (n) => sync.isMember(n),
      members: () => sync.memberNames(),
      send,
      ...(o.persist ? { persist: o.persist } : {}),
      ...(o.mayVote ? { mayVote: o.mayVote } : {}),
    });
    const claims: Claims = new Claims(
      {
        self: o.self,
        clock: o.clock,
        logger: o.logger,
        holder: (n): Claim | undefined => sync.whereis(n),
        ownClaim: (n) => sync.ownClaim(n),
        epochOf: (n) => epochs.epochOf(n),
        claim: (n, epoch) => sync.claim(n, epoch),
        release: (n) => sync.release(n),
        members: () => sync.memberNames(),
        send,
      },
      { timeoutMs: o.confirmTimeoutMs ?? confirmTimeoutMs(o.failureTimeoutMs) },
    );
    this.sync = sync;
    this.epochs = epochs;
    this.quorum = quorum;
    this.claims = claims;
    this.router = new RegistryRouter({ replication: sync, messaging: o.messaging, claims, quorum, epochs });
  }

  /** Start anti-entropy. */
  start(): void {
    this.sync.start();
  }

  /** A registry message from a connected member. Throws ERR_PROTOCOL on a malformed one (close the connection). */
  receive(from: string, raw: unknown): void {
    this.router.receive(from, raw);
  }

  /** A member came up (or reconnected with a new incarnation); key: the signing key its incarnation proved in the handshake. */
  nodeUp(name: string, inc: string, key: Uint8Array): void {
    this.sync.nodeUp(name, inc, key);
  }

  /** The connection to a member was replaced without it going down. */
  relinked(name: string): void {
    this.sync.relinked(name);
  }

  /** A member went down: its grants and claims go, and no round or request waits for it. */
  nodeDown(name: string, inc: string): void {
    this.quorum.memberDown(name);
    this.sync.nodeDown(name, inc);
    this.claims.memberDown(name);
  }

  /** Stop: every claim round fails, nothing more is sent. */
  stop(): void {
    this.claims.stop();
    this.quorum.stop();
    this.sync.stop();
  }
}
