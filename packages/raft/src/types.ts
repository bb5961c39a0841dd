/**
 * Plain data types shared by the core, the runtime and every storage and transport backend.
 * Everything here is data: no behaviour, no I/O.
 */

/** A node's identity within a cluster. Stable across restarts. */
export type NodeId = string;

/** A Raft group's identity. One transport and one storage engine serve many groups. */
export type GroupId = string;

/** Kinds of log entry. Only `Normal` entries reach the state machine's `apply`. */
export const EntryType = {
  /** A command proposed by a client. */
  Normal: 0,
  /** The empty entry a new leader appends so that it can commit entries of earlier terms. */
  Noop: 1,
  /** A membership change; its `data` is an encoded {@link Membership}. */
  Config: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/**
 * One replicated log entry. Entries are immutable once created: the leader, its followers and the
 * stores may share one object, so nobody may mutate `data` after `propose`.
 */
export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The persistent per-group state other than the log (Raft paper Figure 2, plus the commit index). */
export interface HardState {
  /** Latest term this node has seen. */
  readonly term: number;
  /** Node this node voted for in `term`, or `''` for none. */
  readonly vote: NodeId;
  /** Highest index known committed. Persisted lazily: it may lag, never lead. */
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: '', commit: 0 });

/** The members of a group. Voters elect leaders and form commit quorums; learners only receive the log. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** Describes a snapshot: the state after applying every entry up to and including `index`. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

/** Role of a node within one group. */
export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Wire message kinds. The numeric values are part of the wire format: never renumber. */
export const MessageType = {
  /** AppendEntries: `index`/`logTerm` are the previous entry, `entries` follow it, `commit` is the leader's. */
  App: 1,
  /** Reply to App. Success: `index` is the highest durable index matching the leader. Reject: `index` is the rejected prevIndex, `rejectHint`/`logTerm` point at where to retry. */
  AppResp: 2,
  /** RequestVote: `index`/`logTerm` describe the candidate's last entry. */
  Vote: 3,
  VoteResp: 4,
  /** Pre-vote: like Vote for `term` (one ahead of the sender's), but nobody changes term or vote. */
  PreVote: 5,
  PreVoteResp: 6,
  /** Leader heartbeat: `commit` (capped at the follower's match), `context` a read-index round, `index` the leader's send tick (lease). */
  Heartbeat: 7,
  /** Echoes the heartbeat's `context` and `index`. */
  HeartbeatResp: 8,
  /** A follower forwards proposals: `entries` carry data only, `context` is the follower's request id. */
  Prop: 9,
  /** Leader's answer to Prop: `index` is the first index assigned and `logTerm` their term, `commit` the count (or `reject`). */
  PropResp: 10,
  /** A follower asks the leader for a read index; `context` identifies the request. */
  ReadIndex: 11,
  /** The leader's read index for `context` in `index` (or `reject`). */
  ReadIndexResp: 12,
  /** InstallSnapshot: one chunk of the leader's snapshot in `snapshot`. */
  Snap: 13,
  /** Follower's reply to a Snap chunk: `index` is the snapshot index, `commit` the bytes received so far, `reject` to restart. */
  SnapResp: 14,
  /** Leadership transfer: the recipient campaigns at once, bypassing pre-vote and leases. */
  TimeoutNow: 15,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** One chunk of a snapshot being installed on a follower. */
export interface SnapshotChunk {
  readonly meta: SnapshotMeta;
  /** Byte offset of `data` within the snapshot image. */
  readonly offset: number;
  readonly data: Uint8Array;
  /** True on the last chunk. */
  readonly done: boolean;
}

/**
 * A Raft message. Every message has the same fields (unused ones are zero/empty) so that the
 * engine sees one object shape; the meaning of each field per type is documented on {@link MessageType}.
 */
export interface Message {
  type: MessageType;
  group: GroupId;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  commit: number;
  entries: LogEntry[];
  reject: boolean;
  rejectHint: number;
  context: number;
  snapshot: SnapshotChunk | undefined;
}

/** Builds a message with every field present, so all messages share one hidden class. */
export function message(type: MessageType, group: GroupId, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    group,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    commit: 0,
    entries: NO_ENTRIES,
    reject: false,
    rejectHint: 0,
    context: 0,
    snapshot: undefined,
  };
}

/** Shared empty array for messages without entries. Never push to it. */
export const NO_ENTRIES: LogEntry[] = [];
Object.freeze(NO_ENTRIES);

/** Approximate in-memory/wire cost of an entry, used for batching and flow-control limits. */
export function entrySize(e: LogEntry): number {
  return e.data.byteLength + 24;
}
