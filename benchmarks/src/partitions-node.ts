/**
 * Child process of `pnpm bench partitions`: one Tessera partition node. Configured by the JSON in
 * TESSERA_BENCH_NODE; reports `{type:'ready', clientAddress}` over IPC, answers `status`, `cpu` and
 * `counters` (storage appends, entries), and exits on `stop`. Not a benchmark by itself. The parent
 * sets UV_THREADPOOL_SIZE: every group's fdatasync runs on libuv's thread pool.
 */
import { createNode } from '@tessera/partitions';
import type { GroupObserver, StorageEngine, TransportFactory } from '@tessera/raft';
import { fileStorage } from '@tessera/storage-file';
import { memoryStorage } from '@tessera/storage-memory';
import { tcpTransport } from '@tessera/transport-tcp';

export interface BenchNodeConfig {
  id: string;
  members: string[];
  partitions: number;
  storage: 'file' | 'memory' | 'rocksdb';
  transport: 'tcp' | 'nats';
  dir: string;
  raftPorts: Record<string, number>;
  clientPorts: Record<string, number>;
  natsUrl?: string;
  profile?: boolean;
  coalesceTimers?: boolean;
  /** `batching.maxEntriesInFlight` of the node (undefined: the default). */
  entriesInFlight?: number;
  /** `preallocateBytes` of the file storage (undefined: the default). */
  preallocate?: number;
}

async function main(): Promise<void> {
  if (!process.send || !process.env.TESSERA_BENCH_NODE) {
    console.error('partitions-node is started by `pnpm bench partitions`');
    process.exit(2);
  }
  const cfg = JSON.parse(process.env.TESSERA_BENCH_NODE) as BenchNodeConfig;
  let storage: StorageEngine;
  if (cfg.storage === 'file') storage = await fileStorage({ dir: cfg.dir, sync: 'always', ...(cfg.preallocate !== undefined ? { preallocateBytes: cfg.preallocate } : {}) });
  else if (cfg.storage === 'rocksdb') {
    const { rocksdbStorage } = await import('@tessera/storage-rocksdb');
    storage = await rocksdbStorage({ dir: cfg.dir, sync: 'always' });
  } else storage = memoryStorage();
  let transport: TransportFactory;
  if (cfg.transport === 'nats') {
    const { natsTransport } = await import('@tessera/transport-nats');
    transport = natsTransport({ servers: [cfg.natsUrl!], clusterId: 'bench' });
  } else {
    const peers = Object.fromEntries(Object.entries(cfg.raftPorts).map(([id, port]) => [id, `127.0.0.1:${port}`]));
    transport = tcpTransport({ listen: { host: '127.0.0.1', port: cfg.raftPorts[cfg.id]! }, peers, clusterId: 'bench' });
  }
  // Counters for the benchmark's diagnostics: storage appends (each one write + fdatasync with
  // sync 'always'), entries they carried, and entries proposed by leaders here.
  // persistMs and commitMs sum the latencies of durable writes and of leaders' batches (append to
  // commit), so the parent can report their means over its window.
  const counters = { appends: 0, appendedEntries: 0, proposedEntries: 0, persistMs: 0, commits: 0, commitMs: 0 };
  const observer: GroupObserver = {
    persisted(_g, entries, _bytes, ms) {
      counters.appends++;
      counters.appendedEntries += entries;
      counters.persistMs += ms;
    },
    proposed(_g, count) {
      counters.proposedEntries += count;
    },
    committed(_g, _count, ms) {
      counters.commits++;
      counters.commitMs += ms;
    },
  };
  const node = await createNode({
    id: cfg.id,
    members: cfg.members.map((id) => ({ id, clientAddress: `127.0.0.1:${cfg.clientPorts[id]}` })),
    partitions: { count: cfg.partitions, replicationFactor: 3 },
    storage,
    transport,
    client: { listen: { host: '127.0.0.1', port: cfg.clientPorts[cfg.id]! } },
    raft: { tickMs: 50, electionTicks: 20 },
    balancer: { intervalMs: 200 },
    coalesceTimers: cfg.coalesceTimers ?? true,
    ...(cfg.entriesInFlight !== undefined ? { batching: { maxEntriesInFlight: cfg.entriesInFlight } } : {}),
    observer,
  });
  process.send({ type: 'ready', clientAddress: node.clientAddress });
  process.on('message', async (m: { type: string; req: number }) => {
    if (m.type === 'status') {
      const st = node.status();
      process.send!({ type: 'reply', req: m.req, leaders: st.filter((s) => s.role === 'leader').length, leaderless: st.filter((s) => !s.leader).length, preferred: st.filter((s) => s.role === 'leader' && s.preferredLeader === cfg.id).length });
    } else if (m.type === 'counters') {
      process.send!({ type: 'reply', req: m.req, ...counters });
    } else if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ type: 'reply', req: m.req, cpu: (u.user + u.system) / 1e6 });
    } else if (m.type === 'stop') {
      await node.close();
      await storage.close();
      process.send!({ type: 'reply', req: m.req });
      process.exit(0);
    }
  });
}
void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
