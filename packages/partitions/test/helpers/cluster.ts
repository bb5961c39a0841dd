/** N nodes in this process: memory storage, in-process Raft network, real client ports on loopback. */
import { InProcessNetwork, type RaftConfigInput } from '@tessera/raft';
import { memoryStorage } from '@tessera/storage-memory';
import { createNode, type PartitionNode } from '../../src/index.js';
import type { ResourceDefinition } from '../../src/resource.js';
import { until } from '@tessera/testing/processes';

export interface LocalCluster {
  readonly nodes: PartitionNode[];
  readonly net: InProcessNetwork;
  endpoints(): string[];
  close(): Promise<void>;
}

export const fastRaft: RaftConfigInput = { tickMs: 10, electionTicks: 10, requestTimeoutMs: 3_000 };

export async function localCluster(opts: { ids?: string[]; partitions?: number; replicationFactor?: number; resources?: ResourceDefinition[]; balancer?: boolean; balancerIntervalMs?: number; raft?: RaftConfigInput; clockIntervalMs?: number } = {}): Promise<LocalCluster> {
  const ids = opts.ids ?? ['n1', 'n2', 'n3'];
  const net = new InProcessNetwork();
  const addresses = new Map<string, string>();
  const nodes = await Promise.all(
    ids.map((id) =>
      createNode({
        id,
        members: ids,
        partitions: { count: opts.partitions ?? 4, replicationFactor: opts.replicationFactor ?? 3 },
        storage: memoryStorage(),
        transport: net.transport,
        resources: opts.resources ?? [],
        raft: { ...fastRaft, ...opts.raft },
        clientAddresses: (peer) => addresses.get(peer),
        balancer: { enabled: opts.balancer ?? true, intervalMs: opts.balancerIntervalMs ?? 100 },
        sessions: { clockIntervalMs: opts.clockIntervalMs ?? 100 },
      }),
    ),
  );
  for (const n of nodes) addresses.set(n.id, n.clientAddress!);
  return {
    nodes,
    net,
    endpoints: () => nodes.map((n) => n.clientAddress!),
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

export { until };

/** Waits until every partition has a leader known to all its replicas. */
export async function allLeaders(c: LocalCluster): Promise<void> {
  await until(() => {
    for (const n of c.nodes) for (const s of n.status()) if (!s.leader) return undefined;
    return true;
  }, 'a leader for every partition');
}
