// Memory trace: reads what memory-hook.cjs wrote for one long-lived node — periodic
// samples of the V8 heap and the heap that survived each major GC — into series for
// slope.ts, in MB against the sample's time. Pure.
// Invariants: a line that is not a complete record (a torn last line, a stray write) is
// skipped, never guessed at; records before the window asked for (the process's start-up,
// before the churn) are left out, so they do not tilt a slope.
import type { Sample } from './slope.js';

/** The series of one node's memory trace, in MB. */
export interface MemoryTrace {
  /** V8 heap in use at each periodic sample (live and not yet collected). */
  heapUsedMb: Sample[];
  /** V8 heap reserved at each periodic sample. */
  heapTotalMb: Sample[];
  /** V8 code spaces in use at each periodic sample. */
  codeMb: Sample[];
  /** Memory outside the V8 heap held by JS objects (buffers, native handles) at each periodic sample. */
  externalMb: Sample[];
  /** V8 heap in use just after each major (mark-compact) GC: what the node keeps. */
  heapAfterMajorGcMb: Sample[];
}

const MB = 1048576;

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

/** Parse the JSON lines memory-hook.cjs appended, keeping records at or after fromMs (Date.now() ms; default all). */
export function parseMemoryTrace(text: string, fromMs = -Infinity): MemoryTrace {
  const out: MemoryTrace = { heapUsedMb: [], heapTotalMb: [], codeMb: [], externalMb: [], heapAfterMajorGcMb: [] };
  for (const line of text.split('\n')) {
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof r !== 'object' || r === null) continue;
    const x = r as Record<string, unknown>;
    if (!finite(x.at) || x.at < fromMs) continue;
    const at = x.at;
    if (x.k === 'tick' && finite(x.heapUsed) && finite(x.heapTotal) && finite(x.code) && finite(x.external)) {
      out.heapUsedMb.push({ at, value: x.heapUsed / MB });
      out.heapTotalMb.push({ at, value: x.heapTotal / MB });
      out.codeMb.push({ at, value: x.code / MB });
      out.externalMb.push({ at, value: x.external / MB });
    } else if (x.k === 'major' && finite(x.heapUsed)) {
      out.heapAfterMajorGcMb.push({ at, value: x.heapUsed / MB });
    }
  }
  return out;
}
