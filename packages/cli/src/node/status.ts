/**
 * What a node's `/status` answers, as a zod schema (the contract `tessera status` and operators'
 * tools read; tests validate live answers against it) and the function building it.
 */
import type { PartitionNode } from '@tessera/partitions';
import type { ComponentRuntime } from '@tessera/components';
import { z } from 'zod';
import type { TransportCounters } from './transport-stats.js';

const role = z.enum(['follower', 'pre-candidate', 'candidate', 'leader']);

/** One follower of a partition this node leads. */
export const followerStatusSchema = z.object({
  id: z.string(),
  /** Highest log index known to be replicated on the follower. */
  match: z.number().int().min(0),
  /** Entries the follower is behind the leader's last index. */
  lag: z.number().int().min(0),
  /** Replication state: `probe`, `replicate` or `snapshot`. */
  state: z.string(),
});

/** One partition replica on this node. */
export const partitionStatusSchema = z.object({
  partition: z.number().int().min(0),
  group: z.string(),
  role,
  term: z.number().int().min(0),
  leader: z.string().nullable(),
  preferredLeader: z.string(),
  commitIndex: z.number().int().min(0),
  appliedIndex: z.number().int().min(0),
  lastIndex: z.number().int().min(0),
  snapshotIndex: z.number().int().min(0),
  voters: z.array(z.string()),
  /** Leader only: its followers, with match index and lag. Empty elsewhere. */
  followers: z.array(followerStatusSchema),
});

export const memberStatusSchema = z.object({
  id: z.string(),
  raftAddress: z.string().nullable(),
  clientAddress: z.string().nullable(),
  adminAddress: z.string().nullable(),
});

/** One stateful component partition hosted here (nodes that host networks). */
export const componentStatusSchema = z.object({
  network: z.string(),
  component: z.string(),
  partition: z.number().int().min(0),
  clusterPartition: z.number().int().min(0),
  role,
  leader: z.string().nullable(),
  /** Messages applied, and duplicates dropped (re-sent after a failover, already applied). */
  applied: z.number().int().min(0),
  duplicates: z.number().int().min(0),
  /** Emitted messages not yet acknowledged downstream. */
  outbox: z.number().int().min(0),
});

/** The body of `GET /status`. */
export const nodeStatusSchema = z.object({
  nodeId: z.string(),
  clusterId: z.string(),
  /** Process id and seconds since the node started. */
  pid: z.number().int(),
  uptimeSeconds: z.number().min(0),
  addresses: z.object({ raft: z.string().nullable(), client: z.string().nullable(), admin: z.string().nullable() }),
  storage: z.enum(['file', 'memory', 'rocksdb']),
  partitionCount: z.number().int().min(1),
  replicationFactor: z.number().int().min(1),
  members: z.array(memberStatusSchema),
  partitions: z.array(partitionStatusSchema),
  transport: z.object({
    kind: z.enum(['tcp', 'nats']),
    messagesSent: z.number().int().min(0),
    messagesReceived: z.number().int().min(0),
    bytesSent: z.number().int().min(0),
    bytesReceived: z.number().int().min(0),
    dropped: z.record(z.string(), z.number().int().min(0)),
    droppedTotal: z.number().int().min(0),
    connections: z.number().int().min(0),
  }),
  components: z.array(componentStatusSchema),
});

export type NodeStatus = z.infer<typeof nodeStatusSchema>;
export type PartitionReplicaStatus = z.infer<typeof partitionStatusSchema>;

/** What {@link buildStatus} reads besides the node. */
export interface StatusSources {
  readonly node: PartitionNode;
  readonly runtime: ComponentRuntime | undefined;
  readonly startedAt: number;
  readonly addresses: NodeStatus['addresses'];
  readonly storage: NodeStatus['storage'];
  readonly members: () => NodeStatus['members'];
  readonly transport: () => TransportCounters;
}

/** Builds the `/status` answer from the node's groups (cheap: no I/O). */
export function buildStatus(src: StatusSources): NodeStatus {
  const { node } = src;
  const partitions: PartitionReplicaStatus[] = [];
  for (let p = 0; p < node.placement.partitions; p++) {
    const g = node.group(p);
    if (!g) continue;
    const s = g.status();
    partitions.push({
      partition: p,
      group: s.group,
      role: s.role,
      term: s.term,
      leader: s.leader ?? null,
      preferredLeader: node.placement.replicas[p]![0]!,
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      voters: [...s.membership.voters],
      followers: Object.entries(s.followers).map(([id, f]) => ({ id, match: f.match, lag: f.lag, state: f.state })),
    });
  }
  const components = (src.runtime?.status() ?? []).map((c) => ({
    network: c.network,
    component: c.component,
    partition: c.partition,
    clusterPartition: c.clusterPartition,
    role: c.role,
    leader: c.leader ?? null,
    applied: c.applied,
    duplicates: c.duplicates,
    outbox: c.outbox,
  }));
  return {
    nodeId: node.id,
    clusterId: node.clusterId,
    pid: process.pid,
    uptimeSeconds: (Date.now() - src.startedAt) / 1000,
    addresses: src.addresses,
    storage: src.storage,
    partitionCount: node.placement.partitions,
    replicationFactor: node.placement.replicationFactor,
    members: src.members(),
    partitions,
    transport: src.transport(),
    components,
  };
}
