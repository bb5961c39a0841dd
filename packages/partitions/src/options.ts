import { parseConfig, type GroupObserver, type Logger, type RaftConfigInput, type StorageEngine, type TransportFactory } from '@tessera/raft';
import { z } from 'zod';
import type { ResourceDefinition } from './resource.js';

const address = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port (IPv6 hosts in brackets)');

const memberSchema = z
  .object({
    id: z.string().min(1).max(255),
    /** Where clients reach this member ("host:port"); may be left out and given by `clientAddresses`. */
    clientAddress: address.optional(),
  })
  .strict();

/** Options of {@link createNode}. */
export const nodeOptionsSchema = z
  .object({
    /** This node's id; must be one of `members`. */
    id: z.string().min(1).max(255),
    /** Name of the cluster; clients that ask for another are refused. */
    clusterId: z.string().min(1).max(255).default('tessera'),
    /** Every node of the cluster (this one included). The placement is computed from these ids. */
    members: z.array(z.union([z.string().min(1).max(255), memberSchema])).min(1),
    partitions: z
      .object({
        /** P: number of partitions. Part of the data layout: never change it for an existing cluster. */
        count: z.number().int().min(1).max(65_536).default(16),
        /** R: replicas per partition (on distinct nodes). */
        replicationFactor: z.number().int().min(1).max(15).default(3),
      })
      .strict()
      .default({ count: 16, replicationFactor: 3 }),
    /** The node's storage engine (one for all its partitions), e.g. `await fileStorage({ dir })`. */
    storage: z.custom<StorageEngine>((v) => typeof v === 'object' && v !== null && typeof (v as StorageEngine).openGroup === 'function', 'expected a StorageEngine'),
    /** The transport factory for Raft traffic, e.g. `tcpTransport({...})`. */
    transport: z.custom<TransportFactory>((v) => typeof v === 'function', 'expected a TransportFactory such as tcpTransport({...})'),
    /** Resource types beyond the built-ins (map, counter, lock, election); every node must register the same ones. */
    resources: z.array(z.custom<ResourceDefinition>((v) => typeof v === 'object' && v !== null && typeof (v as ResourceDefinition).type === 'string', 'expected a defineResource(...) result')).default([]),
    /** Raft settings of every partition group (see @tessera/raft's raftConfigSchema). */
    raft: z.custom<RaftConfigInput>((v) => typeof v === 'object' && v !== null, 'expected an object of raft settings').default({}),
    /** The client protocol server; `false` serves no clients. */
    client: z
      .union([
        z.literal(false),
        z
          .object({
            listen: z.object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(0) }).strict().default({ host: '127.0.0.1', port: 0 }),
            /** The address announced to clients, if not the bound one (e.g. behind NAT). */
            advertise: address.optional(),
            /** Largest request frame accepted; larger ones close the connection. */
            maxFrameBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
            /** Node's `tls.createServer` options (cert, key, ca, requestCert...) to serve clients over TLS. */
            tls: z.record(z.string(), z.unknown()).optional(),
          })
          .strict(),
      ])
      .default({ listen: { host: '127.0.0.1', port: 0 }, maxFrameBytes: 16 * 1024 * 1024 }),
    /** Resolves another member's client address when `members` does not give it (e.g. discovery). */
    clientAddresses: z.custom<(id: string) => string | undefined>((v) => typeof v === 'function', 'expected a function (nodeId) => "host:port" | undefined').optional(),
    balancer: z
      .object({
        /** Move leadership of each partition to its preferred leader when that replica is healthy. */
        enabled: z.boolean().default(true),
        /** How often each node looks at the partitions it leads. */
        intervalMs: z.number().int().min(10).default(1_000),
        /** A preferred leader must be within this many entries of the leader's log to take over. */
        maxLag: z.number().int().min(0).default(1_000),
        /** Transfers started per round per node (each briefly pauses its partition). */
        maxTransfersPerRound: z.number().int().min(1).default(4),
      })
      .strict()
      .default({ enabled: true, intervalMs: 1_000, maxLag: 1_000, maxTransfersPerRound: 4 }),
    sessions: z
      .object({
        /**
         * A leader whose partition has sessions proposes a clock entry after this much quiet, so
         * idle sessions expire even when no command arrives.
         */
        clockIntervalMs: z.number().int().min(10).default(1_000),
      })
      .strict()
      .default({ clockIntervalMs: 1_000 }),
    batching: z
      .object({
        /**
         * Batch entries a partition's leader keeps in flight (proposed, not yet applied). Commands
         * arriving meanwhile wait and go in the next entry together (up to 1,024 per entry), so each
         * replication round (one append, one fsync, messages, acknowledgements per replica) carries
         * more commands: with many partitions and few commands in flight, rounds cost more than the
         * commands in them. 1 is group commit; raise it to pipeline entries at the cost of rounds.
         */
        maxEntriesInFlight: z.number().int().min(1).max(1024).default(1),
      })
      .strict()
      .default({ maxEntriesInFlight: 1 }),
    /** Share one timer among all groups' ticks (heartbeats of all partitions leave together). */
    coalesceTimers: z.boolean().default(true),
    /** Partition groups opened at once during start-up. */
    openConcurrency: z.number().int().min(1).default(16),
    logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function', 'expected a logger').optional(),
    /** Metrics hooks given to every partition group of this node (e.g. a Prometheus exporter). */
    observer: z.custom<GroupObserver>((v) => typeof v === 'object' && v !== null, 'expected a GroupObserver object').optional(),
  })
  .strict();

export type NodeOptions = z.input<typeof nodeOptionsSchema>;
export type ResolvedNodeOptions = z.output<typeof nodeOptionsSchema>;

export function parseNodeOptions(input: unknown): ResolvedNodeOptions {
  return parseConfig(nodeOptionsSchema, input, 'node');
}
