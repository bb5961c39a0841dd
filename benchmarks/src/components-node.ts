/**
 * Child process of `pnpm bench components`: one component node (file storage with every append
 * fsynced, TCP on loopback, ephemeral ports) hosting the benchmark's word-count networks. Configured
 * by the JSON in TESSERA_BENCH_COMPONENTS; IPC: -> {type:'ready', raft, client}; <- {type:'peers',
 * peers}; <- {type:'cpu', req} -> {type:'reply', req, cpu}; <- {type:'stop', req}. Not a benchmark by
 * itself. Also exports the networks, so that the driver builds exactly the definitions the nodes run.
 */
import { component, createComponentNode, hash, network, type Network } from '@tessera/components';
import { fileStorage } from '@tessera/storage-file';
import { tcpTransport, type TcpTransport } from '@tessera/transport-tcp';
import { z } from 'zod';

/** Counter partitions measured. */
export const COUNTER_PARTITIONS = [1, 4, 16] as const;

const splitter = component({
  name: 'splitter',
  inputs: { lines: z.string() },
  outputs: { words: z.string() },
  handlers: {
    lines(line, ctx) {
      for (const w of line.split(' ')) if (w) ctx.emit('words', w, { key: w });
    },
  },
});

const counter = component({
  name: 'counter',
  inputs: { words: z.string() },
  outputs: { counts: z.object({ word: z.string(), count: z.number() }) },
  state: { init: () => new Map<string, number>() },
  handlers: {
    words(word, ctx) {
      const n = (ctx.state.get(word) ?? 0) + 1;
      ctx.state.set(word, n);
      ctx.emit('counts', { word, count: n }, { key: word });
    },
  },
  queries: { total: (s) => [...s.values()].reduce((a, b) => a + b, 0) },
});

/** Word count with `k` counter partitions (3 replicas each). */
export function benchNetwork(k: number): Network {
  return network(`wc-${k}`, { maxOutbox: 20_000, sinkRetention: 4_096 })
    .add(splitter, { partitions: 2 })
    .add(counter, { partitions: k, replicas: 3 })
    .connect('splitter.words', 'counter.words', hash())
    .source('lines', 'splitter.lines')
    .sink('counts', 'counter.counts')
    .build();
}

export interface ComponentsNodeConfig {
  id: string;
  members: string[];
  partitions: number;
  dir: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.TESSERA_BENCH_COMPONENTS!) as ComponentsNodeConfig;
  const peers = new Map<string, { raft: string; client: string }>();
  const storage = await fileStorage({ dir: cfg.dir, sync: 'always' });
  const { node, close } = await createComponentNode({
    id: cfg.id,
    clusterId: 'bench-components',
    members: cfg.members,
    clientAddresses: (peer) => peers.get(peer)?.client,
    partitions: { count: cfg.partitions, replicationFactor: 3 },
    storage,
    transport: tcpTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: (peer) => peers.get(peer)?.raft, clusterId: 'bench-components', reconnect: { initialMs: 20, maxMs: 200 } }),
    client: { listen: { host: '127.0.0.1', port: 0 } },
    raft: { tickMs: 50, electionTicks: 20 },
    networks: COUNTER_PARTITIONS.map(benchNetwork),
  });
  const bound = (node.raftHost.transport as TcpTransport).address!;
  process.send!({ type: 'ready', raft: `127.0.0.1:${bound.port}`, client: node.clientAddress });
  process.on('message', (m: any) => {
    if (m.type === 'peers') for (const [id, a] of Object.entries(m.peers as Record<string, { raft: string; client: string }>)) peers.set(id, a);
    else if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ type: 'reply', req: m.req, cpu: (u.user + u.system) / 1e6 });
    } else if (m.type === 'stop') {
      void close()
        .then(() => storage.close())
        .finally(() => {
          process.send!({ type: 'reply', req: m.req });
          process.exit(0);
        });
    }
  });
}

if (process.send && process.env.TESSERA_BENCH_COMPONENTS) await main();
