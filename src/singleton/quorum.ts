// Quorum: the grants a quorum-mode Singleton collects before a tenure (qreq / qres /
// qrel on the registry channel).
// - A member grants (name, epoch) only above every epoch it has seen, while no live
//   member holds the name and no other live member holds an unexpired grant for it; a
//   non-voter (a node that is not a candidate for the name) refuses every grant.
// - A grant lives grantLifetimeMs (membership/timing.ts: it follows the failure
//   timeout, and the rule says why that is long enough and short enough). It goes
//   earlier when its claimant gives it back (qrel), goes down, or claims: a claim with
//   this epoch or a later one (ours, or a member's delta) consumes it, and from then on
//   the holder keeps others out.
// - With a state directory, a grant is answered only once the epoch it raised is saved
//   (persist), and refused if the save fails: a member that restarts must not grant the
//   same epoch again.
// - Bounds: a request or answer whose epoch the bound rule (registry/bounds.ts) refuses
//   is logged through the shared DropLog and counts as a refusal; never grounds to
//   disconnect or to grant.
// Direction: singleton -> registry. The registry hands qreq/qres/qrel over through its
// router (registry/router.ts) and tells us of claims through its `claimed` event; this
// file reads the replica only through the QuorumPort it is given.
// Invariants: every request settles exactly once and leaves no timer behind.
import { describeError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { judgeCounter } from '../registry/bounds.js';
import type { DropLog } from '../registry/drop-log.js';
import type { QuorumMessage, RegistryMessage } from '../registry/messages.js';
import type { Claim } from '../registry/registry.js';
import type { EpochBook } from './epochs.js';

/** The outcome of asking for a quorum. */
export interface QuorumResult {
  /** Members that granted, this node included. */
  granted: string[];
  /** The highest epoch any answer reported (to retry above it). */
  highestEpoch: number;
}

/** What quorum grants need from the node. */
export interface QuorumPort {
  /** This node's name. */
  readonly self: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The shared log of refused counters. */
  readonly drops: DropLog;
  /** The fencing-epoch book (grants are judged against, and raise, the highest epoch seen). */
  readonly epochs: EpochBook;
  /** How long a grant keeps others out (grantLifetimeMs of the failure timeout). */
  readonly grantLifetimeMs: number;
  /** The holder of name in this replica, if any. */
  holder(name: string): Claim | undefined;
  /** Whether node is a connected member (registry view). */
  isMember(node: string): boolean;
  /** The connected members. */
  members(): string[];
  /** Send a registry message to a connected member; false if it is not connected. */
  send(to: string, msg: RegistryMessage): boolean;
  /**
   * Resolves true once the epochs seen so far are durably saved (a state directory);
   * a grant is answered only then, and refused if the save failed. Default: none
   * (grants are answered at once).
   */
  persist?: () => Promise<boolean>;
  /** Whether this node votes on name (it stands as a candidate); a non-voter refuses every grant. Default: always. */
  mayVote?: (name: string) => boolean;
}

/** The quorum grants this node gives and asks for. */
export class QuorumGrants {
  private readonly grants = new Map<string, { to: string; epoch: number; at: number }>();
  private readonly requests = new Map<number, { answer: (from: string, ok: boolean, epoch: number) => void; gone: (member: string) => void }>();
  private nextRequestId = 1;
  private stopped = false;

  constructor(private readonly p: QuorumPort) {}

  /** Stop answering (grants being saved are not answered any more). */
  stop(): void {
    this.stopped = true;
  }

  /** A quorum message from a connected member. */
  receive(from: string, msg: QuorumMessage): void {
    switch (msg.k) {
      case 'qreq': {
        if (!this.p.isMember(from)) return;
        const verdict = judgeCounter(msg.epoch, this.p.epochs.epochOf(msg.name));
        if (verdict !== 'ok') this.p.drops.refused(from, 'quorum request epoch', msg.name, msg.epoch, verdict);
        const ok = verdict === 'ok' && (this.p.mayVote?.(msg.name) ?? true) && this.mayGrant(from, msg.name, msg.epoch);
        if (ok) this.grant(from, msg.name, msg.epoch);
        const persist = this.p.persist;
        if (!ok || !persist) {
          this.send(from, { k: 'qres', id: msg.id, ok, epoch: this.p.epochs.epochOf(msg.name) });
          return;
        }
        // A grant is given only once the epoch it raised is on disk: a member that
        // restarts must not grant the same epoch again.
        const { id, name, epoch } = msg;
        void persist().then((saved) => {
          if (!saved) this.dropGrant(from, name, epoch);
          if (!this.stopped) this.send(from, { k: 'qres', id, ok: saved, epoch: this.p.epochs.epochOf(name) });
        });
        return;
      }
      case 'qres':
        this.requests.get(msg.id)?.answer(from, msg.ok, msg.epoch);
        return;
      case 'qrel':
        this.dropGrant(from, msg.name, msg.epoch);
        return;
    }
  }

  /**
   * Ask the connected members (only the `voters`, when given) for a grant of (name, epoch). Resolves as soon as
   * `needed` grants are in (this node's own included, decided by the same rule), as
   * soon as they can no longer come (refusals, members going down), or after timeoutMs.
   */
  request(name: string, epoch: number, needed: number, timeoutMs: number, voters?: readonly string[]): Promise<QuorumResult> {
    const self = this.p.self;
    const granted: string[] = [];
    let highest = this.p.epochs.epochOf(name);
    if (this.mayGrant(self, name, epoch)) {
      this.grant(self, name, epoch);
      granted.push(self);
    }
    const waiting = new Set(voters ? voters.filter((v) => v !== self && this.p.isMember(v)) : this.p.members());
    const id = this.nextRequestId++;
    return new Promise<QuorumResult>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.requests.delete(id);
        this.p.clock.clearTimeout(timer);
        resolve({ granted, highestEpoch: highest });
      };
      const settleIfDecided = (): void => {
        if (granted.length >= needed || granted.length + waiting.size < needed || waiting.size === 0) finish();
      };
      const timer = this.p.clock.setTimeout(finish, timeoutMs);
      this.requests.set(id, {
        answer: (from, ok, theirEpoch) => {
          if (!waiting.delete(from)) return;
          // An answer whose epoch the bound rule refuses counts as a refusal, not a grant.
          if (!this.p.epochs.observe(name, theirEpoch, from)) ok = false;
          else highest = Math.max(highest, theirEpoch);
          if (ok) granted.push(from);
          settleIfDecided();
        },
        gone: (member) => {
          if (waiting.delete(member)) settleIfDecided();
        },
      });
      for (const m of [...waiting]) if (!this.send(m, { k: 'qreq', id, name, epoch })) waiting.delete(m);
      settleIfDecided();
    });
  }

  /** Give back grants we asked for and will not use. */
  release(name: string, epoch: number, from: string[]): void {
    for (const m of from) {
      if (m === this.p.self) this.dropGrant(m, name, epoch);
      else this.send(m, { k: 'qrel', name, epoch });
    }
  }

  /** A tenure with this epoch (or a later one) was claimed: the grant for it has done its work. */
  claimed(name: string, epoch: number): void {
    const g = this.grants.get(name);
    if (g && g.epoch <= epoch) this.grants.delete(name);
  }

  /** A member went down: its grants go, and no request waits for it any more. */
  memberDown(member: string): void {
    for (const [n, g] of this.grants) if (g.to === member) this.grants.delete(n);
    for (const r of [...this.requests.values()]) r.gone(member);
  }

  private mayGrant(requester: string, name: string, epoch: number): boolean {
    const holder = this.p.holder(name);
    if (holder && holder.owner !== requester) return false;
    const g = this.grants.get(name);
    const live = (n: string): boolean => n === this.p.self || this.p.isMember(n);
    if (g && g.to !== requester && live(g.to) && this.p.clock.now() - g.at < this.p.grantLifetimeMs) return false;
    if (g && g.to === requester && g.epoch === epoch) return true;
    return epoch > this.p.epochs.epochOf(name);
  }

  private grant(requester: string, name: string, epoch: number): void {
    this.grants.set(name, { to: requester, epoch, at: this.p.clock.now() });
    this.p.epochs.observe(name, epoch);
  }

  private dropGrant(requester: string, name: string, epoch: number): void {
    const g = this.grants.get(name);
    if (g && g.to === requester && g.epoch === epoch) this.grants.delete(name);
  }

  /** Send, never throw: a message that cannot go is logged and counts as not sent. */
  private send(to: string, msg: RegistryMessage): boolean {
    try {
      return this.p.send(to, msg);
    } catch (err) {
      this.p.logger.error(`cannot send a registry ${msg.k} message to ${to}: ${describeError(err)}`, { peer: to });
      return false;
    }
  }
}
