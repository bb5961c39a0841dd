import type { GroupId, NodeId, Role } from '../types.js';

/**
 * Hooks a group calls as it works, for metrics and tracing (e.g. a Prometheus exporter). Every
 * member is optional and must be cheap and non-throwing: they run on the hot path. Latencies are
 * measured per batch, not per entry, so the cost stays constant under load.
 */
export interface GroupObserver {
  /** `count` proposals were appended by this leader in one batch. */
  proposed?(group: GroupId, count: number): void;
  /** A batch of `count` entries proposed here committed `ms` after it was appended. */
  committed?(group: GroupId, count: number, ms: number): void;
  /** `count` entries were applied in one batch, `ms` after the batch became available to apply. */
  applied?(group: GroupId, count: number, ms: number): void;
  /** Storage made `entries` entries (`bytes` bytes) durable in one write taking `ms`. */
  persisted?(group: GroupId, entries: number, bytes: number, ms: number): void;
  /** Role, term or leader changed. */
  roleChanged?(group: GroupId, role: Role, term: number, leader: NodeId | undefined): void;
  /** This replica started an election (pre-vote or vote) for a new term. */
  electionStarted?(group: GroupId, term: number): void;
  /** A snapshot was taken (`kind: 'take'`) or installed from the leader (`kind: 'install'`). */
  snapshot?(group: GroupId, kind: 'take' | 'install', index: number, ms: number): void;
}
