import { ChangeInProgressError, InvalidMembershipChangeError, NotLeaderError, ProposalDroppedError } from '../errors.js';
import { MembershipLog } from './membership-log.js';
import {
  EntryType,
  MessageType,
  NO_ENTRIES,
  Role,
  message,
  type HardState,
  type LogEntry,
  type Membership,
  type Message,
  type NodeId,
} from '../types.js';
import { Progress, ProgressState } from './progress.js';
import { majority, quorumValue } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly, type ReadRequest } from './read-only.js';
import type { CoreConfig, CoreInit, PropResult, ReadState, Ready, SnapshotNeed, SoftState } from './ready.js';

/** `context` value on Vote/PreVote marking a leadership-transfer campaign (bypasses leases). */
const CAMPAIGN_TRANSFER = 1;

/**
 * The Raft protocol as a pure state machine (in the style of etcd raft's RawNode): no I/O, no
 * clock, no timers. The owner feeds it messages (`step`), ticks (`tick`), proposals and read
 * requests, then takes a {@link Ready} describing what to persist, send and apply, and reports
 * back when storage made entries durable (`persisted`).
 *
 * Rules that keep it safe however the owner behaves:
 * - acknowledgements of log entries are generated only after `persisted`, so a follower never
 *   claims an entry it could lose in a crash;
 * - committed entries are handed out for applying only once locally durable;
 * - a Ready carrying `hardState` must have that state durable before its messages are sent.
 */
export class RaftCore {
  readonly id: NodeId;
  readonly group: string;
  private readonly cfg: CoreConfig;
  readonly log: RaftLog;

  term: number;
  vote: NodeId;
  lead: NodeId = '';
  role: Role = Role.Follower;

  private voters: NodeId[];
  private learners: NodeId[];
  private readonly prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Monotonic tick counter (lease arithmetic). */
  private ticks = 0;

  private uncommittedBytes = 0;
  private readonly readOnly = new ReadOnly();
  /** Read requests that arrived before this leader committed an entry of its term. */
  private pendingReads: { ctx: number; from: NodeId; lease: boolean }[] = [];

  /** Leadership transfer target, while a transfer is in progress. */
  leadTransferee: NodeId = '';
  private transferElapsed = 0;
  /** Highest index of a config entry in the log that may not be applied yet. */
  pendingConfIndex = 0;
  /** No lease reads before this tick (set after a transfer attempt). */
  private leaseBlockedUntil = 0;

  /**
   * Leader: forwarded proposals already appended, per follower and request id, so a duplicated Prop
   * message (networks and reconnects duplicate) is answered again instead of appended twice.
   */
  private readonly forwardedSeen = new Map<NodeId, Map<number, { index: number; term: number; count: number }>>();

  /** Follower: highest index verified against the current leader and waiting to be durable. */
  private pendingAck = 0;
  private pendingAckTo: NodeId = '';

  // Output buffers, drained by ready().
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private propResults: PropResult[] = [];
  private snapshotNeeds: SnapshotNeed[] = [];
  private prevHard: { term: number; vote: NodeId };
  private prevSoft: SoftState;

  constructor(cfg: CoreConfig, init: CoreInit) {
    this.cfg = cfg;
    this.id = cfg.id;
    this.group = cfg.group;
    this.log = new RaftLog(init.snapshotIndex, init.snapshotTerm, init.entries, init.hardState.commit);
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    this.members = new MembershipLog(init.membership, cfg.decodeMembership);
    this.members.appended(init.entries);
    const m = this.members.current();
    this.voters = [...m.voters];
    this.learners = [...m.learners];
    this.pendingConfIndex = this.members.latestIndex();
    this.prevHard = { term: this.term, vote: this.vote };
    this.resetRandomizedElectionTimeout();
    this.prevSoft = { role: this.role, leader: this.lead, term: this.term };
    // The newest config entry in the log defines membership, committed or not (thesis 4.1), so
    // membership follows every append, truncation and compaction.
    this.log.listener = {
      appended: (entries) => {
        if (this.members.appended(entries)) this.setMembership(this.members.current());
      },
      truncated: (from) => {
        if (this.members.truncated(from)) this.setMembership(this.members.current());
      },
      compacted: (upTo) => this.members.compacted(upTo),
    };
  }

  private readonly members: MembershipLog;

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick. */
  tick(): void {
    this.ticks++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  /** Handles a message from a peer. Messages for other groups or nodes must not be passed in. */
  step(m: Message): void {
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context === CAMPAIGN_TRANSFER;
        const inLease = this.cfg.checkQuorum && this.lead !== '' && this.electionElapsed < this.cfg.electionTicks;
        // A node that hears from a live leader ignores campaigns: a partitioned or removed node
        // rejoining with a higher term cannot depose a healthy leader.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries our future term; we adopt it only when we campaign.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else if (m.type === MessageType.Prop || m.type === MessageType.ReadIndex) {
        // Requests carry the sender's term only as a hint; don't let them disturb an election.
      } else {
        this.becomeFollower(m.term, '');
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
        // Tell a stale leader about the newer term so it steps down (it may be cut off from
        // everyone else, and with pre-vote we would never raise its term otherwise).
        this.send(message(MessageType.AppResp, this.group, this.id, m.from, this.term));
        return;
      }
      if (m.type === MessageType.PreVote) {
        const r = message(MessageType.PreVoteResp, this.group, this.id, m.from, this.term);
        r.reject = true;
        this.send(r);
        return;
      }
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) return;
    }

    switch (m.type) {
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
      case MessageType.Prop:
        this.handleForwardedProposal(m);
        return;
      case MessageType.ReadIndex:
        this.handleForwardedRead(m);
        return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      default:
        this.stepFollower(m);
    }
  }

  /**
   * Proposes commands. On the leader they are appended and the first index is returned; on a
   * follower with forwarding enabled they are sent to the leader under `ctx` and the outcome arrives
   * later as a {@link PropResult}; otherwise throws {@link NotLeaderError}. Throws
   * {@link ProposalDroppedError} if a leadership transfer is in progress or the uncommitted-bytes cap
   * would be exceeded (check {@link canAccept} first).
   */
  propose(commands: readonly Uint8Array[], ctx: number, type: EntryType = EntryType.Normal): number {
    if (this.role !== Role.Leader) {
      if (this.lead === '' || !this.cfg.forwardProposals) throw new NotLeaderError(this.group, this.lead || undefined);
      const m = message(MessageType.Prop, this.group, this.id, this.lead, this.term);
      m.entries = commands.map((data) => ({ index: 0, term: 0, type, data }));
      m.context = ctx;
      this.send(m);
      return -1;
    }
    if (this.leadTransferee !== '') throw new ProposalDroppedError('leadership transfer in progress');
    return this.appendProposals(commands, type);
  }

  /** True when the leader can take `bytes` more of proposals without exceeding its uncommitted cap. */
  canAccept(bytes: number): boolean {
    return this.uncommittedBytes === 0 || this.uncommittedBytes + bytes <= this.cfg.maxUncommittedBytes;
  }

  /**
   * Requests a read index for `ctx`. The answer arrives as a {@link ReadState} in a later Ready:
   * the index the state machine must reach before a linearizable read may run, or -1 if this
   * node could not get one (no leader, leadership lost) and the read should be retried.
   * With `lease`, a leader whose lease is valid answers at once without a heartbeat round.
   */
  readIndex(ctx: number, lease = false): void {
    if (this.role === Role.Leader) {
      this.leaderRead(ctx, this.id, lease);
      return;
    }
    if (this.lead === '') {
      this.readStates.push({ ctx, index: -1 });
      return;
    }
    const m = message(MessageType.ReadIndex, this.group, this.id, this.lead, this.term);
    m.context = ctx;
    m.reject = lease; // reuse: "lease acceptable" flag on the request
    this.send(m);
  }

  /** Storage made every entry up to `index` durable; `term` is the term of entry `index`. */
  persisted(index: number, term: number): void {
    if (!this.log.stableTo(index, term)) return;
    if (this.role === Role.Leader) {
      if (this.maybeCommit()) this.bcastAppend();
    } else {
      this.flushAck();
    }
  }

  /** Starts a campaign now (as on election timeout), e.g. for tests or a single-node bootstrap. */
  campaignNow(): void {
    this.hup(false);
  }

  // ---------------------------------------------------------------- output

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.log.hasUnstable() ||
      this.log.hasCommitted() ||
      this.readStates.length > 0 ||
      this.propResults.length > 0 ||
      this.snapshotNeeds.length > 0 ||
      this.term !== this.prevHard.term ||
      this.vote !== this.prevHard.vote ||
      this.role !== this.prevSoft.role ||
      this.lead !== this.prevSoft.leader
    );
  }

  /** Takes everything the owner must do now. Calling it hands the contents over (no advance step). */
  ready(maxApply = Infinity): Ready {
    let hardState: HardState | undefined;
    if (this.term !== this.prevHard.term || this.vote !== this.prevHard.vote) {
      hardState = { term: this.term, vote: this.vote, commit: this.log.committed };
      this.prevHard = { term: this.term, vote: this.vote };
    }
    let softState: SoftState | undefined;
    if (this.role !== this.prevSoft.role || this.lead !== this.prevSoft.leader || this.term !== this.prevSoft.term) {
      softState = { role: this.role, leader: this.lead, term: this.term };
      this.prevSoft = softState;
    }
    const truncateFrom = this.log.truncateFrom;
    this.log.truncateFrom = 0;
    const rd: Ready = {
      hardState,
      softState,
      commit: this.log.committed,
      truncateFrom,
      entries: this.log.takeUnstable(),
      messages: this.msgs,
      committed: this.log.takeCommitted(maxApply),
      readStates: this.readStates,
      proposals: this.propResults,
      snapshots: this.snapshotNeeds,
    };
    this.msgs = [];
    if (this.readStates.length) this.readStates = [];
    if (this.propResults.length) this.propResults = [];
    if (this.snapshotNeeds.length) this.snapshotNeeds = [];
    return rd;
  }

  // ---------------------------------------------------------------- status

  /** The membership in effect: the newest in the log, committed or not. */
  get membership(): Membership {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  /** True when a membership change is appended but not yet committed. */
  changeInProgress(): boolean {
    return this.pendingConfIndex > this.log.committed;
  }

  /** Replication progress per peer (leader only). */
  progress(): ReadonlyMap<NodeId, Readonly<Progress>> {
    return this.prs;
  }

  /** Leader: has `id` acknowledged a heartbeat within the last election timeout? */
  recentlyActive(id: NodeId): boolean {
    const pr = this.prs.get(id);
    return pr !== undefined && this.ticks - pr.leaseAck <= this.cfg.electionTicks;
  }

  isVoter(id: NodeId = this.id): boolean {
    return this.voters.includes(id);
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: number, lead: NodeId): void {
    if (this.role === Role.Leader) this.abortLeaderWork();
    this.reset(term);
    this.role = Role.Follower;
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // Pre-candidates keep term and vote: a failed pre-vote leaves no trace.
    this.votes = new Map();
    this.role = Role.PreCandidate;
    this.lead = '';
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = Role.Leader;
    this.lead = this.id;
    const last = this.log.lastIndex();
    for (const pr of this.prs.values()) {
      pr.next = last + 1;
      pr.match = 0;
    }
    this.selfProgress().match = this.log.stable;
    this.selfProgress().becomeReplicate();
    this.selfProgress().recentActive = true;
    // Config entries in the uncommitted tail may still be pending; no new change until they commit.
    this.pendingConfIndex = last;
    // The no-op lets this leader commit (and so learn the commit index) without client traffic.
    if (this.cfg.unsafe?.commitPriorTermByCount !== true) this.appendProposals([EMPTY], EntryType.Noop);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = '';
    }
    this.lead = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes = new Map();
    this.leadTransferee = '';
    this.uncommittedBytes = 0;
    this.pendingAck = 0;
    this.pendingAckTo = '';
    this.prs.clear();
    const last = this.log.lastIndex();
    for (const id of this.voters) this.prs.set(id, new Progress(last + 1, this.cfg.maxInflightMsgs, false));
    for (const id of this.learners) this.prs.set(id, new Progress(last + 1, this.cfg.maxInflightMsgs, true));
  }

  /** Leadership is lost: fail what only a leader could finish. */
  private abortLeaderWork(): void {
    for (const r of this.readOnly.reset()) this.failRead(r.ctx, r.from);
    for (const r of this.pendingReads) this.failRead(r.ctx, r.from);
    this.pendingReads = [];
  }

  private failRead(ctx: number, from: NodeId): void {
    if (from === this.id) {
      this.readStates.push({ ctx, index: -1 });
    } else {
      const m = message(MessageType.ReadIndexResp, this.group, this.id, from, this.term);
      m.context = ctx;
      m.reject = true;
      this.send(m);
    }
  }

  private resetRandomizedElectionTimeout(): void {
    const e = this.cfg.electionTicks;
    this.randomizedElectionTimeout = e + Math.floor(this.cfg.random() * e);
  }

  private selfProgress(): Progress {
    let pr = this.prs.get(this.id);
    if (!pr) {
      // A leader that is no longer a member (removed) still tracks itself until it steps down.
      pr = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflightMsgs, true);
      this.prs.set(this.id, pr);
    }
    return pr;
  }

  // ---------------------------------------------------------------- ticks

  private promotable(): boolean {
    return this.voters.includes(this.id);
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, '');
          return;
        }
      }
      if (this.leadTransferee !== '') this.abortTransfer();
    }
    if (this.leadTransferee !== '' && ++this.transferElapsed >= this.cfg.electionTicks) this.abortTransfer();
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(0);
    }
  }

  /** Did a quorum of voters talk to us since the last check? Resets the flags for the next round. */
  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.prs.get(id);
      if (!pr) continue;
      if (id === this.id || pr.recentActive) active++;
      if (id !== this.id) pr.recentActive = false;
    }
    return active >= majority(this.voters.length);
  }

  // ---------------------------------------------------------------- elections

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    // Don't campaign with unapplied config changes: we might not be a voter in the config they establish.
    if (this.pendingConfigUnapplied()) return;
    if (this.cfg.preVote && !transfer) this.campaign(true, false);
    else this.campaign(false, transfer);
  }

  private pendingConfigUnapplied(): boolean {
    const hi = this.log.committed;
    for (let i = this.log.applying + 1; i <= hi; i++) {
      const e = this.log.entry(i);
      if (e && e.type === EntryType.Config) return true;
    }
    return false;
  }

  private campaign(pre: boolean, transfer: boolean): void {
    let voteTerm: number;
    if (pre) {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.recordVote(this.id, true) === 'won') {
      // Single voter: no one to ask.
      if (pre) this.campaign(false, transfer);
      else this.becomeLeader();
      return;
    }
    const type = pre ? MessageType.PreVote : MessageType.Vote;
    for (const id of this.voters) {
      if (id === this.id) continue;
      const m = message(type, this.group, this.id, id, voteTerm);
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      if (transfer) m.context = CAMPAIGN_TRANSFER;
      this.send(m);
    }
  }

  private recordVote(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = majority(this.voters.length);
    if (yes >= q) return 'won';
    if (no >= q) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const respType = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
    const canVote = this.vote === m.from || (this.vote === '' && this.lead === '') || (pre && m.term > this.term);
    const upToDate = this.cfg.unsafe?.voteIgnoresLog === true || this.log.isUpToDate(m.index, m.logTerm);
    if (canVote && upToDate) {
      // Answer with the request's term: a pre-vote's term is in our future and we must not adopt it.
      this.send(message(respType, this.group, this.id, m.from, m.term));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const r = message(respType, this.group, this.id, m.from, this.term);
      r.reject = true;
      this.send(r);
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshotChunk(m);
        return;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        const mine = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
        if (m.type !== mine) return;
        const r = this.recordVote(m.from, !m.reject);
        if (r === 'won') {
          if (this.role === Role.PreCandidate) this.campaign(false, false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (r === 'lost') {
          this.becomeFollower(this.term, '');
        }
        return;
      }
      default:
        this.stepFollowerReplies(m);
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m);
        return;
      case MessageType.TimeoutNow:
        // The leader is handing over: campaign at once, skipping pre-vote and leases.
        this.hup(true);
        return;
      default:
        this.stepFollowerReplies(m);
    }
  }

  /** Replies to requests this node forwarded to a leader. */
  private stepFollowerReplies(m: Message): void {
    switch (m.type) {
      case MessageType.PropResp:
        this.propResults.push({ ctx: m.context, index: m.reject ? -1 : m.index, term: m.logTerm || m.term, count: m.commit });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ ctx: m.context, index: m.reject ? -1 : m.index });
        return;
    }
  }

  private handleAppend(m: Message): void {
    const log = this.log;
    if (m.index < log.committed) {
      // Everything up to our commit index matches the leader; acknowledge it once durable.
      this.queueAck(m.from, log.committed);
      return;
    }
    const lastNew = log.maybeAppend(m.index, m.logTerm, m.entries);
    if (lastNew >= 0) {
      log.commitTo(Math.min(m.commit, lastNew));
      this.queueAck(m.from, lastNew);
      return;
    }
    // Reject with a hint: the last index <= the probe whose term is <= the leader's term there,
    // so the leader can skip a whole term of conflicting entries per round trip.
    const hintIndex = Math.min(m.index, log.lastIndex());
    const hint = log.findConflictByTerm(hintIndex, m.logTerm);
    const r = message(MessageType.AppResp, this.group, this.id, m.from, this.term);
    r.reject = true;
    r.index = m.index;
    r.rejectHint = hint.index;
    r.logTerm = hint.term;
    this.send(r);
  }

  /** Acknowledge `index` to `to` as soon as it is durable. */
  private queueAck(to: NodeId, index: number): void {
    if (this.pendingAckTo !== to) {
      this.pendingAckTo = to;
      this.pendingAck = 0;
    }
    if (index > this.pendingAck) this.pendingAck = index;
    if (index <= this.log.stable || this.cfg.unsafe?.ackBeforePersist === true) {
      // Nothing to wait for; answer now so a probing leader is not left paused.
      const r = message(MessageType.AppResp, this.group, this.id, to, this.term);
      r.index = index;
      this.send(r);
      if (index >= this.pendingAck) this.pendingAck = 0;
    }
  }

  private flushAck(): void {
    if (this.pendingAck === 0 || this.pendingAckTo === '' || this.pendingAckTo !== this.lead) return;
    const idx = Math.min(this.pendingAck, this.log.stable);
    if (idx <= 0) return;
    const r = message(MessageType.AppResp, this.group, this.id, this.pendingAckTo, this.term);
    r.index = idx;
    this.send(r);
    if (idx >= this.pendingAck) this.pendingAck = 0;
  }

  private handleHeartbeat(m: Message): void {
    // The leader caps `commit` at our match index, so it never points past entries we verified.
    this.log.commitTo(m.commit);
    const r = message(MessageType.HeartbeatResp, this.group, this.id, m.from, this.term);
    r.context = m.context;
    r.index = m.index;
    this.send(r);
  }

  /** Snapshot chunks are assembled by the runtime; the core only needs to know one arrived. */
  private handleSnapshotChunk(m: Message): void {
    this.snapshotNeeds.push({ kind: 'receive', to: m.from, message: m });
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    switch (m.type) {
      case MessageType.AppResp: {
        if (!pr) return;
        pr.recentActive = true;
        if (m.reject) {
          let next = m.rejectHint;
          if (m.logTerm > 0) next = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
          if (pr.maybeDecrTo(m.index, next)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from, pr, true);
          }
          return;
        }
        // No follower can hold more of this leader's log than the leader; such a reply is corrupt.
        if (m.index > this.log.lastIndex()) return;
        const updated = pr.maybeUpdate(m.index);
        // A successful probe that confirms the match we already knew also ends probing.
        if (!updated && !(pr.state === ProgressState.Probe && pr.match === m.index)) return;
        if (pr.state === ProgressState.Probe) pr.becomeReplicate();
        else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);
        if (this.maybeCommit()) {
          this.bcastAppend();
        } else {
          this.sendAppendsTo(m.from, pr);
        }
        if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
        return;
      }
      case MessageType.HeartbeatResp: {
        if (!pr) return;
        pr.recentActive = true;
        if (m.index > pr.leaseAck) pr.leaseAck = m.index;
        if (pr.state === ProgressState.Probe) pr.probeSent = false;
        // A lost AppendEntries (or its reply) would leave a full window stuck forever; free one slot
        // so the next send either fills the gap's successor (and the follower's rejection sends us
        // back to probing) or simply continues.
        else if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppendsTo(m.from, pr);
        if (m.context !== 0) {
          const done = this.readOnly.ack(m.context, m.from, (acks) => this.hasQuorum(acks));
          for (const r of done) this.answerRead(r.ctx, r.from, r.index);
        }
        return;
      }
      case MessageType.SnapResp:
        if (!pr) return;
        pr.recentActive = true;
        this.snapshotNeeds.push({ kind: 'ack', to: m.from, message: m });
        return;
    }
  }

  /** The runtime finished (or abandoned) sending a snapshot to `to`. */
  snapshotSent(to: NodeId, index: number, ok: boolean): void {
    const pr = this.prs.get(to);
    if (!pr || this.role !== Role.Leader || pr.state !== ProgressState.Snapshot) return;
    if (ok) {
      pr.match = Math.max(pr.match, index);
      pr.becomeProbe();
      pr.next = Math.max(pr.next, index + 1);
    } else {
      pr.becomeProbe();
    }
    this.sendAppend(to, pr, true);
  }

  private hasQuorum(acks: Set<NodeId>): boolean {
    let n = 0;
    for (const id of this.voters) if (id === this.id || acks.has(id)) n++;
    return n >= majority(this.voters.length);
  }

  private appendProposals(commands: readonly Uint8Array[], type: EntryType): number {
    const first = this.log.lastIndex() + 1;
    const entries: LogEntry[] = new Array(commands.length);
    let bytes = 0;
    for (let i = 0; i < commands.length; i++) {
      const data = commands[i]!;
      bytes += data.byteLength;
      entries[i] = { index: first + i, term: this.term, type, data };
    }
    if (type === EntryType.Normal && !this.canAccept(bytes)) {
      throw new ProposalDroppedError('too many uncommitted bytes');
    }
    if (type === EntryType.Config) this.checkConfigChange(commands);
    this.uncommittedBytes += bytes;
    this.log.append(entries);
    if (type === EntryType.Config) this.pendingConfIndex = first + commands.length - 1;
    this.selfProgress().next = this.log.lastIndex() + 1;
    this.bcastAppend();
    return first;
  }

  /**
   * Single-server membership changes are safe only one at a time and only once this leader has
   * committed an entry of its own term (the fix to the bug in the original single-server algorithm).
   */
  private checkConfigChange(commands: readonly Uint8Array[]): void {
    if (commands.length !== 1) throw new InvalidMembershipChangeError('one membership change at a time');
    if (this.pendingConfIndex > this.log.committed) throw new ChangeInProgressError();
    if (this.log.term(this.log.committed) !== this.term) throw new ChangeInProgressError('the leader has not yet committed an entry of its term');
    const next = this.cfg.decodeMembership(commands[0]!);
    const cur = this.members.current();
    const diff = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x)).length + b.filter((x) => !a.includes(x)).length;
    if (diff(cur.voters, next.voters) > 1) throw new InvalidMembershipChangeError('voters may change by one member at a time');
    if (next.voters.length === 0) throw new InvalidMembershipChangeError('a group needs at least one voter');
    if (next.voters.some((v) => next.learners.includes(v))) throw new InvalidMembershipChangeError('a member cannot be both voter and learner');
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.voters) {
      if (id === this.id) matches.push(this.log.stable);
      else matches.push(this.prs.get(id)?.match ?? 0);
    }
    const idx = quorumValue(matches);
    if (idx <= this.log.committed) return false;
    // Figure 8: only entries of the current term commit by counting replicas; earlier ones commit
    // indirectly. The unsafe flag exists so the simulation can prove it catches the bug.
    if (this.log.term(idx) !== this.term && this.cfg.unsafe?.commitPriorTermByCount !== true) return false;
    const before = this.log.committed;
    this.log.commitTo(idx);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - this.log.bytesBetween(before, this.log.committed));
    if (this.pendingReads.length > 0 && this.log.term(this.log.committed) === this.term) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.leaderRead(r.ctx, r.from, r.lease);
    }
    return true;
  }

  private bcastAppend(): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.sendAppendsTo(id, pr);
    }
  }

  /** Sends as many AppendEntries as the peer's state allows (one in Probe, a window in Replicate). */
  private sendAppendsTo(to: NodeId, pr: Progress): void {
    if (!this.sendAppend(to, pr, true)) return;
    while (pr.state === ProgressState.Replicate && pr.next <= this.log.lastIndex() && this.sendAppend(to, pr, false)) {
      // keep filling the pipeline
    }
  }

  /** Sends one AppendEntries to `to` (or starts a snapshot). Returns whether a message went out. */
  private sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    if (pr.next > this.log.lastIndex() + 1) pr.next = this.log.lastIndex() + 1;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm < 0) {
      // The entries this follower needs were compacted: it must install a snapshot.
      if (!this.cfg.snapshotsEnabled) return false;
      pr.becomeSnapshot(this.log.snapIndex);
      this.snapshotNeeds.push({ kind: 'send', to, message: undefined });
      return true;
    }
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxMsgBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m = message(MessageType.App, this.group, this.id, to, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = entries.length === 0 ? NO_ENTRIES : entries;
    m.commit = this.log.committed;
    this.send(m);
    pr.sentEntries(entries.length ? entries[entries.length - 1]!.index : prevIndex, entries.length > 0);
    return true;
  }

  private bcastHeartbeat(round: number): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = message(MessageType.Heartbeat, this.group, this.id, id, this.term);
      m.commit = Math.min(pr.match, this.log.committed);
      m.context = round;
      m.index = this.ticks;
      this.send(m);
    }
  }

  // ---------------------------------------------------------------- proposals and reads from followers

  private handleForwardedProposal(m: Message): void {
    const r = message(MessageType.PropResp, this.group, this.id, m.from, this.term);
    r.context = m.context;
    // A duplicate of a request this node already answered gets the original answer, even if this
    // node has since lost leadership: "rejected" after an append would tell the requester it was
    // never appended, and an append after a rejection would apply what the requester was told
    // failed (the network may deliver a request again long after the first copy was answered).
    let seen = this.forwardedSeen.get(m.from);
    const prior = seen?.get(m.context);
    if (prior) {
      if (prior.index === REJECTED) r.reject = true;
      else {
        r.index = prior.index;
        r.logTerm = prior.term;
        r.commit = prior.count;
      }
      this.send(r);
      return;
    }
    if (!seen) {
      seen = new Map();
      this.forwardedSeen.set(m.from, seen);
    }
    const datas = m.entries.map((e) => e.data);
    let bytes = 0;
    for (const d of datas) bytes += d.byteLength;
    // Only requests sent in this term: a leader that crashed forgot what it answered, but it
    // leads again only in a later term, where a copy of an earlier request is refused here.
    // Membership changes go through the leader's API, never through forwarding.
    if (m.term !== this.term || this.role !== Role.Leader || this.leadTransferee !== '' || datas.length === 0 || m.entries[0]!.type !== EntryType.Normal || !this.canAccept(bytes)) {
      r.reject = true;
      this.send(r);
      remember(seen, m.context, { index: REJECTED, term: this.term, count: 0 });
      return;
    }
    // Queue the reply before the AppendEntries carrying the entries, so the follower usually
    // learns the indices before the entries arrive.
    r.index = this.log.lastIndex() + 1;
    r.logTerm = this.term;
    r.commit = datas.length;
    this.send(r);
    remember(seen, m.context, { index: r.index, term: this.term, count: datas.length });
    this.appendProposals(datas, EntryType.Normal);
  }

  private handleForwardedRead(m: Message): void {
    if (this.role !== Role.Leader) {
      const r = message(MessageType.ReadIndexResp, this.group, this.id, m.from, this.term);
      r.context = m.context;
      r.reject = true;
      this.send(r);
      return;
    }
    this.leaderRead(m.context, m.from, m.reject);
  }

  private leaderRead(ctx: number, from: NodeId, lease: boolean): void {
    if (this.cfg.unsafe?.readWithoutQuorum === true) {
      this.answerRead(ctx, from, this.log.committed);
      return;
    }
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of our term commits we don't know the real commit index (thesis 6.4 step 1).
      this.pendingReads.push({ ctx, from, lease });
      return;
    }
    const index = this.log.committed;
    if (this.voters.length === 1 && this.voters[0] === this.id) {
      this.answerRead(ctx, from, index);
      return;
    }
    if (lease && this.leaseValid()) {
      this.answerRead(ctx, from, index);
      return;
    }
    const round = this.readOnly.add(ctx, from, index);
    if (round !== 0) {
      this.bcastHeartbeat(round);
      this.readOnly.seal();
    }
  }

  private answerRead(ctx: number, from: NodeId, index: number): void {
    if (from === this.id) {
      this.readStates.push({ ctx, index });
      return;
    }
    const r = message(MessageType.ReadIndexResp, this.group, this.id, from, this.term);
    r.context = ctx;
    r.index = index;
    this.send(r);
  }

  /**
   * A lease is valid while a quorum acknowledged heartbeats sent less than
   * `electionTicks - leaseDriftTicks` ticks ago: followers that heard from us within an election
   * timeout refuse to vote (check-quorum), so no other leader can exist yet. The drift allowance
   * covers tick-rate differences between nodes.
   */
  leaseValid(): boolean {
    if (!this.cfg.checkQuorum || this.role !== Role.Leader || this.leadTransferee !== '') return false;
    if (this.ticks < this.leaseBlockedUntil) return false;
    const acks: number[] = [];
    for (const id of this.voters) acks.push(id === this.id ? this.ticks : (this.prs.get(id)?.leaseAck ?? -Infinity));
    const q = quorumValue(acks);
    return this.ticks - q < this.cfg.electionTicks - this.cfg.leaseDriftTicks;
  }

  // ---------------------------------------------------------------- leadership transfer

  /** Starts handing leadership to `to` (a voter). Proposals are refused until it ends. */
  transferLeadership(to: NodeId): void {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.group, this.lead || undefined);
    if (to === this.id || !this.voters.includes(to)) return;
    this.leadTransferee = to;
    this.transferElapsed = 0;
    this.electionElapsed = 0;
    // Our lease is void once someone may campaign with the transfer flag.
    this.leaseBlockedUntil = this.ticks + 2 * this.cfg.electionTicks;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppendsTo(to, pr);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(message(MessageType.TimeoutNow, this.group, this.id, to, this.term));
  }

  private abortTransfer(): void {
    this.leadTransferee = '';
    this.transferElapsed = 0;
  }

  // ---------------------------------------------------------------- membership

  /** Applies a membership as the current configuration (on append, per the thesis). */
  setMembership(m: Membership): void {
    this.voters = [...m.voters];
    this.learners = [...m.learners];
    if (this.role === Role.Leader) {
      const last = this.log.lastIndex();
      for (const id of [...m.voters, ...m.learners]) {
        const existing = this.prs.get(id);
        const isLearner = m.learners.includes(id);
        if (existing) existing.isLearner = isLearner;
        else this.prs.set(id, new Progress(last + 1, this.cfg.maxInflightMsgs, isLearner));
      }
      for (const id of [...this.prs.keys()]) {
        if (id !== this.id && !m.voters.includes(id) && !m.learners.includes(id)) this.prs.delete(id);
      }
    }
  }

  /** Called by the runtime after applying entries up to `index`, so removal and commit rules can run. */
  appliedTo(index: number): void {
    if (this.role === Role.Leader && !this.voters.includes(this.id) && this.log.committed >= this.pendingConfIndex && index >= this.pendingConfIndex) {
      // A leader removed from the group steps down once the change is committed and applied.
      this.becomeFollower(this.term, '');
    }
  }

  /** Drops log entries up to `index` after a snapshot covering them became durable. */
  compact(index: number): void {
    this.log.compact(Math.min(index, this.log.applying));
  }

  /**
   * Installs a snapshot received from the leader (the runtime has restored the state machine).
   * Returns whether the log was replaced entirely (storage must then discard its entries too).
   */
  restoreSnapshot(index: number, term: number, membership: Membership): boolean {
    const keepSuffix = this.log.matchTerm(index, term) && index <= this.log.lastIndex();
    this.log.restore(index, term);
    if (!keepSuffix) this.members.truncated(0);
    this.members.restored(index, membership);
    this.setMembership(this.members.current());
    // Queue an ack so the leader learns our new match index.
    if (this.lead !== '') this.queueAck(this.lead, index);
    return !keepSuffix;
  }

  // ---------------------------------------------------------------- plumbing

  private send(m: Message): void {
    this.msgs.push(m);
  }

}

const EMPTY = new Uint8Array(0);
/** Forwarded request ids remembered per follower for duplicate detection. */
const FORWARDED_SEEN_LIMIT = 4096;
/** `index` of a remembered forwarded request that was refused. */
const REJECTED = -1;

/** Remembers the answer to forwarded request `ctx`, forgetting the oldest beyond the limit. */
function remember(seen: Map<number, { index: number; term: number; count: number }>, ctx: number, answer: { index: number; term: number; count: number }): void {
  seen.set(ctx, answer);
  if (seen.size > FORWARDED_SEEN_LIMIT) seen.delete(seen.keys().next().value!);
}

export type { ReadRequest };
