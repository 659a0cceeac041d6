// Status: what a member tells an observer (a hidden node) about itself, and how the
// observer reads it. A member answers {k:'q', id} on the status channel with
// {k:'a', id, view}: its name, incarnation and uptime, the members it is connected to
// (with how long ago it last heard each), and the names registered in its view with
// holder, epoch and claim stamp. The observer combines the views: the cluster, and
// where the views disagree.
// Invariants: a view is bounded (at most MAX_VIEW_NAMES registered names, the rest
// counted in `more`; member lists as long as the mesh allows), so an answer fits a
// frame; an answer from the network is validated field by field before use, and
// nothing in it is ever String()'d raw into a message.
import { ClusterError } from './errors.js';
import { describeValue } from './util/untrusted.js';
import { isValidNodeName, MAX_MEMBERS } from './wire/messages.js';
import { isValidRegisteredName } from './registry/messages.js';
import { TRAFFIC_FIELDS, zeroTraffic } from './util/traffic.js';
import type { TrafficCounts } from './util/traffic.js';

/** Registered names in one view; more are counted, not listed. */
export const MAX_VIEW_NAMES = 1000;

/** A member as another member sees it. */
export interface ViewMember {
  name: string;
  inc: string;
  host: string;
  port: number;
  /** How long ago the viewer last heard from it, ms. */
  heardMsAgo: number;
}

/** A registered name as a member sees it. */
export interface ViewClaim {
  name: string;
  owner: string;
  inc: string;
  /** Fencing epoch (0 for plain claims). */
  epoch: number;
  /** When it was claimed: hybrid logical clock [wall ms, logical]. */
  stamp: [number, number];
}

/** One member's view of the cluster. */
export interface MemberView {
  node: string;
  inc: string;
  /** How long it has been running, ms. */
  upMs: number;
  members: ViewMember[];
  registry: ViewClaim[];
  /** Registered names left out of `registry` (beyond MAX_VIEW_NAMES). */
  more: number;
  /** The member's traffic counters (node.traffic()) when it answered; absent from members that predate them. */
  traffic?: TrafficCounts;
}

/** The status-channel messages. */
export type StatusMessage = { k: 'q'; id: number; name?: string } | { k: 'a'; id: number; view: MemberView };

function bad(what: string): never {
  throw new ClusterError('ERR_PROTOCOL', `invalid status message: ${what}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(`${what} is not a map`);
  return v as Record<string, unknown>;
}

function nat(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what} must be a non-negative integer (got ${describeValue(v)})`);
  return v;
}

function nodeName(v: unknown, what: string): string {
  if (typeof v !== 'string' || !isValidNodeName(v)) bad(`${what} must be a node name`);
  return v;
}

function hex(v: unknown, what: string): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{1,64}$/.test(v)) bad(`${what} must be hex`);
  return v;
}

function host(v: unknown): string {
  if (typeof v !== 'string' || v.length > 255 || !/^[A-Za-z0-9_.:-]*$/.test(v)) bad('member host must be an address');
  return v;
}

function list<T>(v: unknown, max: number, what: string, item: (x: unknown) => T): T[] {
  if (!Array.isArray(v) || v.length > max) bad(`${what} must be an array of at most ${max}`);
  return v.map(item);
}

/** Validate a decoded status-channel message from the network. Throws ERR_PROTOCOL. */
export function parseStatusMessage(raw: unknown): StatusMessage {
  const m = obj(raw, 'message');
  if (m.k === 'q') {
    if (m.name === undefined) return { k: 'q', id: nat(m.id, 'id') };
    if (!isValidRegisteredName(m.name)) bad('query name must be 1..255 characters');
    return { k: 'q', id: nat(m.id, 'id'), name: m.name };
  }
  if (m.k !== 'a') bad(`unknown kind (${describeValue(m.k)})`);
  const v = obj(m.view, 'view');
  const view: MemberView = {
    node: nodeName(v.node, 'view node'),
    inc: hex(v.inc, 'view inc'),
    upMs: nat(v.upMs, 'view upMs'),
    members: list(v.members, MAX_MEMBERS, 'view members', (x) => {
      const e = obj(x, 'member');
      return { name: nodeName(e.name, 'member name'), inc: hex(e.inc, 'member inc'), host: host(e.host), port: nat(e.port, 'member port'), heardMsAgo: nat(e.heardMsAgo, 'member heardMsAgo') };
    }),
    registry: list(v.registry, MAX_VIEW_NAMES, 'view registry', (x) => {
      const e = obj(x, 'claim');
      if (!isValidRegisteredName(e.name)) bad('claim name must be 1..255 characters');
      const stamp = e.stamp;
      if (!Array.isArray(stamp) || stamp.length !== 2) bad('claim stamp must be [wall, logical]');
      return { name: e.name, owner: nodeName(e.owner, 'claim owner'), inc: hex(e.inc, 'claim inc'), epoch: nat(e.epoch, 'claim epoch'), stamp: [nat(stamp[0], 'claim stamp'), nat(stamp[1], 'claim stamp')] };
    }),
    more: nat(v.more, 'view more'),
  };
  if (v.traffic !== undefined) {
    const t = obj(v.traffic, 'view traffic');
    const traffic = zeroTraffic();
    for (const k of TRAFFIC_FIELDS) traffic[k] = nat(t[k], `view traffic ${k}`);
    view.traffic = traffic;
  }
  return { k: 'a', id: nat(m.id, 'id'), view };
}

/** The combined picture an observer draws from the members' views. */
export interface ClusterStatus {
  /** Every member's own view, sorted by node name. */
  views: MemberView[];
  /** Members that were connected but did not answer in time. */
  silent: string[];
  /** True when every view lists the same members (each counting itself) and the same holders with the same epochs. */
  agree: boolean;
}

/** The member set a view describes: the viewer and those it is connected to. */
export function viewMembers(v: MemberView): string[] {
  return [v.node, ...v.members.map((m) => m.name)].sort();
}

/** The holders a view names, as "name owner epoch" strings, sorted. */
export function viewHolders(v: MemberView): string[] {
  return v.registry.map((c) => `${c.name}\u0000${c.owner}\u0000${c.epoch}`).sort();
}

/** Combine answers (and who stayed silent) into a ClusterStatus. */
export function combineViews(views: MemberView[], silent: string[]): ClusterStatus {
  const sorted = [...views].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const same = (f: (v: MemberView) => string[]): boolean => sorted.every((v) => f(v).join('\n') === f(sorted[0]!).join('\n'));
  return { views: sorted, silent: [...silent].sort(), agree: sorted.length > 0 && silent.length === 0 && same(viewMembers) && same(viewHolders) };
}

/** What a member's view is built from. */
export interface ViewSource {
  node: string;
  inc: string;
  upMs: number;
  members: { name: string; incarnation: string; host: string; port: number }[];
  heardMsAgo(name: string): number | undefined;
  /** Only this registered name (whereis); default every name. */
  only?: string;
  /** Every held name with its holder (internal names already left out). */
  registered: { name: string; owner: string; incarnation: string; epoch?: number; stamp: readonly [number, number] }[];
  /** The member's traffic counters; left out of the view when absent. */
  traffic?: TrafficCounts;
}

/** This member's view, bounded for one frame. */
export function buildView(s: ViewSource): MemberView {
  const wanted = s.only === undefined ? s.registered : s.registered.filter((c) => c.name === s.only);
  const shown = wanted.slice(0, MAX_VIEW_NAMES);
  return {
    node: s.node,
    inc: s.inc,
    upMs: Math.max(0, Math.floor(s.upMs)),
    members: s.members.map((m) => ({ name: m.name, inc: m.incarnation, host: m.host, port: m.port, heardMsAgo: Math.max(0, Math.floor(s.heardMsAgo(m.name) ?? 0)) })),
    registry: shown.map((c) => ({ name: c.name, owner: c.owner, inc: c.incarnation, epoch: c.epoch ?? 0, stamp: [c.stamp[0], c.stamp[1]] })),
    more: wanted.length - shown.length,
    ...(s.traffic ? { traffic: { ...s.traffic } } : {}),
  };
}

/** What the status client needs from its node. */
export interface StatusClientPort {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Connected members now. */
  members(): string[];
  /** Send a status-channel message to a member; false if not connected. */
  send(to: string, msg: StatusMessage): boolean;
}

/** The observer's side: ask every connected member for its view, collect the answers. */
export class StatusClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { answers: Map<string, MemberView>; asked: Set<string>; done: () => void }>();

  constructor(private readonly port: StatusClientPort) {}

  /** Ask every connected member (about one registered name only, if given); resolves when all answered or after timeoutMs, whichever is first. */
  request(timeoutMs: number, name?: string): Promise<ClusterStatus> {
    const id = this.nextId++;
    const q: StatusMessage = name === undefined ? { k: 'q', id } : { k: 'q', id, name };
    const asked = new Set(this.port.members().filter((m) => this.port.send(m, q)));
    const answers = new Map<string, MemberView>();
    return new Promise((resolve) => {
      let timer: unknown;
      const done = (): void => {
        if (!this.waiting.delete(id)) return;
        this.port.clearTimeout(timer);
        resolve(combineViews([...answers.values()], [...asked].filter((m) => !answers.has(m))));
      };
      this.waiting.set(id, { answers, asked, done });
      if (asked.size === 0) return done();
      timer = this.port.setTimeout(done, timeoutMs);
    });
  }

  /** A status-channel message from a member. Throws ERR_PROTOCOL on a malformed one. */
  receive(from: string, raw: unknown): void {
    const msg = parseStatusMessage(raw);
    if (msg.k !== 'a') return;
    const w = this.waiting.get(msg.id);
    if (!w || !w.asked.has(from) || msg.view.node !== from) return;
    w.answers.set(from, msg.view);
    if (w.answers.size === w.asked.size) w.done();
  }

  /** Resolve every pending request with what it has (the node stops). */
  stop(): void {
    for (const w of [...this.waiting.values()]) w.done();
  }
}
