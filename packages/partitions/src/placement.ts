/**
 * Placement of P partitions x R replicas over N nodes. **Deterministic**: every node computes the
 * same table from the same inputs, with no coordination. Documented in docs/partitions.md.
 *
 *   nodes       = the member ids sorted by UTF-16 code units (so the order members are listed in does not matter)
 *   replicas(p) = [ nodes[(p + i) mod N] for i in 0..R-1 ]
 *   preferred leader of p = replicas(p)[0] = nodes[p mod N]
 *
 * Balance: preferred leaders differ by at most one partition between nodes, and so do replica
 * counts when N divides P (otherwise by at most min(R, P mod N)). Replicas of a partition are on
 * distinct nodes. The leader balancer moves each partition's leadership to its preferred leader.
 */
import { ConfigError, type NodeId } from '@tessera/raft';

export interface Placement {
  /** Node ids, sorted. */
  readonly nodes: readonly NodeId[];
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Per partition: the nodes holding a replica; the first is the preferred leader. */
  readonly replicas: readonly (readonly NodeId[])[];
}

/** Computes the placement table; throws ConfigError when R exceeds N or ids repeat. */
export function placePartitions(members: readonly NodeId[], partitions: number, replicationFactor: number): Placement {
  const nodes = [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < nodes.length; i++) if (nodes[i] === nodes[i - 1]) throw new ConfigError('members', `node id ${nodes[i]} is listed twice`);
  if (!Number.isInteger(partitions) || partitions < 1) throw new ConfigError('partitions.count', 'must be a positive integer');
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) throw new ConfigError('partitions.replicationFactor', 'must be a positive integer');
  if (replicationFactor > nodes.length) throw new ConfigError('partitions.replicationFactor', `${replicationFactor} replicas need at least ${replicationFactor} members, got ${nodes.length}`);
  const n = nodes.length;
  const replicas = Array.from({ length: partitions }, (_, p) => Array.from({ length: replicationFactor }, (_, i) => nodes[(p + i) % n]!));
  return { nodes, partitions, replicationFactor, replicas };
}

/** The partitions of which `node` holds a replica. */
export function partitionsOf(placement: Placement, node: NodeId): number[] {
  const out: number[] = [];
  placement.replicas.forEach((r, p) => {
    if (r.includes(node)) out.push(p);
  });
  return out;
}

/** The Raft group id of partition `p` (short: it travels in every Raft message). */
export function groupIdOf(p: number): string {
  return `p${p}`;
}
