/**
 * `tessera status`: asks every node's admin endpoint for `/status` (starting from the endpoints
 * given and adding the members they know) and prints, per node, each partition's role, term,
 * leader, commit and applied indices and, on leaders, each follower's lag.
 */
import { fetchStatus } from '../cluster/admin-client.js';
import type { NodeStatus } from '../node/status.js';
import { adminEndpoints } from './endpoints.js';

export interface StatusOptions {
  readonly cluster?: string;
  readonly dir: string;
  readonly json: boolean;
}

/** Every node's status, plus the endpoints that did not answer. */
export interface ClusterStatus {
  readonly nodes: NodeStatus[];
  readonly unreachable: { endpoint: string; id: string | null; error: string }[];
}

/** Collects the status of every node reachable from `endpoints` (members they report are added). */
export async function collectStatus(endpoints: readonly string[]): Promise<ClusterStatus> {
  const nodes = new Map<string, NodeStatus>();
  const unreachable: ClusterStatus['unreachable'] = [];
  const asked = new Set<string>();
  let queue: { endpoint: string; id: string | null }[] = endpoints.map((e) => ({ endpoint: e, id: null }));
  while (queue.length > 0) {
    const batch = queue.filter((q) => !asked.has(q.endpoint));
    queue = [];
    for (const q of batch) asked.add(q.endpoint);
    const results = await Promise.allSettled(batch.map((q) => fetchStatus(q.endpoint)));
    results.forEach((r, i) => {
      const q = batch[i]!;
      if (r.status === 'rejected') {
        const msg = (r.reason as Error).message;
        // A client endpoint given by mistake speaks the binary protocol, not HTTP.
        const hint = q.id === null && !/ECONNREFUSED|no answer|answered/.test(msg) ? ' (is it an admin endpoint? status reads the nodes\' admin HTTP endpoints, not client endpoints)' : '';
        unreachable.push({ endpoint: q.endpoint, id: q.id, error: msg + hint });
        return;
      }
      nodes.set(r.value.nodeId, r.value);
      for (const m of r.value.members) {
        if (m.adminAddress && !asked.has(m.adminAddress) && !nodes.has(m.id)) queue.push({ endpoint: m.adminAddress, id: m.id });
      }
    });
  }
  // A member nobody could reach and no endpoint answered for.
  const known = new Set([...nodes.keys()]);
  const missing = [...nodes.values()].flatMap((s) => s.members).filter((m) => !known.has(m.id) && !unreachable.some((u) => u.id === m.id));
  for (const m of new Map(missing.map((m) => [m.id, m])).values()) unreachable.push({ endpoint: m.adminAddress ?? '(unknown admin address)', id: m.id, error: 'no admin address known' });
  return { nodes: [...nodes.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1)), unreachable };
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The human-readable form. */
export function formatStatus(st: ClusterStatus): string {
  const lines: string[] = [];
  for (const n of st.nodes) {
    const led = n.partitions.filter((p) => p.role === 'leader').length;
    lines.push(`node ${n.nodeId}  cluster ${n.clusterId}  client ${n.addresses.client ?? '-'}  admin ${n.addresses.admin ?? '-'}  raft ${n.addresses.raft ?? '-'}`);
    lines.push(`  up ${n.uptimeSeconds.toFixed(0)} s, pid ${n.pid}, ${n.storage} storage, ${n.transport.kind} transport (${n.transport.connections} connections), leads ${led} of ${n.partitions.length} replicas`);
    const rows = [['partition', 'role', 'term', 'leader', 'commit', 'applied', 'last', 'followers (match/lag)']];
    for (const p of n.partitions) {
      rows.push([`p${p.partition}`, p.role, String(p.term), p.leader ?? '-', String(p.commitIndex), String(p.appliedIndex), String(p.lastIndex), p.followers.map((f) => `${f.id} ${f.match}/${f.lag}`).join(', ')]);
    }
    for (const l of pad(rows)) lines.push(`  ${l}`);
    if (n.components.length > 0) {
      const comp = [['component', 'partition', 'role', 'leader', 'applied', 'duplicates', 'outbox']];
      for (const c of n.components) comp.push([`${c.network}/${c.component}`, `${c.partition} (p${c.clusterPartition})`, c.role, c.leader ?? '-', String(c.applied), String(c.duplicates), String(c.outbox)]);
      for (const l of pad(comp)) lines.push(`  ${l}`);
    }
    lines.push('');
  }
  for (const u of st.unreachable) lines.push(`unreachable: ${u.id ?? u.endpoint} (${u.error})`);
  const leaderless = new Set(st.nodes.flatMap((n) => n.partitions.filter((p) => p.leader === null).map((p) => p.partition)));
  if (st.nodes.length === 0) lines.push('no node answered');
  else lines.push(`${st.nodes.length} node(s) answered${st.unreachable.length ? `, ${st.unreachable.length} unreachable` : ''}; ${leaderless.size === 0 ? 'every partition has a leader' : `partitions without a leader: ${[...leaderless].map((p) => `p${p}`).join(', ')}`}`);
  return lines.join('\n');
}

/** Runs the command. Exit 1 if no node answered or some were unreachable. */
export async function status(opts: StatusOptions, out: (s: string) => void): Promise<number> {
  const st = await collectStatus(adminEndpoints(opts.cluster, opts.dir));
  out(opts.json ? JSON.stringify(st, null, 2) : formatStatus(st));
  return st.nodes.length > 0 && st.unreachable.length === 0 ? 0 : 1;
}
