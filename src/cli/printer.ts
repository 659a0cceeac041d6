// Printer: the seed's health check. Every second it prints the other connected
// members, sorted, to stdout: [], [bob@host], [alice@host, carol@host]. It also prints
// at start, and at once when the list changes (nodeup, nodedown), so a user sees a
// peer arrive or leave without waiting for the next tick.
// Invariants: changes within CHANGE_COALESCE_MS are printed as one line; a change
// that leaves the list as it was last printed prints nothing extra; after stop() no
// line is printed and no timer or listener is left. With change events, a tick when
// nothing changed writes the line it already has (no list, sort or join: its cost does
// not grow with the cluster); without them every tick reads the list again.

/** What the printer needs from a node: its members, and optionally change events. */
export interface MemberSource {
  members(): string[];
  on?(event: 'nodeup' | 'nodedown', listener: () => void): unknown;
  off?(event: 'nodeup' | 'nodedown', listener: () => void): unknown;
}

/** Member changes within this many ms are printed as one line: 50. */
export const CHANGE_COALESCE_MS = 50;

/** Format a member list the way the demo prints it. */
export function formatMembers(names: readonly string[]): string {
  return `[${[...names].sort().join(', ')}]`;
}

/** Print now, every intervalMs (default 1000), and on every change of the list; returns a function that stops it. */
export function startPrinter(node: MemberSource, write: (line: string) => void, intervalMs = 1000): () => void {
  const evented = node.on !== undefined;
  let last: string | undefined;
  /** The list may differ from `last` (an event came, or the node has no events). */
  let dirty = true;
  let line = '';
  const print = (): void => {
    if (dirty || !evented) {
      last = formatMembers(node.members());
      line = `${last}\n`;
      dirty = false;
    }
    write(line);
  };
  let soon: ReturnType<typeof setTimeout> | undefined;
  const changed = (): void => {
    dirty = true;
    if (soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      const now = formatMembers(node.members());
      if (now === last) {
        dirty = false;
        return;
      }
      print();
    }, CHANGE_COALESCE_MS);
  };
  node.on?.('nodeup', changed);
  node.on?.('nodedown', changed);
  print();
  const timer = setInterval(print, intervalMs);
  return () => {
    clearInterval(timer);
    clearTimeout(soon);
    node.off?.('nodeup', changed);
    node.off?.('nodedown', changed);
  };
}
