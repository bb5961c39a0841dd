/**
 * `tessera cluster up`: starts a local cluster, prints its endpoints (one JSON object with
 * `--json`), runs until SIGINT or SIGTERM, then stops every node cleanly.
 */
import { startLocalCluster, type LocalClusterOptions } from '../cluster/up.js';

/** The endpoints `cluster up` prints. */
export function describeCluster(c: Awaited<ReturnType<typeof startLocalCluster>>) {
  const nodes = c.live();
  return {
    clusterId: c.state.clusterId,
    dir: c.dir,
    storage: c.state.storage,
    transport: c.state.transport,
    partitions: c.state.partitions,
    replicas: c.state.replicas,
    nodes: nodes.map((n) => ({ id: n.id, pid: n.pid, raftAddress: n.raftAddress, clientAddress: n.clientAddress, adminAddress: n.adminAddress, dataDir: n.dataDir, config: n.config, log: n.log })),
    endpoints: { client: nodes.map((n) => n.clientAddress).join(','), admin: nodes.map((n) => n.adminAddress).join(',') },
  };
}

export async function clusterUp(opts: LocalClusterOptions & { json: boolean }, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const cluster = await startLocalCluster({
    ...opts,
    onUnexpectedExit: (id, code, signal) => err(`node ${id} exited unexpectedly (${signal ?? `code ${code}`}); see ${cluster.configOf(id).replace(/node\.json$/, 'node.log')}`),
  });
  const d = describeCluster(cluster);
  if (opts.json) out(JSON.stringify(d));
  else {
    out(`cluster ${d.clusterId} is up: ${d.nodes.length} nodes, ${d.partitions} partitions x ${d.replicas} replicas, ${d.storage} storage, ${d.transport} transport (dir ${d.dir})`);
    const rows = [['node', 'pid', 'client', 'admin (/status /metrics /health)', 'raft', 'data'], ...d.nodes.map((n) => [n.id, String(n.pid), n.clientAddress, n.adminAddress, n.raftAddress, n.dataDir])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) out('  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
    out(`client endpoints: ${d.endpoints.client}`);
    out(`try: tessera kv put hello world --dir ${opts.dir} && tessera status --dir ${opts.dir}`);
    out(d.storage === 'memory' ? 'Ctrl-C stops the cluster (memory storage: its data goes with it).' : 'Ctrl-C stops the cluster; starting it again on the same --dir recovers its data.');
  }
  await new Promise<void>((resolve) => {
    const onSignal = () => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  if (!opts.json) err('stopping the cluster...');
  await cluster.stop();
  if (!opts.json) err('stopped');
  return 0;
}
