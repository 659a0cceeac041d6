// Claims: the one claim rule — check the holder, claim, push, confirm, and release —
// run by the node and by the simulator alike (both build it through src/replica.ts;
// the router hands it cfm/cfr). It holds no state of the registry: it reads and writes
// it through the ClaimPort.
//
// A claim (register, a Singleton start, a failover takeover) in a connected cluster is
// confirmed before anything runs on it:
//   1. If another live claim holds the name in our view, do not claim.
//   2. Claim (the registry pushes the delta to every connected member).
//   3. Send a confirm request (cfm) to every member the delta went to. Each answers
//      (cfr) with the holder it sees for the name after merging what it has: the first
//      active claim in the registry's claim order (highest epoch, then earliest stamp,
//      then node name, then incarnation).
//   4. Start only when every member asked has named our claim, and our own replica
//      still does. An answer naming another claim (or none) means we lost: release,
//      log which node holds it, do not start. A member that goes down during the round
//      is dropped from it; a round that is not complete after confirmTimeoutMs fails
//      (release, do not start).
//   5. Our claim losing to an earlier one later on (lost) releases it, so it cannot
//      come back as the holder when the winner goes away.
//
// Why two pairwise-connected claimants A and B cannot both start: links keep order
// (TCP), and each claimant pushes its claim before it asks. When B answers A's request
// it has A's claim (it came first on the A->B link). If B had not claimed yet by then,
// it sees A holding the name and does not claim (step 1; a later failover claim also
// sees A's epoch). If B had claimed, B's replica holds both claims and names the
// earlier; A's does too when it answers B, for the same reason. Both answer with the
// same claim, so at most one of A and B gets its own claim back from the other. A
// claimant that has already started and then merges an earlier claim stops on `lost`
// before it answers that claimant, which only starts after the answer.
// Unique epochs: a failover claim takes the highest epoch seen + 1 at the moment it
// claims ('next'); concurrent claimants of one epoch resolve to one by the rule above,
// and the loser's claim is released on `lost`, so no two tenures share an epoch while
// their nodes stay connected.
// After a partition heals, the registry's merge rule decides as before: the earliest
// claim holds and the others get `lost`.
// Invariants: every round settles exactly once and leaves no timer behind; a claim
// that does not win is released unless it was there before this call.
import { describeError } from '../errors.js';
import { confirmTimeoutMs } from '../membership/timing.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ClaimMessage, ClaimRef, RegistryMessage } from './messages.js';
import type { Claim } from './registry.js';

/** What the claim rule needs from the node (or the simulator). */
export interface ClaimPort {
  /** This node's name and incarnation. */
  readonly self: { readonly name: string; readonly inc: string };
  readonly clock: Clock;
  readonly logger: Logger;
  /** The holder of name in this replica, if any. */
  holder(name: string): Claim | undefined;
  /** Our own active claim on name, if any. */
  ownClaim(name: string): Claim | undefined;
  /** The highest fencing epoch seen for name (0 if none). */
  epochOf(name: string): number;
  /** Claim name now with this epoch, pushing the change to every connected member; returns our claim. */
  claim(name: string, epoch: number): Claim;
  /** Release our claim on name; false if there was none. */
  release(name: string): boolean;
  /** The connected members our registry changes go to (not us). */
  members(): string[];
  /** Send a registry message to a connected member; false if it is not connected. */
  send(to: string, msg: RegistryMessage): boolean;
}

/** The epoch a claim asks for: a fixed one (quorum grants), 0 (plain claims), or 'next' (highest seen + 1, read when claiming). */
export type ClaimEpoch = number | 'next';

/** How a claim ended. */
export type ClaimOutcome =
  /** Confirmed by every member asked: run on it. */
  | { kind: 'won'; claim: Claim }
  /** Another claim holds the name: `by` is the member whose answer said so (undefined: our own view). */
  | { kind: 'held'; holder: Claim | ClaimRef; by: string | undefined }
  /** The round failed without naming another holder: `why` says how (deadline, a member that did not see the claim, stop). */
  | { kind: 'unconfirmed'; why: UnconfirmedReason; members: string[] };

/** Why a claim was not confirmed although nobody named another holder. */
export type UnconfirmedReason = 'deadline' | 'unseen' | 'stopped' | 'gone';

/** True when an answer names exactly this claim as holder. */
export function namesClaim(holder: ClaimRef | Claim | undefined, claim: Claim): boolean {
  if (!holder) return false;
  const inc = 'inc' in holder ? holder.inc : holder.incarnation;
  return (
    holder.owner === claim.owner &&
    inc === claim.incarnation &&
    holder.stamp[0] === claim.stamp[0] &&
    holder.stamp[1] === claim.stamp[1] &&
    (holder.epoch ?? 0) === (claim.epoch ?? 0)
  );
}

/** A claim as it goes on the wire in a confirm answer. */
export function claimRef(c: Claim): ClaimRef {
  const ref: ClaimRef = { owner: c.owner, inc: c.incarnation, stamp: [c.stamp[0], c.stamp[1]] };
  if (c.epoch) ref.epoch = c.epoch;
  return ref;
}

/** What the local step of a claim did. */
export type LocalClaim =
  /** Another claim holds the name in our view: nothing written. */
  | { kind: 'held'; holder: Claim }
  /** Our own claim already holds it: nothing written. */
  | { kind: 'own'; claim: Claim }
  /** Claimed now (and pushed): it holds the name in our view. */
  | { kind: 'claimed'; claim: Claim }
  /** Claimed, but it did not come out as the holder: released again. */
  | { kind: 'gone' };

/**
 * The local step of the claim rule (steps 1 and 2, and the re-check): claim name unless
 * another claim holds it in our view, and release the claim again unless it then holds
 * the name. Claims.claim() runs it, then the confirm round; the simulator's unconfirmed
 * claims (registry tests over lossy links) run it alone.
 */
export function claimLocally(port: ClaimPort, name: string, epoch: ClaimEpoch = 0): LocalClaim {
  const { name: self, inc } = port.self;
  const holder = port.holder(name);
  if (holder && !(holder.owner === self && holder.incarnation === inc)) return { kind: 'held', holder };
  const existing = port.ownClaim(name);
  if (existing) return { kind: 'own', claim: existing };
  const claim = port.claim(name, epoch === 'next' ? port.epochOf(name) + 1 : epoch);
  const now = port.holder(name);
  if (now && namesClaim(now, claim)) return { kind: 'claimed', claim };
  port.release(name);
  return now ? { kind: 'held', holder: now } : { kind: 'gone' };
}

interface Round {
  name: string;
  claim: Claim;
  /** Members asked that have not answered yet. */
  waiting: Set<string>;
  /** Told the final outcome (the claimant, and any later claim of the same name that joined). */
  done: ((outcome: ClaimOutcome) => void)[];
  settle: (outcome: ClaimOutcome) => void;
}

/** Told how a claim ended; called synchronously when it is decided (never throws back into the rule). */
export type ClaimDone = (outcome: ClaimOutcome) => void;

/** Settings of the claim rule. */
export interface ClaimsOptions {
  /** Deadline of a confirm round, ms; default confirmTimeoutMs of the 3000 ms failure timeout. */
  timeoutMs?: number;
}

/** The claim rule of one node: claims and confirm rounds it runs, and the answers it gives. */
export class Claims {
  private readonly rounds = new Map<number, Round>();
  /** name -> the round in flight for it (a second claim on the same name joins it). */
  private readonly inFlight = new Map<string, Round>();
  private nextId = 1;
  private readonly timeoutMs: number;

  constructor(
    private readonly port: ClaimPort,
    options: ClaimsOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? confirmTimeoutMs(3000);
  }

  /** Rounds in flight (for tests and benchmarks). */
  get pending(): number {
    return this.rounds.size;
  }

  /**
   * Claim name and confirm it with every connected member. Resolves `won` only when
   * every member asked named our claim; otherwise the claim made here is released.
   */
  claim(name: string, epoch: ClaimEpoch = 0): Promise<ClaimOutcome> {
    return new Promise((resolve) => this.claimThen(name, epoch, resolve));
  }

  /**
   * claim() with a callback called synchronously when the outcome is decided (at once
   * when no round is needed), for callers on a manual clock that must act in the same
   * instant, as the simulator does.
   */
  claimThen(name: string, epoch: ClaimEpoch, done: ClaimDone): void {
    const local = claimLocally(this.port, name, epoch);
    switch (local.kind) {
      case 'held':
        return this.tell(done, { kind: 'held', holder: local.holder, by: undefined });
      case 'gone':
        return this.tell(done, { kind: 'unconfirmed', why: 'gone', members: [] });
      case 'own': {
        // Our claim holds the name already: in its round (join it), or confirmed then.
        const joining = this.inFlight.get(name);
        if (joining) joining.done.push(done);
        else this.tell(done, { kind: 'won', claim: local.claim });
        return;
      }
      case 'claimed':
        return this.confirm(name, local.claim, done);
    }
  }

  /** Our claim on name lost to an earlier claimant: release it. */
  lost(name: string): void {
    this.port.release(name);
  }

  /** A member went down: it is dropped from every round. */
  memberDown(member: string): void {
    for (const r of [...this.rounds.values()]) {
      if (r.waiting.delete(member) && r.waiting.size === 0) r.settle({ kind: 'won', claim: r.claim });
    }
  }

  /** A confirm request or answer arrived from a connected member. */
  receive(from: string, msg: ClaimMessage): void {
    if (msg.k === 'cfm') {
      // Only a member asks about its own claim: an answer to anything else is not needed.
      if (msg.owner !== from) {
        this.port.logger.debug('confirm request for a claim of another node ignored', { peer: from });
        return;
      }
      const holder = this.port.holder(msg.name);
      this.send(from, holder ? { k: 'cfr', id: msg.id, holder: claimRef(holder) } : { k: 'cfr', id: msg.id });
      return;
    }
    const r = this.rounds.get(msg.id);
    if (!r || !r.waiting.delete(from)) return;
    if (!namesClaim(msg.holder, r.claim)) {
      r.settle(msg.holder ? { kind: 'held', holder: msg.holder, by: from } : { kind: 'unconfirmed', why: 'unseen', members: [from] });
      return;
    }
    if (r.waiting.size === 0) r.settle({ kind: 'won', claim: r.claim });
  }

  /** The node stops: every round fails now. */
  stop(): void {
    for (const r of [...this.rounds.values()]) r.settle({ kind: 'unconfirmed', why: 'stopped', members: [...r.waiting] });
  }

  private tell(done: ClaimDone, outcome: ClaimOutcome): void {
    try {
      done(outcome);
    } catch (err) {
      this.port.logger.error(`claim outcome handler failed: ${describeError(err)}`);
    }
  }

  /** Send, never throw: a message that cannot go counts as not sent. */
  private send(to: string, msg: RegistryMessage): boolean {
    try {
      return this.port.send(to, msg);
    } catch (err) {
      this.port.logger.error(`cannot send a registry ${msg.k} message to ${to}: ${describeError(err)}`, { peer: to });
      return false;
    }
  }

  /** Ask every connected member (step 3); the round settles once, then concludes. */
  private confirm(name: string, claim: Claim, done: ClaimDone): void {
    const p = this.port;
    const id = this.nextId++;
    const waiting = new Set<string>();
    const round: Round = {
      name,
      claim,
      waiting,
      done: [done],
      settle: (outcome) => {
        if (!this.rounds.delete(id)) return;
        p.clock.clearTimeout(timer);
        if (this.inFlight.get(name) === round) this.inFlight.delete(name);
        const final = this.conclude(name, claim, outcome);
        for (const d of round.done) this.tell(d, final);
      },
    };
    const timer = p.clock.setTimeout(() => round.settle({ kind: 'unconfirmed', why: 'deadline', members: [...waiting] }), this.timeoutMs);
    this.rounds.set(id, round);
    this.inFlight.set(name, round);
    for (const m of p.members()) {
      waiting.add(m);
      if (!this.send(m, { k: 'cfm', id, name, owner: claim.owner, inc: claim.incarnation })) waiting.delete(m);
    }
    if (waiting.size === 0) round.settle({ kind: 'won', claim });
  }

  /** After the round: start only if our claim still holds the name here too; otherwise release and say why. */
  private conclude(name: string, claim: Claim, outcome: ClaimOutcome): ClaimOutcome {
    const p = this.port;
    const log = p.logger;
    if (outcome.kind === 'won') {
      const now = p.holder(name);
      if (namesClaim(now, claim)) return outcome;
      // An earlier claim reached us during the round (our claim got `lost`), or ours is gone.
      p.release(name);
      if (now) {
        log.info(`claim on ${name} not confirmed: ${now.owner} holds it (an earlier claim); released`, { name, holder: now.owner });
        return { kind: 'held', holder: now, by: undefined };
      }
      log.info(`claim on ${name} not confirmed: it was released during the round`, { name });
      return { kind: 'unconfirmed', why: 'gone', members: [] };
    }
    p.release(name);
    if (outcome.kind === 'held') {
      log.info(`claim on ${name} not confirmed: ${outcome.by ?? p.self.name} sees ${outcome.holder.owner} holding it (an earlier claim); released`, {
        name,
        holder: outcome.holder.owner,
        ...(outcome.by ? { peer: outcome.by } : {}),
      });
    } else if (outcome.why === 'deadline') {
      log.warn(`claim on ${name} not confirmed within ${this.timeoutMs} ms: no answer from ${outcome.members.join(', ')}; released`, { name });
    } else if (outcome.why === 'unseen') {
      log.warn(`claim on ${name} not confirmed: ${outcome.members.join(', ')} did not see it; released`, { name });
    } else {
      log.info(`claim on ${name} not confirmed: ${outcome.why === 'stopped' ? 'the node is stopping' : 'it was released during the round'}; released`, { name });
    }
    return outcome;
  }
}
