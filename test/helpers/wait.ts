// Wait: poll a condition until it holds or a deadline passes (never a fixed sleep).

/** Resolve once cond() is true; reject after timeoutMs with describe() in the message. */
export async function waitFor(cond: () => boolean, timeoutMs: number, describe?: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${describe ? `: ${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
