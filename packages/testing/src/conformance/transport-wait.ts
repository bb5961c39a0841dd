/**
 * Waiting without fixed sleeps: poll a condition until it holds or a deadline passes, and compare the
 * process's active handles with a baseline.
 */

/** Default bound on every wait in the transport suite. */
export const WAIT_MS = 15_000;

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` until it returns a value other than `undefined` / `false`, then returns that value.
 * `probe` may do work each round (e.g. resend). Throws `describe()`'s text when `timeoutMs` passes.
 */
export async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  describe: () => string,
  timeoutMs = WAIT_MS,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await tick(intervalMs);
  }
}

/** Counts of `process.getActiveResourcesInfo()` by resource type. */
export function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Resource types of which more are active now than in `baseline`, e.g. `TCPSocketWrap +2`. */
export function extraResources(baseline: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [type, n] of activeResources()) {
    const extra = n - (baseline.get(type) ?? 0);
    if (extra > 0) out.push(`${type} +${extra}`);
  }
  return out;
}
