// State file: the little a node keeps on disk — the highest fencing epoch seen per
// name — so epochs keep rising across a restart of the whole cluster. A missing or
// unreadable file is an empty state, never a crash.
// Invariant: a save is durable when writeEpochs returns: the temporary file is written
// and fsynced, renamed over the old one, and the directory is fsynced (so the rename
// itself survives a power cut). Any failure throws, with the OS error as its cause,
// and leaves the previous file in place.
import * as nodeFs from 'node:fs';
import { dirname, join } from 'node:path';

/** The file-system calls a save makes, in the order it makes them (node:fs by default; tests record them). */
export interface StateFs {
  mkdirSync(path: string, options: { recursive: true }): unknown;
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, data: string): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

/** Path of a node's epoch file inside dir (the node name makes it unique per node). */
export function epochFilePath(dir: string, nodeName: string): string {
  return join(dir, `${nodeName.replace(/[^A-Za-z0-9_.@-]/g, '_')}.epochs.json`);
}

/** Read the epochs saved at path; [] when there is no usable file. */
export function readEpochs(path: string): [string, number][] {
  let raw: unknown;
  try {
    raw = JSON.parse(nodeFs.readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  const out: [string, number][] = [];
  for (const [name, epoch] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch > 0 && name.length > 0 && name.length <= 255) out.push([name, epoch]);
  }
  return out;
}

/**
 * Save epochs at path durably: write a temporary file, fsync it, rename it over path,
 * fsync the directory. Throws the OS error (the caller logs it with the path).
 */
export function writeEpochs(path: string, epochs: Iterable<[string, number]>, fs: StateFs = nodeFs): void {
  const dir = dirname(path);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    try {
      fs.writeSync(fd, JSON.stringify(Object.fromEntries(epochs)) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone (renamed, or never written)
    }
    throw err;
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
