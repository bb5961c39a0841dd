/**
 * Runs one node from a loaded configuration: storage, transport, discovery, the partition node
 * (with the component runtime when it hosts networks), metrics, the admin server, and
 * registration of its addresses. `close()` stops everything in reverse order.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createComponentNode, type ComponentRuntime, type Network } from '@tessera/components';
import { createNode, type NodeOptions, type PartitionNode } from '@tessera/partitions';
import { staticDiscovery, type Discovery, type Logger, type NodeRecord, type NodeRecordInput, type StorageEngine, type TransportFactory } from '@tessera/raft';
import type { LoadedConfig } from '../config/load.js';
import { NodeConfigError } from '../errors.js';
import { startAdminServer, type AdminServer } from './admin.js';
import { createNodeMetrics, type NodeMetrics } from './metrics.js';
import { buildStatus, type NodeStatus } from './status.js';
import { transportCounters } from './transport-stats.js';

/** A running node. */
export interface RunningNode {
  readonly id: string;
  readonly node: PartitionNode;
  readonly runtime: ComponentRuntime | undefined;
  readonly metrics: NodeMetrics;
  /** This node's addresses (the bound ones where it listens on port 0). */
  readonly record: NodeRecord;
  status(): NodeStatus;
  /** Addresses learned from outside discovery (a supervising `tessera cluster up`). Later calls replace earlier ones per id. */
  setPeers(records: readonly NodeRecordInput[]): void;
  close(): Promise<void>;
}

const addr = (a: { host: string; port: number }) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

/** Imports the networks the configuration names. */
async function loadNetworks(loaded: LoadedConfig): Promise<Network[]> {
  const out: Network[] = [];
  for (const [i, n] of loaded.config.networks.entries()) {
    const spec = n.module.startsWith('/') ? pathToFileURL(n.module).href : n.module;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(spec)) as Record<string, unknown>;
    } catch (err) {
      throw new NodeConfigError('networks', [{ path: `networks[${i}].module`, message: `cannot import ${n.module}: ${(err as Error).message}` }]);
    }
    const net = mod[n.export] as Network | undefined;
    if (!net || typeof net !== 'object' || typeof net.fingerprint !== 'string' || !(net.components instanceof Map)) {
      throw new NodeConfigError('networks', [{ path: `networks[${i}].export`, message: `${n.module} has no network export ${JSON.stringify(n.export)} (build one with network(...).build() from @tessera/components)` }]);
    }
    out.push(net);
  }
  return out;
}

async function openStorage(loaded: LoadedConfig, logger: Logger): Promise<StorageEngine> {
  const s = loaded.config.storage;
  if (s.engine === 'memory') {
    const { memoryStorage } = await import('@tessera/storage-memory');
    return memoryStorage();
  }
  const dir = join(loaded.config.dataDir!, s.engine);
  if (s.engine === 'rocksdb') {
    const { rocksdbStorage } = await import('@tessera/storage-rocksdb');
    return rocksdbStorage({ dir, sync: s.sync });
  }
  const { fileStorage } = await import('@tessera/storage-file');
  return fileStorage({ dir, sync: s.sync, syncIntervalMs: s.syncIntervalMs, logger });
}

async function openDiscovery(loaded: LoadedConfig, logger: Logger): Promise<Discovery> {
  const c = loaded.config;
  const d = c.discovery;
  if (d.kind === 'redis') {
    const { redisDiscovery } = await import('@tessera/discovery-redis');
    return redisDiscovery({
      url: d.url,
      clusterId: c.clusterId,
      logger,
      ...(d.keyPrefix !== undefined ? { keyPrefix: d.keyPrefix } : {}),
      ...(d.ttlMs !== undefined ? { ttlMs: d.ttlMs } : {}),
      ...(d.password !== undefined ? { password: d.password } : {}),
    });
  }
  const nodes = c.members.flatMap((m) =>
    typeof m === 'string' || m.raftAddress === undefined
      ? []
      : [{ id: m.id, raftAddress: m.raftAddress, ...(m.clientAddress ? { clientAddress: m.clientAddress } : {}), ...(m.adminAddress ? { adminAddress: m.adminAddress } : {}) }],
  );
  return staticDiscovery({ nodes, logger });
}

async function openTransport(loaded: LoadedConfig, resolve: (id: string) => string | undefined, logger: Logger): Promise<TransportFactory> {
  const c = loaded.config;
  const t = c.transport;
  const secret = loaded.files.secret;
  if (t.kind === 'nats') {
    const { natsTransport } = await import('@tessera/transport-nats');
    return natsTransport({
      servers: t.servers,
      clusterId: c.clusterId,
      ...(t.subjectPrefix !== undefined ? { subjectPrefix: t.subjectPrefix } : {}),
      ...(t.token !== undefined ? { token: t.token } : {}),
      ...(t.user !== undefined ? { user: t.user } : {}),
      ...(t.pass !== undefined ? { pass: t.pass } : {}),
      ...(secret !== undefined ? { secret } : {}),
      logger,
    });
  }
  const { tcpTransport } = await import('@tessera/transport-tcp');
  const tls = loaded.files.tls;
  return tcpTransport({
    listen: t.listen,
    peers: resolve,
    clusterId: c.clusterId,
    ...(secret !== undefined ? { secret } : {}),
    ...(tls && t.tls ? { tls: { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), mutual: t.tls.mutual, requireNodeIdInCert: t.tls.requireNodeIdInCert } } : {}),
    logger,
  });
}

/**
 * Starts a node. `supervised`: addresses of peers missing from static `members` will be given
 * through {@link RunningNode.setPeers} (by `tessera cluster up`); otherwise they are required.
 */
export async function runNode(loaded: LoadedConfig, baseLogger: Logger, options: { supervised?: boolean } = {}): Promise<RunningNode> {
  const c = loaded.config;
  // The TCP transport names the node in its own child logger; everything else gets it here.
  const logger = baseLogger.child ? baseLogger.child({ node: c.id }) : baseLogger;
  const ids = c.members.map((m) => (typeof m === 'string' ? m : m.id));
  if (c.discovery.kind === 'static' && c.transport.kind === 'tcp' && !options.supervised) {
    const issues = c.members.flatMap((m, i) => {
      const id = typeof m === 'string' ? m : m.id;
      if (id === c.id || (typeof m !== 'string' && m.raftAddress)) return [];
      return [{ path: `members[${i}]${typeof m === 'string' ? '' : '.raftAddress'}`, message: `the address of ${id} is needed with static discovery over TCP: give { id: ${JSON.stringify(id)}, raftAddress: "host:port", clientAddress: "host:port" } (or use discovery: { kind: redis })` }];
    });
    if (issues.length > 0) throw new NodeConfigError('members', issues);
  }
  const networks = await loadNetworks(loaded);
  const startedAt = Date.now();
  const overrides = new Map<string, NodeRecord>();
  const discovery = await openDiscovery(loaded, logger);
  const lookup = (id: string) => overrides.get(id) ?? discovery.resolve(id);
  const storage = await openStorage(loaded, logger);

  let node: PartitionNode | undefined;
  let runtime: ComponentRuntime | undefined;
  let admin: AdminServer | undefined;
  let record: NodeRecord | undefined;
  let serving = false;
  const raftAddress = () => {
    if (!node) return null;
    if (c.transport.kind === 'tcp') {
      if (c.transport.advertise) return c.transport.advertise;
      const a = (node.raftHost.transport as unknown as { address?: { host: string; port: number } }).address;
      return a ? addr(a) : null;
    }
    return `nats://${c.clusterId}/${c.id}`;
  };
  const members = (): NodeStatus['members'] =>
    ids.map((id) => {
      const r = id === c.id ? record : lookup(id);
      const m = c.members.find((x) => typeof x !== 'string' && x.id === id);
      const fromConfig = typeof m === 'object' ? m : undefined;
      return {
        id,
        raftAddress: r?.raftAddress ?? fromConfig?.raftAddress ?? null,
        clientAddress: r?.clientAddress ?? fromConfig?.clientAddress ?? null,
        adminAddress: r?.adminAddress ?? fromConfig?.adminAddress ?? null,
      };
    });
  const transport = () => transportCounters(c.transport.kind, node!.raftHost.transport);
  const status = () =>
    buildStatus({
      node: node!,
      runtime,
      startedAt,
      addresses: { raft: raftAddress(), client: node!.clientAddress ?? null, admin: admin?.address ?? null },
      storage: c.storage.engine,
      members,
      transport,
    });
  const metrics = createNodeMetrics(c.id, { status, transport });
  const closeAll = async () => {
    serving = false;
    await admin?.close().catch(() => {});
    if (runtime) await runtime.close().catch(() => {});
    await node?.close().catch(() => {});
    await discovery.close().catch(() => {});
    await storage.close().catch(() => {});
  };
  try {
    if (c.admin !== false) {
      admin = await startAdminServer(c.admin.listen, { status, metrics: () => metrics.text(), metricsContentType: metrics.contentType, serving: () => serving, logger });
    }
    const nodeOptions: NodeOptions = {
      id: c.id,
      clusterId: c.clusterId,
      members: ids,
      partitions: c.partitions,
      storage,
      transport: await openTransport(loaded, (id) => lookup(id)?.raftAddress, c.transport.kind === 'tcp' ? baseLogger : logger),
      client: { listen: c.client.listen, ...(c.client.advertise ? { advertise: c.client.advertise } : {}) },
      clientAddresses: (id) => lookup(id)?.clientAddress,
      balancer: { enabled: c.balancer.enabled, intervalMs: c.balancer.intervalMs },
      logger,
      observer: metrics.observer,
      ...(c.raft ? { raft: c.raft } : {}),
    };
    if (networks.length > 0) {
      const cn = await createComponentNode({ ...nodeOptions, networks });
      node = cn.node;
      runtime = cn.runtime;
    } else node = await createNode(nodeOptions);
    const partitions = [];
    for (let p = 0; p < c.partitions.count; p++) if (node.group(p)) partitions.push(`p${p}`);
    const self: NodeRecordInput = {
      id: c.id,
      raftAddress: raftAddress()!,
      ...(node.clientAddress ? { clientAddress: node.clientAddress } : {}),
      ...(admin ? { adminAddress: admin.address } : {}),
      partitions,
    };
    await discovery.register(self);
    record = discovery.resolve(c.id)!;
    serving = true;
    logger.info({ raft: self.raftAddress, client: self.clientAddress, admin: self.adminAddress, partitions: partitions.length, storage: c.storage.engine, transport: c.transport.kind, discovery: c.discovery.kind, networks: networks.map((n) => n.name) }, 'node started');
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    id: c.id,
    node,
    runtime,
    metrics,
    record,
    status,
    setPeers(records) {
      for (const r of records) if (r.id !== c.id && ids.includes(r.id)) overrides.set(r.id, Object.freeze({ ...r }) as NodeRecord);
    },
    close: () => (closing ??= closeAll().then(() => logger.info({}, 'node stopped'))),
  };
}
