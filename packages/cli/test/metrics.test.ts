/**
 * The metrics of a node without processes: observer hooks and scrape-time gauges through the
 * admin server, read back as Prometheus text.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@tessera/raft';
import { startAdminServer, type AdminServer } from '../src/node/admin.js';
import { createNodeMetrics } from '../src/node/metrics.js';
import type { NodeStatus } from '../src/node/status.js';
import type { TransportCounters } from '../src/node/transport-stats.js';
import { parsePrometheus } from './prometheus.js';

const transport: TransportCounters = { kind: 'tcp', messagesSent: 10, messagesReceived: 9, bytesSent: 1000, bytesReceived: 900, dropped: { queueFull: 2, unreachable: 1 }, droppedTotal: 3, connections: 2 };
const status: NodeStatus = {
  nodeId: 'n1',
  clusterId: 't',
  pid: 1,
  uptimeSeconds: 1,
  addresses: { raft: '127.0.0.1:1', client: '127.0.0.1:2', admin: '127.0.0.1:3' },
  storage: 'memory',
  partitionCount: 2,
  replicationFactor: 3,
  members: [],
  partitions: [
    { partition: 0, group: 'p0', role: 'leader', term: 3, leader: 'n1', preferredLeader: 'n1', commitIndex: 10, appliedIndex: 9, lastIndex: 12, snapshotIndex: 0, voters: ['n1', 'n2', 'n3'], followers: [{ id: 'n2', match: 10, lag: 2, state: 'replicate' }, { id: 'n3', match: 7, lag: 5, state: 'probe' }] },
    { partition: 1, group: 'p1', role: 'follower', term: 2, leader: 'n2', preferredLeader: 'n2', commitIndex: 4, appliedIndex: 4, lastIndex: 4, snapshotIndex: 0, voters: ['n1', 'n2', 'n3'], followers: [] },
  ],
  transport,
  components: [],
};

describe('node metrics', () => {
  const metrics = createNodeMetrics('n1', { status: () => status, transport: () => transport });
  let admin: AdminServer | undefined;
  afterAll(async () => admin?.close());

  it('counts observer events and reads gauges at scrape time', async () => {
    const o = metrics.observer;
    o.proposed!('p0', 5);
    o.committed!('p0', 5, 3);
    o.applied!('p0', 5, 0.5);
    o.persisted!('p0', 5, 4096, 2);
    o.persisted!('p1', 1, 100, 20);
    o.roleChanged!('p1', 'candidate', 3, undefined);
    o.electionStarted!('p1', 3);
    o.snapshot!('p0', 'take', 9, 12);
    o.snapshot!('p0', 'install', 9, 40);
    const f = parsePrometheus(await metrics.text());
    const one = (name: string, labels: Record<string, string> = {}) => {
      const s = f.get(name.replace(/_(count|sum|bucket)$/, ''))?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
      expect(s, `${name} ${JSON.stringify(labels)}`).toBeDefined();
      expect(s!.labels.node).toBe('n1');
      return s!.value;
    };
    expect(one('tessera_raft_proposals_total', { partition: '0' })).toBe(5);
    expect(one('tessera_raft_commits_total', { partition: '0' })).toBe(5);
    expect(one('tessera_raft_applied_entries_total', { partition: '0' })).toBe(5);
    expect(one('tessera_raft_propose_to_commit_seconds_count')).toBe(1);
    expect(one('tessera_raft_propose_to_commit_seconds_sum')).toBeCloseTo(0.003);
    expect(one('tessera_storage_persist_seconds_count')).toBe(2);
    expect(one('tessera_storage_persist_seconds_bucket', { le: '0.0025' })).toBe(1);
    expect(one('tessera_storage_append_batch_entries_sum')).toBe(6);
    expect(one('tessera_storage_persisted_bytes_total')).toBe(4196);
    expect(one('tessera_raft_role_changes_total', { partition: '1', role: 'candidate' })).toBe(1);
    expect(one('tessera_raft_elections_total', { partition: '1' })).toBe(1);
    expect(one('tessera_raft_snapshot_seconds_count', { kind: 'install' })).toBe(1);
    expect(one('tessera_raft_role', { partition: '0' })).toBe(3);
    expect(one('tessera_raft_role', { partition: '1' })).toBe(0);
    expect(one('tessera_raft_commit_index', { partition: '0' })).toBe(10);
    expect(one('tessera_raft_applied_index', { partition: '0' })).toBe(9);
    expect(one('tessera_raft_follower_lag_entries', { partition: '0', follower: 'n3' })).toBe(5);
    expect(f.get('tessera_raft_follower_lag_entries')!.samples).toHaveLength(2);
    expect(one('tessera_partitions_led')).toBe(1);
    expect(one('tessera_transport_sent_bytes_total')).toBe(1000);
    expect(one('tessera_transport_dropped_messages_total', { reason: 'queueFull' })).toBe(2);
    expect(one('tessera_transport_connections')).toBe(2);
    // A second scrape reads fresh values, not accumulated ones.
    const again = parsePrometheus(await metrics.text());
    expect(again.get('tessera_transport_sent_bytes_total')!.samples[0]!.value).toBe(1000);
  });

  it('serves /metrics, /status, /health over HTTP and refuses other paths and methods', async () => {
    let serving = false;
    admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, { status: () => status, metrics: () => metrics.text(), metricsContentType: metrics.contentType, serving: () => serving, logger: silentLogger });
    const url = (p: string) => `http://${admin!.address}${p}`;
    expect((await fetch(url('/health'))).status).toBe(503);
    serving = true;
    expect(await (await fetch(url('/health'))).json()).toEqual({ status: 'ok', nodeId: 'n1', partitions: 2, leaderless: 0 });
    expect(await (await fetch(url('/status'))).json()).toEqual(status);
    const m = await fetch(url('/metrics'));
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(parsePrometheus(await m.text()).has('tessera_raft_term')).toBe(true);
    expect((await fetch(url('/other'))).status).toBe(404);
    expect((await fetch(url('/status'), { method: 'POST' })).status).toBe(405);
  });
});
