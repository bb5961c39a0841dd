/**
 * Waiting for a cluster to be usable: every partition replica on every node knows a leader.
 * Polls the nodes' `/status` until a deadline (no fixed sleeps).
 */
import { fetchStatus } from './admin-client.js';

/** Resolves once every node reports a leader for each partition it holds; throws after `timeoutMs`. */
export async function waitForLeaders(adminAddresses: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const all = await Promise.all(adminAddresses.map((a) => fetchStatus(a, 2_000)));
      const leaderless = all.flatMap((s) => s.partitions.filter((p) => p.leader === null).map((p) => `${s.nodeId}/p${p.partition}`));
      if (leaderless.length === 0) return;
      last = `no leader yet for ${leaderless.slice(0, 5).join(', ')}${leaderless.length > 5 ? ` and ${leaderless.length - 5} more` : ''}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`the cluster did not elect leaders within ${timeoutMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Resolves once, for every partition, every replica has applied the highest commit index any
 * replica reports (a restarted node has caught up). Returns that index per partition.
 */
export async function waitForCatchUp(adminAddresses: readonly string[], timeoutMs: number): Promise<Map<number, number>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const all = await Promise.all(adminAddresses.map((a) => fetchStatus(a, 2_000)));
      const commit = new Map<number, number>();
      for (const s of all) for (const p of s.partitions) commit.set(p.partition, Math.max(commit.get(p.partition) ?? 0, p.commitIndex));
      const behind = all.flatMap((s) => s.partitions.filter((p) => p.appliedIndex < commit.get(p.partition)!).map((p) => `${s.nodeId}/p${p.partition} at ${p.appliedIndex} of ${commit.get(p.partition)}`));
      if (behind.length === 0) return commit;
      last = behind.slice(0, 3).join(', ');
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`replicas did not catch up within ${timeoutMs / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
