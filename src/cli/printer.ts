// Printer: the seed's health check. Every second it prints the other connected
// members, sorted, to stdout: [], [bob@host], [alice@host, carol@host].

/** What the printer needs from a node. */
export interface MemberSource {
  members(): string[];
}

/** Format a member list the way the demo prints it. */
export function formatMembers(names: readonly string[]): string {
  return `[${[...names].sort().join(', ')}]`;
}

/** Start printing every intervalMs; returns a function that stops it. */
export function startPrinter(node: MemberSource, write: (line: string) => void, intervalMs = 1000): () => void {
  const timer = setInterval(() => write(formatMembers(node.members()) + '\n'), intervalMs);
  return () => clearInterval(timer);
}
