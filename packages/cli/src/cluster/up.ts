/**
 * `tessera cluster up`: a local cluster of node processes on 127.0.0.1, each run from a
 * configuration file written into `<dir>/<id>/node.json` (the same path `node start` takes).
 * Nodes bind ephemeral ports at first start; the ports are kept in `<dir>/cluster.json` and reused
 * on restart, so a cluster restarted on the same directory recovers its data at the same addresses.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { NodeRecord } from '@tessera/raft';
import type { NodeConfigInput } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { alive, readClusterState, writeClusterState, type ClusterState, type LiveNode } from './state.js';
import { NodeStartError, Supervisor, type NodeProcess } from './supervisor.js';
import { waitForLeaders } from './wait.js';

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly storage: 'file' | 'memory' | 'rocksdb';
  readonly transport: 'tcp' | 'nats';
  readonly partitions: number;
  readonly replicas: number;
  readonly natsUrl?: string;
  readonly clusterId?: string;
  readonly logLevel?: string;
  /** Flags the user gave explicitly (checked against an existing cluster's shape). */
  readonly explicit?: ReadonlySet<string>;
  /** Raft settings written into every node's configuration. */
  readonly raft?: NodeConfigInput['raft'];
  /** Networks every node hosts (module path and export). */
  readonly networks?: NodeConfigInput['networks'];
  readonly onUnexpectedExit?: (id: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** A running local cluster. */
export interface LocalCluster {
  readonly dir: string;
  readonly state: ClusterState;
  readonly supervisor: Supervisor;
  /** Live nodes, in id order. */
  live(): LiveNode[];
  /** The node configuration file of `id`. */
  configOf(id: string): string;
  /** Restarts a node that was killed or stopped (same configuration, same ports when free). */
  restart(id: string): Promise<NodeProcess>;
  /** Stops every node cleanly and marks the cluster stopped in its directory. */
  stop(): Promise<void>;
}

function nodeConfig(st: ClusterState, id: string, ports: ClusterState['nodes'][number]['ports'], opts: LocalClusterOptions): NodeConfigInput {
  const host = '127.0.0.1';
  return {
    id,
    clusterId: st.clusterId,
    dataDir: './data',
    members: st.nodes.map((n) => n.id),
    partitions: { count: st.partitions, replicationFactor: st.replicas },
    storage: st.storage === 'file' ? { engine: 'file', sync: 'always' } : st.storage === 'rocksdb' ? { engine: 'rocksdb', sync: 'always' } : { engine: 'memory' },
    transport: st.transport === 'nats' ? { kind: 'nats', servers: st.natsUrl! } : { kind: 'tcp', listen: { host, port: ports.raft } },
    client: { listen: { host, port: ports.client } },
    admin: { listen: { host, port: ports.admin } },
    ...(opts.raft ? { raft: opts.raft } : {}),
    ...(st.networks && st.networks.length > 0 ? { networks: st.networks } : {}),
  };
}

/** Module paths made absolute (node configurations live elsewhere), exports defaulted. */
function networksOf(list: NonNullable<LocalClusterOptions['networks']>): { module: string; export: string }[] {
  return list.map((n) => ({ module: n.module.startsWith('.') || isAbsolute(n.module) ? resolve(n.module) : n.module, export: n.export ?? 'default' }));
}

const portOf = (address: string | undefined) => (address ? Number(address.slice(address.lastIndexOf(':') + 1)) : 0);

/** Reads or creates the cluster's state in `dir`, refusing flags that contradict an existing cluster. */
function prepareState(opts: LocalClusterOptions, dir: string): ClusterState {
  const existing = readClusterState(dir);
  if (existing?.running && alive(existing.running.pid) && existing.running.pid !== process.pid) {
    throw new UsageError(`a cluster is already running in ${dir} (process ${existing.running.pid}); stop it first (Ctrl-C in its terminal, or kill ${existing.running.pid})`);
  }
  if (existing) {
    const given = opts.explicit ?? new Set<string>();
    const clash = (flag: string, have: unknown, want: unknown) => {
      if (given.has(flag) && have !== want) throw new UsageError(`--${flag} ${want}: the cluster in ${dir} was created with ${have}; it is part of the data layout (use another --dir for a different cluster)`);
    };
    clash('nodes', existing.nodes.length, opts.nodes);
    clash('partitions', existing.partitions, opts.partitions);
    clash('replicas', existing.replicas, opts.replicas);
    clash('storage', existing.storage, opts.storage);
    clash('transport', existing.transport, opts.transport);
    const { running: _running, ...rest } = existing;
    // Networks given again replace the recorded ones; otherwise the nodes keep hosting what they hosted.
    return { ...rest, ...(opts.natsUrl ? { natsUrl: opts.natsUrl } : {}), ...(opts.networks && opts.networks.length > 0 ? { networks: networksOf(opts.networks) } : {}) };
  }
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 64) throw new UsageError(`--nodes ${opts.nodes}: expected 1..64`);
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1 || opts.partitions > 65_536) throw new UsageError(`--partitions ${opts.partitions}: expected 1..65536`);
  if (!Number.isInteger(opts.replicas) || opts.replicas < 1) throw new UsageError(`--replicas ${opts.replicas}: expected a positive integer`);
  if (opts.replicas > opts.nodes) throw new UsageError(`--replicas ${opts.replicas}: cannot exceed --nodes ${opts.nodes} (replicas of a partition live on distinct nodes)`);
  if (opts.transport === 'nats' && !opts.natsUrl) throw new UsageError('--transport nats needs --nats-url nats://host:port (a running nats-server)');
  return {
    version: 1,
    clusterId: opts.clusterId ?? 'local',
    storage: opts.storage,
    transport: opts.transport,
    partitions: opts.partitions,
    replicas: opts.replicas,
    ...(opts.natsUrl ? { natsUrl: opts.natsUrl } : {}),
    ...(opts.networks && opts.networks.length > 0 ? { networks: networksOf(opts.networks) } : {}),
    nodes: Array.from({ length: opts.nodes }, (_, i) => ({ id: `n${i + 1}`, ports: { raft: 0, client: 0, admin: 0 } })),
  };
}

/** Starts (or restarts) the cluster in `opts.dir` and waits until every partition has a leader. */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const state = prepareState(opts, dir);
  writeClusterState(dir, state);
  const supervisor = new Supervisor({ ...(opts.logLevel ? { logLevel: opts.logLevel } : {}), ...(opts.onUnexpectedExit ? { onUnexpectedExit: opts.onUnexpectedExit } : {}) });
  const configOf = (id: string) => join(dir, id, 'node.json');
  const writeConfig = (n: ClusterState['nodes'][number]) => {
    mkdirSync(join(dir, n.id), { recursive: true });
    writeFileSync(configOf(n.id), JSON.stringify(nodeConfig(state, n.id, n.ports, opts), null, 2) + '\n');
  };
  const records = new Map<string, NodeRecord>();
  const startOne = async (n: ClusterState['nodes'][number]): Promise<NodeProcess> => {
    writeConfig(n);
    const spec = { id: n.id, config: configOf(n.id), log: join(dir, n.id, 'node.log') };
    let p: NodeProcess;
    try {
      p = await supervisor.start(spec);
    } catch (err) {
      // A port kept from the last run may have been taken meanwhile: take any free one instead.
      const fixed = n.ports.raft !== 0 || n.ports.client !== 0 || n.ports.admin !== 0;
      if (!(err instanceof NodeStartError) || !/EADDRINUSE/.test(err.message) || !fixed) throw err;
      n.ports = { raft: 0, client: 0, admin: 0 };
      writeConfig(n);
      p = await supervisor.start(spec);
    }
    n.ports = { raft: state.transport === 'tcp' ? portOf(p.record.raftAddress) : 0, client: portOf(p.record.clientAddress), admin: portOf(p.record.adminAddress) };
    records.set(n.id, p.record);
    return p;
  };
  const live = (): LiveNode[] =>
    state.nodes.flatMap((n) => {
      const p = supervisor.nodes.get(n.id);
      const r = records.get(n.id);
      if (!r) return [];
      return [{ id: n.id, pid: p?.pid ?? 0, raftAddress: r.raftAddress, clientAddress: r.clientAddress ?? '', adminAddress: r.adminAddress ?? '', dataDir: join(dir, n.id, 'data'), config: configOf(n.id), log: join(dir, n.id, 'node.log') }];
    });
  const save = () => writeClusterState(dir, { ...state, running: { pid: process.pid, startedAt: new Date().toISOString(), nodes: live() } });
  try {
    await Promise.all(state.nodes.map(startOne));
    // Peers learn each other's (ephemeral) addresses only now.
    supervisor.sharePeers();
    save();
    await waitForLeaders(live().map((n) => n.adminAddress), 60_000);
  } catch (err) {
    await supervisor.stopAll();
    writeClusterState(dir, state);
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    dir,
    state,
    supervisor,
    live,
    configOf,
    async restart(id) {
      const n = state.nodes.find((x) => x.id === id);
      if (!n) throw new UsageError(`no node ${id} in ${dir}`);
      const p = await startOne(n);
      supervisor.sharePeers([...records.values()]);
      save();
      return p;
    },
    stop: () =>
      (stopped ??= (async () => {
        await supervisor.stopAll();
        writeClusterState(dir, state);
      })()),
  };
}
