/**
 * `@tessera/components/local`: a whole cluster in one process, for examples, tests and trying
 * networks out. Each node has its own storage (a directory of file storage, or memory) and its own
 * TCP transport and client port on loopback (ephemeral ports), exactly as separate processes would;
 * nodes can be stopped and started again (from their files) to watch a failover.
 *
 * ```ts
 * import { startLocalCluster } from '@tessera/components/local';
 * const cluster = await startLocalCluster({ networks: [wordCount], dir: './data' });
 * const client = await cluster.connect();
 * await deploy(client, wordCount);
 * ```
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ConnectOptions, type TesseraClient } from '@tessera/client';
import { ConfigError, type Logger, type RaftConfigInput, type StorageEngine } from '@tessera/raft';
import { fileStorage } from '@tessera/storage-file';
import { memoryStorage } from '@tessera/storage-memory';
import { tcpTransport, type TcpTransport } from '@tessera/transport-tcp';
import { z } from 'zod';
import type { Network } from '../network.js';
import { createComponentNode, type ComponentNode, type RuntimeOptions } from '../runtime.js';

const optionsSchema = z
  .object({
    /** The networks every node hosts. */
    networks: z.array(z.custom<Network>((v) => typeof v === 'object' && v !== null && typeof (v as Network).fingerprint === 'string', 'expected a network built with network(...).build()')).min(1),
    /** Node ids (default n1, n2, n3). */
    nodes: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)).min(1).max(15).default(['n1', 'n2', 'n3']),
    /** Cluster partitions (Raft groups). Component partitions are spread over them. Default 8. */
    partitions: z.number().int().min(1).max(4096).default(8),
    /** Replicas per partition. Default min(3, nodes). */
    replicationFactor: z.number().int().min(1).max(15).optional(),
    /** File storage under `<dir>/<node id>` (survives stop/start and restarts of the program); without it, memory storage. */
    dir: z.string().min(1).optional(),
    /** `always` (default): every append fsynced before it counts; `never` for throwaway runs. */
    sync: z.enum(['always', 'never']).default('always'),
    clusterId: z.string().min(1).default('local'),
    /** Raft settings of every group (default: 20 ms ticks, elections after 10 ticks). */
    raft: z.custom<RaftConfigInput>((v) => typeof v === 'object' && v !== null).optional(),
    /** Component runtime settings of every node. */
    runtime: z.custom<Omit<RuntimeOptions, 'node' | 'networks'>>((v) => typeof v === 'object' && v !== null).optional(),
    logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null).optional(),
  })
  .strict();

/** Options of {@link startLocalCluster}. */
export type LocalClusterOptions = z.input<typeof optionsSchema>;

/** A cluster running in this process. */
export interface LocalCluster {
  readonly ids: readonly string[];
  /** Running nodes by id (a stopped node is absent). */
  readonly nodes: ReadonlyMap<string, ComponentNode>;
  /** Client addresses of the running nodes. */
  endpoints(): string[];
  /** A client of this cluster (close it yourself). */
  connect(options?: Partial<ConnectOptions>): Promise<TesseraClient>;
  /** Stops node `id` (its storage survives when `dir` was given); the others elect new leaders. */
  stop(id: string): Promise<void>;
  /** Starts a stopped node again: it recovers from its storage and catches up. */
  start(id: string): Promise<void>;
  /** Stops every node. */
  close(): Promise<void>;
}

interface Slot {
  raft: string | undefined;
  client: string | undefined;
  node: ComponentNode | undefined;
  storage: StorageEngine | undefined;
}

/** Starts the cluster and waits until every node is up (leaders are elected shortly after). */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ConfigError(`localCluster.${i.path.join('.')}`, i.message);
  }
  const o = parsed.data;
  const ids = o.nodes;
  const rf = o.replicationFactor ?? Math.min(3, ids.length);
  if (rf > ids.length) throw new ConfigError('localCluster.replicationFactor', `${rf} replicas need at least ${rf} nodes, got ${ids.length}`);
  const slots = new Map<string, Slot>(ids.map((id) => [id, { raft: undefined, client: undefined, node: undefined, storage: undefined }]));

  const startNode = async (id: string): Promise<void> => {
    const slot = slots.get(id)!;
    if (slot.node) return;
    let storage: StorageEngine;
    if (o.dir !== undefined) {
      const dir = join(o.dir, id);
      mkdirSync(dir, { recursive: true });
      storage = await fileStorage({ dir, sync: o.sync });
    } else storage = slot.storage ?? memoryStorage();
    try {
      const node = await createComponentNode({
        id,
        clusterId: o.clusterId,
        members: ids,
        partitions: { count: o.partitions, replicationFactor: rf },
        storage,
        transport: tcpTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: (peer) => slots.get(peer)?.raft, clusterId: o.clusterId, reconnect: { initialMs: 20, maxMs: 200 } }),
        client: { listen: { host: '127.0.0.1', port: 0 } },
        clientAddresses: (peer) => slots.get(peer)?.client,
        raft: { tickMs: 20, electionTicks: 10, ...o.raft },
        balancer: { intervalMs: 500 },
        sessions: { clockIntervalMs: 500 },
        networks: o.networks,
        ...(o.runtime ? { runtime: o.runtime } : {}),
        ...(o.logger ? { logger: o.logger } : {}),
      });
      slot.node = node;
      slot.storage = storage;
      const bound = (node.node.raftHost.transport as TcpTransport).address;
      if (!bound) throw new Error(`node ${id}: the TCP transport did not report its address`);
      slot.raft = `127.0.0.1:${bound.port}`;
      slot.client = node.node.clientAddress;
    } catch (err) {
      await storage.close().catch(() => {});
      throw err;
    }
  };

  const stopNode = async (id: string): Promise<void> => {
    const slot = slots.get(id);
    if (!slot) throw new RangeError(`no node ${id} in this cluster (${ids.join(', ')})`);
    const node = slot.node;
    if (!node) return;
    slot.node = undefined;
    await node.close();
    // File storage is reopened on start; memory storage is kept, as a disk would be.
    if (o.dir !== undefined) {
      await slot.storage?.close().catch(() => {});
      slot.storage = undefined;
    }
  };

  const close = async () => {
    await Promise.all(ids.map((id) => stopNode(id).catch(() => {})));
    for (const s of slots.values()) await s.storage?.close().catch(() => {});
  };
  try {
    await Promise.all(ids.map(startNode));
  } catch (err) {
    await close();
    throw err;
  }

  const running = () => new Map([...slots].flatMap(([id, s]) => (s.node ? [[id, s.node] as const] : [])));
  return {
    ids,
    get nodes() {
      return running();
    },
    endpoints: () => [...slots.values()].flatMap((s) => (s.node && s.client ? [s.client] : [])),
    connect: (opts = {}) =>
      connect({
        endpoints: [...slots.values()].flatMap((s) => (s.node && s.client ? [s.client] : [])),
        requestTimeoutMs: 20_000,
        attemptTimeoutMs: 2_000,
        sessionTimeoutMs: 60_000,
        retry: { initialMs: 5, maxMs: 200 },
        ...opts,
      }),
    stop: stopNode,
    start: async (id) => {
      if (!slots.has(id)) throw new RangeError(`no node ${id} in this cluster (${ids.join(', ')})`);
      await startNode(id);
    },
    close,
  };
}
