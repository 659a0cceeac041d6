// State file: the little a node keeps on disk — the highest fencing epoch seen per
// name — so epochs keep rising across a restart of the whole cluster. Written
// atomically (temporary file, then rename); a missing or unreadable file is an empty
// state, never a crash.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Path of a node's epoch file inside dir (the node name makes it unique per node). */
export function epochFilePath(dir: string, nodeName: string): string {
  return join(dir, `${nodeName.replace(/[^A-Za-z0-9_.@-]/g, '_')}.epochs.json`);
}

/** Read the epochs saved at path; [] when there is no usable file. */
export function readEpochs(path: string): [string, number][] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
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

/** Save epochs at path atomically. Throws on I/O errors (the caller logs them). */
export function writeEpochs(path: string, epochs: Iterable<[string, number]>): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(Object.fromEntries(epochs)) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}
