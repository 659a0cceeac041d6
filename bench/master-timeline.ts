// Master timeline: when each node-discover process was acting as master, and when two
// or more were at once, from what the processes printed (promotion, demotion) and what
// the harness did to them (SIGKILL, SIGSTOP, SIGCONT, restart).
// A process acts as master from its `promotion` until its `demotion`, its SIGKILL or its
// exit; a SIGSTOP suspends it (a frozen process can do nothing) and a SIGCONT resumes it
// as master again if it was one when frozen: node-discover keeps `isMaster` across the
// freeze and says hello as master at once. Lines that arrive while a process is frozen or
// after it was killed were written before the signal: they are dated back to it.
// Pure: plain data in, plain data out; every time is performance.now() ms.
import type { Interval } from '../test/chaos/timeline.js';

/** What changed a process's master state. */
export type MasterEventKind = 'promotion' | 'demotion' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'exit';

/** One event of one process run (`proc` identifies the run: a restart is a new proc). */
export interface MasterEvent {
  proc: number;
  kind: MasterEventKind;
  at: number;
}

/** A time a process acted as master. */
export interface MasterInterval extends Interval {
  proc: number;
}

/** A time two or more processes acted as master, and which. */
export interface MasterOverlap extends Interval {
  procs: number[];
}

const isLine = (k: MasterEventKind): boolean => k === 'promotion' || k === 'demotion';

/**
 * Events in the order they took effect: promotion/demotion lines that arrived during a
 * freeze (after SIGSTOP, before SIGCONT) or after a SIGKILL are moved to the signal's time
 * and ordered before it.
 */
export function effectiveOrder(events: readonly MasterEvent[]): MasterEvent[] {
  const byProc = new Map<number, MasterEvent[]>();
  for (const e of events) byProc.set(e.proc, [...(byProc.get(e.proc) ?? []), e]);
  const out: { e: MasterEvent; rank: number }[] = [];
  for (const list of byProc.values()) {
    const signals = list.filter((e) => e.kind === 'SIGSTOP' || e.kind === 'SIGCONT' || e.kind === 'SIGKILL').sort((a, b) => a.at - b.at);
    for (const e of list) {
      let at = e.at;
      if (isLine(e.kind)) {
        // The latest signal at or before the line: if it froze or killed the process, the line predates it.
        const last = signals.filter((s) => s.at <= e.at).at(-1);
        if (last && (last.kind === 'SIGSTOP' || last.kind === 'SIGKILL')) at = last.at;
      }
      out.push({ e: { ...e, at }, rank: isLine(e.kind) ? 0 : 1 });
    }
  }
  return out.sort((a, b) => a.e.at - b.e.at || a.rank - b.rank).map((x) => x.e);
}

/** The intervals during which each process acted as master, up to `to`. */
export function masterIntervals(events: readonly MasterEvent[], to: number): MasterInterval[] {
  const state = new Map<number, { master: boolean; frozen: boolean; dead: boolean; since: number | undefined }>();
  const out: MasterInterval[] = [];
  const acting = (s: { master: boolean; frozen: boolean; dead: boolean }): boolean => s.master && !s.frozen && !s.dead;
  for (const e of effectiveOrder(events)) {
    const s = state.get(e.proc) ?? { master: false, frozen: false, dead: false, since: undefined };
    state.set(e.proc, s);
    const before = acting(s);
    if (e.kind === 'promotion') s.master = true;
    else if (e.kind === 'demotion') s.master = false;
    else if (e.kind === 'SIGSTOP') s.frozen = true;
    else if (e.kind === 'SIGCONT') s.frozen = false;
    else s.dead = true;
    const after = acting(s);
    if (!before && after) s.since = e.at;
    if (before && !after) {
      if (e.at > s.since!) out.push({ proc: e.proc, from: s.since!, to: e.at });
      s.since = undefined;
    }
  }
  for (const [proc, s] of state) if (s.since !== undefined && to > s.since) out.push({ proc, from: s.since, to });
  return out.sort((a, b) => a.from - b.from || a.proc - b.proc);
}

/** The maximal intervals during which two or more processes acted as master. */
export function masterOverlaps(intervals: readonly MasterInterval[]): MasterOverlap[] {
  const points = intervals.flatMap((i) => [
    { at: i.from, proc: i.proc, d: 1 },
    { at: i.to, proc: i.proc, d: -1 },
  ]);
  // Ends before starts at the same instant: touching intervals do not overlap.
  points.sort((a, b) => a.at - b.at || a.d - b.d);
  const active = new Map<number, number>();
  const out: MasterOverlap[] = [];
  let open: MasterOverlap | undefined;
  for (const p of points) {
    active.set(p.proc, (active.get(p.proc) ?? 0) + p.d);
    if ((active.get(p.proc) ?? 0) <= 0) active.delete(p.proc);
    if (active.size >= 2) {
      if (!open) open = { from: p.at, to: p.at, procs: [] };
      for (const proc of active.keys()) if (!open.procs.includes(proc)) open.procs.push(proc);
    } else if (open) {
      open.to = p.at;
      if (open.to > open.from) out.push({ ...open, procs: open.procs.sort((a, b) => a - b) });
      open = undefined;
    }
  }
  return out;
}
