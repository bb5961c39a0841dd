/**
 * Prometheus metrics of a node (prom-client, one registry per node, no global state). Hot-path
 * figures arrive through the Raft GroupObserver hooks, once per batch; per-partition indices,
 * follower lag and transport counters are read when scraped. The list is in docs/cli.md.
 */
import type { GroupObserver, GroupId, Role } from '@tessera/raft';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeStatus } from './status.js';
import type { TransportCounters } from './transport-stats.js';

/** Latency buckets in seconds: 50 µs to 10 s. */
const LATENCY = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
const ROLE_VALUE: Record<string, number> = { follower: 0, 'pre-candidate': 1, candidate: 2, leader: 3 };

/** Where the scrape-time gauges come from. */
export interface MetricsSources {
  readonly status: () => NodeStatus;
  readonly transport: () => TransportCounters;
}

/** A node's metrics: the registry to expose and the observer to give the node's Raft groups. */
export interface NodeMetrics {
  readonly registry: Registry;
  readonly observer: GroupObserver;
  /** Prometheus text exposition of every metric. */
  text(): Promise<string>;
  readonly contentType: string;
}

/** `p12` -> `12` (partition groups are named `p<index>`). */
const partitionLabel = (group: GroupId) => (group.startsWith('p') ? group.slice(1) : group);

/** Creates the metrics of node `nodeId`. `sources` are read at scrape time. */
export function createNodeMetrics(nodeId: string, sources: MetricsSources): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'tessera_' });

  const proposals = new Counter({ name: 'tessera_raft_proposals_total', help: 'Entries proposed by this node as leader', labelNames: ['partition'], registers: [registry] });
  const commits = new Counter({ name: 'tessera_raft_commits_total', help: 'Entries proposed here that committed', labelNames: ['partition'], registers: [registry] });
  const applied = new Counter({ name: 'tessera_raft_applied_entries_total', help: 'Entries applied to the state machine', labelNames: ['partition'], registers: [registry] });
  const proposeToCommit = new Histogram({ name: 'tessera_raft_propose_to_commit_seconds', help: 'Time from appending a batch of proposals to its commit (per batch, leader)', buckets: LATENCY, registers: [registry] });
  const commitToApply = new Histogram({ name: 'tessera_raft_commit_to_apply_seconds', help: 'Time from a batch of entries becoming committed to being applied (per batch)', buckets: LATENCY, registers: [registry] });
  const persist = new Histogram({ name: 'tessera_storage_persist_seconds', help: 'Duration of one durable log write (write + fsync), per batch', buckets: LATENCY, registers: [registry] });
  const persistBatch = new Histogram({ name: 'tessera_storage_append_batch_entries', help: 'Entries made durable per log write', buckets: BATCH, registers: [registry] });
  const persistBytes = new Counter({ name: 'tessera_storage_persisted_bytes_total', help: 'Log bytes made durable', registers: [registry] });
  const roleChanges = new Counter({ name: 'tessera_raft_role_changes_total', help: 'Role, term or leader changes seen by this node', labelNames: ['partition', 'role'], registers: [registry] });
  const elections = new Counter({ name: 'tessera_raft_elections_total', help: 'Elections (pre-vote or vote) this node started', labelNames: ['partition'], registers: [registry] });
  const snapshots = new Histogram({ name: 'tessera_raft_snapshot_seconds', help: 'Duration of taking a snapshot (take) or installing one from the leader (install)', labelNames: ['kind'], buckets: LATENCY, registers: [registry] });

  // Children are cached per group so the hot path does no label hashing.
  const cache = new Map<string, { proposals: Counter.Internal; commits: Counter.Internal; applied: Counter.Internal }>();
  const perGroup = (group: GroupId) => {
    let c = cache.get(group);
    if (!c) {
      const p = partitionLabel(group);
      c = { proposals: proposals.labels(p), commits: commits.labels(p), applied: applied.labels(p) };
      cache.set(group, c);
    }
    return c;
  };

  const observer: GroupObserver = {
    proposed: (group, count) => perGroup(group).proposals.inc(count),
    committed: (group, count, ms) => {
      perGroup(group).commits.inc(count);
      proposeToCommit.observe(ms / 1000);
    },
    applied: (group, count, ms) => {
      perGroup(group).applied.inc(count);
      commitToApply.observe(ms / 1000);
    },
    persisted: (_group, entries, bytes, ms) => {
      persist.observe(ms / 1000);
      persistBatch.observe(entries);
      persistBytes.inc(bytes);
    },
    roleChanged: (group, role: Role) => roleChanges.labels(partitionLabel(group), role).inc(),
    electionStarted: (group) => elections.labels(partitionLabel(group)).inc(),
    snapshot: (_group, kind, _index, ms) => snapshots.labels(kind).observe(ms / 1000),
  };

  // Scrape-time gauges: one status read per scrape, shared by every gauge below.
  let scrape: NodeStatus | undefined;
  const status = () => (scrape ??= sources.status());
  const perPartition = (name: string, help: string, pick: (p: NodeStatus['partitions'][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const p of status().partitions) this.labels(String(p.partition)).set(pick(p));
      },
    });
  perPartition('tessera_raft_role', 'Role of this replica: 0 follower, 1 pre-candidate, 2 candidate, 3 leader', (p) => ROLE_VALUE[p.role] ?? 0);
  perPartition('tessera_raft_term', 'Current term', (p) => p.term);
  perPartition('tessera_raft_commit_index', 'Highest committed log index known here', (p) => p.commitIndex);
  perPartition('tessera_raft_applied_index', 'Highest applied log index', (p) => p.appliedIndex);
  perPartition('tessera_raft_last_index', 'Last log index', (p) => p.lastIndex);
  perPartition('tessera_raft_snapshot_index', 'Index of the latest snapshot', (p) => p.snapshotIndex);
  new Gauge({
    name: 'tessera_raft_follower_lag_entries',
    help: 'Leader only: entries each follower is behind the leader',
    labelNames: ['partition', 'follower'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of status().partitions) for (const f of p.followers) this.labels(String(p.partition), f.id).set(f.lag);
    },
  });
  new Gauge({
    name: 'tessera_partitions_led',
    help: 'Partitions this node leads',
    registers: [registry],
    collect() {
      this.set(status().partitions.filter((p) => p.role === 'leader').length);
    },
  });

  let transport: TransportCounters | undefined;
  const tstats = () => (transport ??= sources.transport());
  const transportCounter = (name: string, help: string, pick: (t: TransportCounters) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(tstats()));
      },
    });
  transportCounter('tessera_transport_sent_bytes_total', 'Bytes the Raft transport sent', (t) => t.bytesSent);
  transportCounter('tessera_transport_received_bytes_total', 'Bytes the Raft transport received', (t) => t.bytesReceived);
  transportCounter('tessera_transport_sent_messages_total', 'Raft messages sent', (t) => t.messagesSent);
  transportCounter('tessera_transport_received_messages_total', 'Raft messages received', (t) => t.messagesReceived);
  new Counter({
    name: 'tessera_transport_dropped_messages_total',
    help: 'Raft messages dropped by the transport, by reason (Raft retransmits what matters)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(tstats().dropped)) this.labels(reason).inc(n);
    },
  });
  new Gauge({
    name: 'tessera_transport_connections',
    help: 'Established transport connections (NATS: 1 while connected)',
    registers: [registry],
    collect() {
      this.set(tstats().connections);
    },
  });

  return {
    registry,
    observer,
    contentType: registry.contentType,
    async text() {
      scrape = undefined;
      transport = undefined;
      try {
        return await registry.metrics();
      } finally {
        scrape = undefined;
        transport = undefined;
      }
    },
  };
}
