import { z } from 'zod';
import { ConfigError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Snapshot and compaction policy of a group. */
export const snapshotPolicySchema = z
  .object({
    /** Take a snapshot once this many entries were applied since the last one (0 = never by count). */
    entries: z.number().int().min(0).default(100_000),
    /** ...or once this many bytes of entries were applied since the last one (0 = never by size). */
    bytes: z.number().int().min(0).default(64 * MiB),
    /** Entries kept in the log behind a snapshot, so slightly slow followers need no snapshot. */
    trailingEntries: z.number().int().min(0).default(5_000),
    /** Snapshot bytes per InstallSnapshot message. */
    chunkBytes: z.number().int().min(1).max(64 * MiB).default(1 * MiB),
    /** Committed snapshots kept on disk (the newest `keep`). */
    keep: z.number().int().min(1).default(2),
  })
  .strict();

/** Learner promotion policy. */
export const learnerPolicySchema = z
  .object({
    /** `auto`: the leader promotes a learner once it has kept up for `stableMs`; `manual`: only `promote()` does. */
    promotion: z.enum(['auto', 'manual']).default('auto'),
    /** A learner within this many entries of the leader's last index counts as caught up. */
    maxLagEntries: z.number().int().min(0).default(1000),
    /** How long a learner must stay caught up before automatic promotion. */
    stableMs: z.number().int().min(0).default(2000),
  })
  .strict();

/**
 * Settings of one Raft group. Every field has a default; pass only what you change.
 * Times are in milliseconds or in ticks of `tickMs`.
 */
export const raftConfigSchema = z
  .object({
    /** Length of one logical tick. */
    tickMs: z.number().int().min(1).default(100),
    /** Election timeout in ticks (randomized in [n, 2n)). */
    electionTicks: z.number().int().min(2).default(10),
    /** Heartbeat interval in ticks; must be less than electionTicks. */
    heartbeatTicks: z.number().int().min(1).default(1),
    /** Pre-vote (Raft thesis 9.6): a node that cannot win does not disrupt the group by raising terms. */
    preVote: z.boolean().default(true),
    /** A leader that has not heard from a quorum within an election timeout steps down. */
    checkQuorum: z.boolean().default(true),
    /** Max entry bytes per AppendEntries message. */
    maxMsgBytes: z.number().int().min(1).default(1 * MiB),
    /** AppendEntries messages in flight per follower (pipelining window). */
    maxInflightMsgs: z.number().int().min(1).max(65_536).default(256),
    /** Uncommitted bytes a leader accepts before proposals wait (backpressure). */
    maxUncommittedBytes: z.number().int().min(1).default(64 * MiB),
    /** Proposals waiting for room (or for a leader) before new ones fail with BackpressureError. */
    maxQueuedProposals: z.number().int().min(1).default(100_000),
    /** On a follower: `forward` proposals and reads to the leader, or `reject` with NotLeaderError. */
    followerRequests: z.enum(['forward', 'reject']).default('forward'),
    /** Drift allowance for lease reads, in ticks (a lease lasts electionTicks - leaseDriftTicks). */
    leaseDriftTicks: z.number().int().min(1).default(2),
    /** A proposal or read not answered within this time fails with TimeoutError (outcome unknown). */
    requestTimeoutMs: z.number().int().min(1).default(10_000),
    /** Committed entries applied per batch before yielding to other work. */
    maxApplyBatch: z.number().int().min(1).default(4096),
    /** How often the commit index is persisted when nothing else is (it is only a restart hint). */
    commitPersistMs: z.number().int().min(1).default(1_000),
    snapshot: snapshotPolicySchema.default(snapshotPolicySchema.parse({})),
    /** How learners become voters. */
    learners: learnerPolicySchema.default(learnerPolicySchema.parse({})),
  })
  .strict()
  .refine((c) => c.heartbeatTicks < c.electionTicks, { message: 'must be less than electionTicks', path: ['heartbeatTicks'] });

export type RaftConfig = z.output<typeof raftConfigSchema>;
export type RaftConfigInput = z.input<typeof raftConfigSchema>;
export type SnapshotPolicy = z.output<typeof snapshotPolicySchema>;
export type LearnerPolicy = z.output<typeof learnerPolicySchema>;

/**
 * Validates `input` against `schema`, throwing a {@link ConfigError} whose message names the first
 * offending field as a dotted path under `prefix` (e.g. `raft.electionTicks: expected number`).
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => {
    const path = [prefix, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
      .filter((s) => s !== '')
      .join('.')
      .replace(/\.\[/g, '[');
    return { path, message: i.message };
  });
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues.slice(1).map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')})` : '';
  throw new ConfigError(first.path, first.message + more);
}
