import type { EntryType, HardState, LogEntry, Membership, Message, NodeId, Role } from '../types.js';

/** Static settings of the protocol core (validated and defaulted by the runtime's config schema). */
export interface CoreConfig {
  readonly id: NodeId;
  readonly group: string;
  /** Ticks without hearing from a leader before campaigning (randomized in [n, 2n)). */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Upper bound of entry bytes in one AppendEntries. */
  readonly maxMsgBytes: number;
  /** AppendEntries in flight per follower in Replicate state (the pipeline depth). */
  readonly maxInflightMsgs: number;
  /** Bytes of proposed but uncommitted entries a leader accepts before pushing back. */
  readonly maxUncommittedBytes: number;
  /** Followers forward proposals to the leader instead of rejecting them with NotLeaderError. */
  readonly forwardProposals: boolean;
  /** Ticks subtracted from the election timeout when judging a lease, to absorb clock drift. */
  readonly leaseDriftTicks: number;
  /** Whether the runtime can send snapshots (otherwise lagging followers wait for the log). */
  readonly snapshotsEnabled: boolean;
  /** Uniform random number in [0, 1): injected so the simulation is deterministic. */
  readonly random: () => number;
  readonly decodeMembership: (data: Uint8Array) => Membership;
  /** Deliberately broken behaviours, for proving that the simulation's checks can fail. Never set in production. */
  readonly unsafe?: UnsafeFlags;
}

/** Planted bugs for the simulation's self-test. */
export interface UnsafeFlags {
  /**
   * The classic Figure 8 mistake: a new leader appends no no-op and commits entries of earlier
   * terms by counting replicas.
   */
  readonly commitPriorTermByCount?: boolean;
  /** Grant votes without the log up-to-date check (violates the election restriction). */
  readonly voteIgnoresLog?: boolean;
  /** Followers acknowledge entries before storage made them durable (a crash loses acknowledged data). */
  readonly ackBeforePersist?: boolean;
  /** The leader answers read-index requests from its own commit index without a quorum round (stale reads). */
  readonly readWithoutQuorum?: boolean;
}

/** Durable state the core starts from. */
export interface CoreInit {
  readonly hardState: HardState;
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** Durable entries after the snapshot, in order. */
  readonly entries: LogEntry[];
  /** Membership as of the snapshot (later config entries in `entries` override it). */
  readonly membership: Membership;
}

/** Volatile state worth reporting when it changes. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
  readonly term: number;
}

/** The answer to a read-index request: `index` to wait for, or -1 if the read must be retried. */
export interface ReadState {
  readonly ctx: number;
  readonly index: number;
}

/** The leader's answer to forwarded proposals `ctx`: `count` entries from `index` in `term`, or index -1 when rejected. */
export interface PropResult {
  readonly ctx: number;
  readonly index: number;
  readonly term: number;
  readonly count: number;
}

/** Snapshot work for the runtime: send one to a follower, or handle a chunk / chunk ack. */
export interface SnapshotNeed {
  readonly kind: 'send' | 'receive' | 'ack';
  readonly to: NodeId;
  readonly message: Message | undefined;
}

/**
 * Everything the owner of a {@link RaftCore} must do, in this order:
 * 1. persist `hardState` (if present) and make it durable before sending any of `messages`;
 * 2. truncate storage from `truncateFrom` (if non-zero), then append `entries`; report durability
 *    with `persisted(lastIndex, lastTerm)`;
 * 3. send `messages` (after 1; they do not wait for 2: acknowledgements are only generated after
 *    `persisted`);
 * 4. apply `committed` in order;
 * 5. answer reads in `readStates`, forwarded-proposal outcomes in `proposals`, and snapshot work.
 */
export interface Ready {
  readonly hardState: HardState | undefined;
  readonly softState: SoftState | undefined;
  /** Current commit index, for lazy persistence. */
  readonly commit: number;
  readonly truncateFrom: number;
  readonly entries: LogEntry[];
  readonly messages: Message[];
  readonly committed: LogEntry[];
  readonly readStates: ReadState[];
  readonly proposals: PropResult[];
  readonly snapshots: SnapshotNeed[];
}

export type { EntryType };
