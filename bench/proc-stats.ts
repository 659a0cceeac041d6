// Process stats: CPU time and resident memory of a Linux process, read from /proc.
// CPU is utime+stime in clock ticks (/proc/<pid>/stat fields 14 and 15); RSS is
// VmRSS from /proc/<pid>/status. Reads return undefined once the process is gone.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Kernel clock ticks per second (`getconf CLK_TCK`, almost always 100). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system) a process has used so far, in clock ticks; undefined if it is gone. */
export function readCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    return Number(rest[14 - 3]) + Number(rest[15 - 3]);
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in bytes (VmRSS); undefined if it is gone. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A CPU-time sample of one process. */
export interface CpuSample {
  pid: number;
  ticks: number;
  /** performance.now() ms when read. */
  at: number;
}

/** Take a CPU sample; undefined if the process is gone. */
export function sampleCpu(pid: number): CpuSample | undefined {
  const ticks = readCpuTicks(pid);
  return ticks === undefined ? undefined : { pid, ticks, at: performance.now() };
}

/** CPU use between two samples of the same process, in % of one core. */
export function cpuPercent(from: CpuSample, to: CpuSample): number {
  const cpuSeconds = (to.ticks - from.ticks) / clockTicksPerSecond();
  const wallSeconds = (to.at - from.at) / 1000;
  return wallSeconds > 0 ? (100 * cpuSeconds) / wallSeconds : 0;
}

/** Resident memory of a process split by kind, in bytes (/proc/<pid>/status). */
export interface MemorySplit {
  /** VmRSS: everything resident. */
  rss: number;
  /** RssAnon: the process's own pages (V8 heap, malloc, stacks, buffers). */
  anon: number;
  /** RssFile: file-backed pages (mostly the node binary's code, shared with every other node process). */
  file: number;
  /** Pss: RSS with each shared page divided among the processes mapping it (what N processes on one machine really cost each); NaN if unreadable. */
  pss: number;
}

/** RSS and its anonymous / file-backed parts; undefined if the process is gone. */
export function readMemory(pid: number): MemorySplit | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    const rss = kb('VmRSS');
    let pss = NaN;
    try {
      pss = Number(/^Pss:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN) * 1024;
    } catch {
      // no smaps_rollup (old kernel): PSS unknown
    }
    return Number.isNaN(rss) ? undefined : { rss, anon: kb('RssAnon'), file: kb('RssFile'), pss };
  } catch {
    return undefined;
  }
}
