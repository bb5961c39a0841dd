/**
 * The demo's fault: find the node leading a Raft group, SIGKILL it, time how long until another
 * replica leads the group, and restart the killed node.
 */
import { fetchStatus } from '../cluster/admin-client.js';
import type { LocalCluster } from '../cluster/up.js';

/** What happened to the killed leader. */
export interface FailoverReport {
  readonly killed: string;
  readonly pid: number;
  readonly clusterPartition: number;
  readonly newLeader: string;
  /** From the SIGKILL to a new leader reported by a surviving replica. */
  readonly failoverMs: number;
  readonly restartedPid: number;
  /** From the restart to the node serving again (recovered from its files). */
  readonly restartMs: number;
}

/** Polls the live nodes' /status until one reports itself leader of partition `p` (and is not `not`). */
export async function waitForLeaderOf(cluster: LocalCluster, p: number, not: string | undefined, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = cluster.live().filter((n) => n.id !== not && cluster.supervisor.nodes.has(n.id));
    const answers = await Promise.allSettled(nodes.map((n) => fetchStatus(n.adminAddress, 1_000)));
    for (const a of answers) {
      if (a.status !== 'fulfilled') continue;
      const part = a.value.partitions.find((x) => x.partition === p);
      if (part?.role === 'leader') return a.value.nodeId;
    }
    if (Date.now() > deadline) throw new Error(`no leader for partition p${p} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kills the leader of partition `p`, waits for a new one, restarts the killed node. `say` narrates. */
export async function killLeader(cluster: LocalCluster, p: number, what: string, say: (line: string) => void): Promise<FailoverReport> {
  const leader = await waitForLeaderOf(cluster, p, undefined, 30_000);
  const proc = cluster.supervisor.nodes.get(leader)!;
  say(`SIGKILL ${leader} (pid ${proc.pid}): it leads ${what} (Raft group p${p}); no clean-up, as in a crash`);
  const t0 = performance.now();
  await cluster.supervisor.kill(leader);
  const newLeader = await waitForLeaderOf(cluster, p, leader, 30_000);
  const failoverMs = performance.now() - t0;
  say(`${newLeader} leads ${what} ${(failoverMs / 1000).toFixed(2)} s after the kill; the stream carries on`);
  const t1 = performance.now();
  const restarted = await cluster.restart(leader);
  const restartMs = performance.now() - t1;
  say(`restarted ${leader} (pid ${restarted.pid}) in ${(restartMs / 1000).toFixed(2)} s: it recovered its log from disk and is catching up`);
  return { killed: leader, pid: proc.pid, clusterPartition: p, newLeader, failoverMs, restartedPid: restarted.pid, restartMs };
}
