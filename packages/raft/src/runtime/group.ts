import { parseConfig, raftConfigSchema, type RaftConfig, type RaftConfigInput } from '../config.js';
import { RaftCore } from '../core/raft.js';
import type { PropResult, ReadState, Ready, UnsafeFlags } from '../core/ready.js';
import {
  BackpressureError,
  ChangeInProgressError,
  InvalidMembershipChangeError,
  LearnerBehindError,
  GroupStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  StorageError,
  TesseraError,
  TimeoutError,
} from '../errors.js';
import { systemClock, type Clock, type Timer } from '../interfaces/clock.js';
import { silentLogger, type Logger } from '../interfaces/logger.js';
import type { StateMachine } from '../interfaces/state-machine.js';
import type { GroupObserver } from '../interfaces/observer.js';
import type { GroupStorage } from '../interfaces/storage-engine.js';
import { decodeMembership, encodeMembership } from '../membership.js';
import { EntryType, Role, type GroupId, type HardState, type LogEntry, type Membership, type Message, type NodeId, type SnapshotMeta } from '../types.js';
import { IoQueue, resetLog } from './io-queue.js';
import { PendingQueue, Proposal } from './pending.js';
import { SnapshotManager } from './snapshots.js';

/** How a read is served. */
export type ReadConsistency = 'linearizable' | 'lease' | 'stale';

export interface ReadOptions {
  /**
   * `linearizable` (default): ReadIndex, confirmed by a quorum heartbeat round.
   * `lease`: the leader answers from its lease without a round trip (safe under the stated clock-drift bound).
   * `stale`: this replica's current state, no coordination.
   */
  readonly consistency?: ReadConsistency;
}

/** What a group needs to run. */
export interface RaftGroupOptions<R = unknown> {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly storage: GroupStorage;
  readonly stateMachine: StateMachine<R>;
  /** Sends messages to a peer (normally a {@link RaftHost} routes them onto the transport). */
  readonly send: (to: NodeId, messages: Message[]) => void;
  /** Membership of a brand-new group; ignored when storage already holds state. Omit when joining an existing group. */
  readonly membership?: Membership;
  readonly config?: RaftConfigInput;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Random source for election timeouts; inject a seeded one for deterministic runs. */
  readonly random?: () => number;
  /** Deliberately broken protocol behaviour, for the simulation's self-test only. */
  readonly unsafe?: UnsafeFlags;
  /** Metrics and tracing hooks. */
  readonly observer?: GroupObserver;
  /**
   * Ticks come from outside (`tick()`), e.g. one timer for every group of a `RaftHost`, instead of
   * a timer of the group's own.
   */
  readonly externalTicks?: boolean;
  /** Campaign at once on start (a preferred leader), instead of waiting for an election timeout. */
  readonly campaignOnStart?: boolean;
}

/** A point-in-time view of a group, for status pages and tests. */
export interface GroupStatus {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | undefined;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly membership: Membership;
  /** Leader only: per follower match index and lag behind the leader's last index. */
  readonly followers: Readonly<Record<NodeId, { match: number; lag: number; state: string }>>;
}


interface QueuedRead {
  readonly query: () => unknown;
  readonly resolve: (v: any) => void;
  readonly reject: (e: unknown) => void;
}

interface ReadRound {
  readonly reads: QueuedRead[];
  readonly deadline: number;
}

const PROGRESS_NAMES = ['probe', 'replicate', 'snapshot'];

/**
 * One replica of one Raft group: connects a {@link RaftCore} to storage, the network and the state
 * machine (the "driver"). Proposals arriving in the same event-loop turn are batched into one
 * append; their entries are written with one storage call (one sync) while the leader is already
 * sending them to followers; committed entries are applied in order and resolve their proposals.
 */
export class RaftGroup<R = unknown> {
  readonly id: NodeId;
  readonly group: GroupId;
  readonly config: RaftConfig;
  private readonly core: RaftCore;
  private readonly opts: RaftGroupOptions<R>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly io: IoQueue;
  readonly snapshots: SnapshotManager;

  private ticker: Timer | undefined;
  private stopped = false;
  private scheduled = false;
  private now = 0;
  private ctxSeq = 0;

  private applied: number;
  /** Membership as of the applied index (what a snapshot taken now records). */
  private appliedMembershipValue: Membership = { voters: [], learners: [] };
  /** Apply is paused while a snapshot is captured or installed. */
  private applyPaused = false;
  private applyQueue: LogEntry[] = [];
  private applyHead = 0;
  private applying = false;

  private readonly pending = new PendingQueue();
  private queue: Proposal[] = [];
  private readonly forwarded = new Map<number, { items: Proposal[]; deadline: number }>();
  private readQueue: QueuedRead[] = [];
  private leaseQueue: QueuedRead[] = [];
  private readonly readRounds = new Map<number, ReadRound>();
  private waitingReads: { index: number; reads: QueuedRead[] }[] = [];
  /** Results of recently applied entries, for forwarded proposals whose indices arrive late. */
  private readonly recent = new Map<number, { term: number; ok: boolean; value: unknown }>();

  private readonly observer: GroupObserver | undefined;
  /** Batches proposed here awaiting commit (observer timing only). */
  private proposedBatches: { last: number; count: number; at: number }[] = [];
  private lastRoleTerm = -1;
  private hsPending = 0;
  private deferred: Message[] = [];
  private lastPersistedCommit = 0;
  private lastCommitPersistAt = 0;
  private fatal: Error | undefined;
  private readonly stopWaiters: (() => void)[] = [];
  private readonly leaderWaiters: (() => void)[] = [];
  /** Woken after each apply batch and tick. */
  private applyWaiters: (() => void)[] = [];
  /** Learners caught up with the leader, and since when (automatic promotion). */
  private readonly caughtUpSince = new Map<NodeId, number>();

  private constructor(opts: RaftGroupOptions<R>, config: RaftConfig, core: RaftCore, applied: number, snapshots: SnapshotManager) {
    this.opts = opts;
    this.id = opts.id;
    this.group = opts.group;
    this.config = config;
    this.core = core;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.applied = applied;
    this.snapshots = snapshots;
    this.observer = opts.observer;
    this.io = new IoQueue(opts.storage, (err) => this.fail(err), opts.observer ? (entries, bytes, ms) => opts.observer!.persisted?.(opts.group, entries, bytes, ms) : undefined, this.clock);
  }

  /**
   * Opens a group on its storage: restores the latest snapshot into the state machine, loads the
   * log after it, replays committed entries, and starts ticking.
   */
  static async start<R>(opts: RaftGroupOptions<R>): Promise<RaftGroup<R>> {
    const config = parseConfig(raftConfigSchema, opts.config ?? {}, 'raft');
    const { storage } = opts;
    const hardState = await storage.hardState.load();
    const snap = await SnapshotManager.restoreLatest(opts.storage.snapshots, opts.stateMachine, config.snapshot.chunkBytes);
    const snapIndex = snap?.index ?? 0;
    const snapTerm = snap?.term ?? 0;
    let membership = snap?.membership ?? opts.membership ?? { voters: [], learners: [] };
    let first = storage.log.firstIndex();
    let last = storage.log.lastIndex();
    if (snap && first <= last && (last < snapIndex || (first <= snapIndex && (await storage.log.term(snapIndex)) !== snapTerm))) {
      // An installed snapshot replaces a log that disagrees with it (or ends before it); a crash
      // after the image was committed but before that log was discarded leaves both on disk.
      // Their suffix belongs to the replaced history: keeping it would break log matching.
      await resetLog(storage.log, snapIndex);
      first = storage.log.firstIndex();
      last = storage.log.lastIndex();
    }
    // Entries at or below the snapshot are covered by it; the log may lag a crash mid-compaction.
    const from = Math.max(first, snapIndex + 1);
    let entries: LogEntry[] = [];
    if (last >= from) {
      if (from > first || first <= snapIndex + 1) entries = await storage.log.entries(from, last + 1);
    }
    if (first > snapIndex + 1) {
      // A gap between the snapshot and the log: storage lost the snapshot the log was compacted for.
      throw new StorageError(`group ${opts.group}: log starts at ${first} but the latest snapshot ends at ${snapIndex}`);
    }
    if (snapIndex === 0 && hardState.term === 0 && last === 0 && !opts.membership) membership = { voters: [], learners: [] };
    const random = opts.random ?? Math.random;
    const core = new RaftCore(
      {
        id: opts.id,
        group: opts.group,
        electionTicks: config.electionTicks,
        heartbeatTicks: config.heartbeatTicks,
        preVote: config.preVote,
        checkQuorum: config.checkQuorum,
        maxMsgBytes: config.maxMsgBytes,
        maxInflightMsgs: config.maxInflightMsgs,
        maxUncommittedBytes: config.maxUncommittedBytes,
        forwardProposals: config.followerRequests === 'forward',
        leaseDriftTicks: config.leaseDriftTicks,
        snapshotsEnabled: typeof opts.stateMachine.snapshot === 'function' && typeof opts.stateMachine.restore === 'function',
        random,
        decodeMembership,
        unsafe: opts.unsafe,
      },
      { hardState, snapshotIndex: snapIndex, snapshotTerm: snapTerm, entries, membership },
    );
    const snapshots = new SnapshotManager({
      group: opts.group,
      store: storage.snapshots,
      stateMachine: opts.stateMachine,
      policy: config.snapshot,
      logger: opts.logger ?? silentLogger,
      lastSnapshotIndex: snapIndex,
    });
    const g = new RaftGroup<R>(opts, config, core, snapIndex, snapshots);
    g.appliedMembershipValue = membership;
    snapshots.attach(g.snapshotHost());
    g.lastPersistedCommit = hardState.commit;
    // Request ids start at a random point per incarnation: a leader deduplicating forwarded
    // proposals by (node, id) must not mistake a restarted node's new requests for old ones.
    g.ctxSeq = Math.floor(random() * 2 ** 20) * 2 ** 32;
    g.now = g.clock.now();
    if (!opts.externalTicks) g.ticker = g.clock.setInterval(config.tickMs, () => g.onTick());
    if (opts.campaignOnStart && core.isVoter()) core.campaignNow();
    g.schedule();
    return g;
  }

  // ------------------------------------------------------------------ public API

  /**
   * Replicates `command` and resolves with the state machine's result once it is applied on this
   * replica. Rejects with {@link NotLeaderError} (follower in `reject` mode, or no leader within
   * the timeout: not applied), {@link BackpressureError} (not applied), {@link ProposalDroppedError}
   * (not applied), {@link TimeoutError} (outcome unknown) or {@link GroupStoppedError}.
   */
  propose(command: Uint8Array): Promise<R> {
    return this.enqueue(command, EntryType.Normal);
  }

  // ------------------------------------------------------------------ membership

  /** The membership in effect on this replica (the newest in its log, committed or not). */
  membership(): Membership {
    return this.core.membership;
  }

  /**
   * Adds `id` as a learner: it receives the log (and snapshots) but neither votes nor counts for
   * commit. Resolves with the new membership once the change is committed and applied here.
   * Rejects with NotLeaderError, ChangeInProgressError or InvalidMembershipChangeError.
   */
  addLearner(id: NodeId): Promise<Membership> {
    return this.changeMembership((m) => {
      if (m.voters.includes(id) || m.learners.includes(id)) throw new InvalidMembershipChangeError(`${id} is already a member`);
      return { voters: m.voters, learners: [...m.learners, id] };
    });
  }

  /**
   * Makes learner `id` a voter. Refused with LearnerBehindError while its log lags the leader's
   * by more than `learners.maxLagEntries` (a lagging voter would weaken the quorum).
   */
  promote(id: NodeId): Promise<Membership> {
    return this.changeMembership((m) => {
      if (!m.learners.includes(id)) throw new InvalidMembershipChangeError(`${id} is not a learner`);
      const lag = this.learnerLag(id);
      if (lag > this.config.learners.maxLagEntries) throw new LearnerBehindError(id, lag === Infinity ? -1 : lag);
      return { voters: [...m.voters, id], learners: m.learners.filter((x) => x !== id) };
    });
  }

  /** Removes voter or learner `id`. A leader that removes itself steps down once the change commits. */
  removeMember(id: NodeId): Promise<Membership> {
    return this.changeMembership((m) => {
      if (!m.voters.includes(id) && !m.learners.includes(id)) throw new InvalidMembershipChangeError(`${id} is not a member`);
      return { voters: m.voters.filter((x) => x !== id), learners: m.learners.filter((x) => x !== id) };
    });
  }

  private async changeMembership(fn: (current: Membership) => Membership): Promise<Membership> {
    if (this.stopped) throw new GroupStoppedError(this.group);
    if (this.core.role !== Role.Leader) throw new NotLeaderError(this.group, this.core.lead || undefined);
    // A new leader must commit an entry of its term (its no-op) before it may change membership.
    const deadline = this.clock.now() + this.config.tickMs * this.config.electionTicks;
    while (this.core.role === Role.Leader && this.core.log.term(this.core.log.committed) !== this.core.term && this.clock.now() < deadline) {
      await new Promise<void>((r) => this.applyWaiters.push(r));
    }
    if (this.core.role !== Role.Leader) throw new NotLeaderError(this.group, this.core.lead || undefined);
    return this.proposeChange(fn);
  }

  private proposeChange(fn: (current: Membership) => Membership): Promise<Membership> {
    if (this.core.changeInProgress() || this.queue.some((q) => q.type === EntryType.Config)) return Promise.reject(new ChangeInProgressError());
    let next: Membership;
    try {
      next = fn(this.core.membership);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(encodeMembership(next), EntryType.Config).then(() => next);
  }

  /** Leader only: entries learner `id` is behind the leader's last index (Infinity if it is not responding). */
  private learnerLag(id: NodeId): number {
    const pr = this.core.progress().get(id);
    if (!pr || !this.core.recentlyActive(id)) return Infinity;
    return this.core.log.lastIndex() - pr.match;
  }

  /** Leader: promote learners that kept up for `stableMs` (one change at a time). */
  private autoPromote(): void {
    const policy = this.config.learners;
    if (policy.promotion !== 'auto' || this.core.role !== Role.Leader) {
      this.caughtUpSince.clear();
      return;
    }
    const learners = this.core.membership.learners;
    for (const id of [...this.caughtUpSince.keys()]) if (!learners.includes(id)) this.caughtUpSince.delete(id);
    for (const id of learners) {
      if (this.learnerLag(id) > policy.maxLagEntries) {
        this.caughtUpSince.delete(id);
        continue;
      }
      const since = this.caughtUpSince.get(id) ?? this.now;
      this.caughtUpSince.set(id, since);
      if (this.now - since >= policy.stableMs && !this.core.changeInProgress()) {
        this.caughtUpSince.delete(id);
        this.promote(id).then(
          () => this.logger.info({ group: this.group, learner: id }, 'learner promoted to voter'),
          (err) => this.logger.debug({ group: this.group, learner: id, err: String(err) }, 'automatic promotion deferred'),
        );
        return;
      }
    }
  }

  private enqueue(data: Uint8Array, type: EntryType): Promise<any> {
    if (this.stopped) return Promise.reject(new GroupStoppedError(this.group));
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.queue.length >= this.config.maxQueuedProposals) {
      return Promise.reject(new BackpressureError(`group ${this.group}: ${this.queue.length} proposals queued`));
    }
    if (this.config.followerRequests === 'reject' && this.core.role !== Role.Leader && this.core.lead !== '') {
      return Promise.reject(new NotLeaderError(this.group, this.core.lead));
    }
    return new Promise((resolve, reject) => {
      this.queue.push(new Proposal(data, type, resolve, reject, this.now + this.config.requestTimeoutMs));
      this.schedule();
    });
  }

  /**
   * Runs `query` against the state machine at the requested consistency and resolves with its
   * return value. For `linearizable` and `lease`, `query` runs once this replica has applied
   * everything committed before the read began.
   */
  read<T>(query: () => T, options: ReadOptions = {}): Promise<T> {
    if (this.stopped) return Promise.reject(new GroupStoppedError(this.group));
    const consistency = options.consistency ?? 'linearizable';
    if (consistency === 'stale') {
      try {
        return Promise.resolve(query());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.config.followerRequests === 'reject' && this.core.role !== Role.Leader && this.core.lead !== '') {
      return Promise.reject(new NotLeaderError(this.group, this.core.lead));
    }
    return new Promise<T>((resolve, reject) => {
      (consistency === 'lease' ? this.leaseQueue : this.readQueue).push({ query, resolve, reject });
      this.schedule();
    });
  }

  /** Hands leadership to `to` (or the most up-to-date voter); resolves when `to` leads or rejects after an election timeout. */
  transferLeadership(to?: NodeId): Promise<NodeId> {
    if (this.core.role !== Role.Leader) return Promise.reject(new NotLeaderError(this.group, this.core.lead || undefined));
    const target = to ?? this.mostUpToDateVoter();
    if (!target) return Promise.reject(new ProposalDroppedError('no other voter to transfer to'));
    this.core.transferLeadership(target);
    this.schedule();
    const deadline = this.config.tickMs * this.config.electionTicks * 2;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimer(deadline, () => {
        remove();
        reject(new TimeoutError(`leadership transfer to ${target} did not finish`));
      });
      const check = () => {
        if (this.core.lead === target) {
          timer.cancel();
          remove();
          resolve(target);
          return true;
        }
        return false;
      };
      const waiter = () => {
        if (!check()) this.leaderWaiters.push(waiter);
      };
      const remove = () => {
        const i = this.leaderWaiters.indexOf(waiter);
        if (i >= 0) this.leaderWaiters.splice(i, 1);
      };
      this.leaderWaiters.push(waiter);
    });
  }

  private mostUpToDateVoter(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const [id, pr] of this.core.progress()) {
      if (id === this.id || pr.isLearner || !this.core.isVoter(id)) continue;
      if (pr.match > bestMatch) {
        bestMatch = pr.match;
        best = id;
      }
    }
    return best;
  }

  /** Takes a snapshot now (if the state machine supports it) and compacts the log behind it. */
  snapshot(): Promise<number> {
    return this.snapshots.takeNow();
  }

  /** Feeds messages from the network. Messages for other groups are ignored. */
  receive(messages: readonly Message[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      if (m.group !== this.group || m.to !== this.id) continue;
      try {
        this.core.step(m);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    this.schedule();
  }

  status(): GroupStatus {
    const c = this.core;
    const followers: Record<NodeId, { match: number; lag: number; state: string }> = {};
    if (c.role === Role.Leader) {
      const last = c.log.lastIndex();
      for (const [id, pr] of c.progress()) {
        if (id === this.id) continue;
        followers[id] = { match: pr.match, lag: last - pr.match, state: PROGRESS_NAMES[pr.state]! };
      }
    }
    return {
      id: this.id,
      group: this.group,
      role: c.role,
      term: c.term,
      leader: c.lead || undefined,
      commitIndex: c.log.committed,
      appliedIndex: this.applied,
      lastIndex: c.log.lastIndex(),
      snapshotIndex: c.log.snapIndex,
      membership: c.membership,
      followers,
    };
  }

  get role(): Role {
    return this.core.role;
  }

  get leader(): NodeId | undefined {
    return this.core.lead || undefined;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The protocol core, for the simulation's invariant checks. Not part of the stable API. */
  get debugCore(): RaftCore {
    return this.core;
  }

  /** Resolves once this node knows a leader (or rejects after `timeoutMs`). */
  waitForLeader(timeoutMs = this.config.requestTimeoutMs): Promise<NodeId> {
    if (this.core.lead) return Promise.resolve(this.core.lead);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        const i = this.leaderWaiters.indexOf(w);
        if (i >= 0) this.leaderWaiters.splice(i, 1);
        reject(new TimeoutError(`group ${this.group}: no leader after ${timeoutMs} ms`));
      });
      const w = () => {
        if (this.core.lead) {
          timer.cancel();
          resolve(this.core.lead);
        } else this.leaderWaiters.push(w);
      };
      this.leaderWaiters.push(w);
    });
  }

  /**
   * Stops the group: no more ticks or messages; outstanding requests fail with
   * {@link GroupStoppedError}; resolves after in-flight storage writes settle. Storage stays open.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticker?.cancel();
    const err = new GroupStoppedError(this.group);
    this.failAll(err);
    await this.snapshots.stop();
    await this.io.idle();
    while (this.applying) await new Promise<void>((r) => this.stopWaiters.push(r));
  }

  // ------------------------------------------------------------------ driver

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.clock.defer(this.runReady);
  }

  private readonly runReady = (): void => {
    this.scheduled = false;
    if (this.stopped || this.fatal) return;
    try {
      this.now = this.clock.now();
      this.flushProposals();
      this.flushReads();
      let guard = 0;
      while (this.core.hasReady() && guard++ < 64) this.handleReady(this.core.ready(this.config.maxApplyBatch));
      if (this.core.hasReady()) this.schedule();
    } catch (err) {
      this.fail(err as Error);
    }
  };

  private handleReady(rd: Ready): void {
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.leader);
    if (rd.hardState) {
      this.hsPending++;
      const hs: HardState = { ...rd.hardState, commit: Math.min(rd.hardState.commit, this.core.log.stable) };
      this.io.saveHardState(hs, () => {
        this.lastPersistedCommit = Math.max(this.lastPersistedCommit, hs.commit);
        if (--this.hsPending === 0 && this.deferred.length > 0) {
          const msgs = this.deferred;
          this.deferred = [];
          this.sendAll(msgs);
        }
      });
    }
    if (rd.truncateFrom !== 0) this.io.truncate(rd.truncateFrom);
    if (rd.entries.length > 0) this.io.append(rd.entries, this.onPersisted);
    if (rd.messages.length > 0) {
      if (this.hsPending > 0) {
        for (const m of rd.messages) this.deferred.push(m);
      } else this.sendAll(rd.messages);
    }
    if (this.proposedBatches.length > 0) {
      const now = this.clock.now();
      while (this.proposedBatches.length > 0 && this.proposedBatches[0]!.last <= rd.commit) {
        const b = this.proposedBatches.shift()!;
        this.observer!.committed?.(this.group, b.count, now - b.at);
      }
    }
    if (rd.committed.length > 0) {
      if (this.observer?.applied) this.applyBatchStart = this.clock.now();
      for (const e of rd.committed) this.applyQueue.push(e);
      if (!this.applying) this.runApply();
    }
    for (const rs of rd.readStates) this.onReadState(rs);
    for (const pr of rd.proposals) this.onPropResult(pr);
    for (const s of rd.snapshots) this.snapshots.handle(s);
  }

  private readonly onPersisted = (index: number, term: number): void => {
    if (this.stopped) return;
    this.core.persisted(index, term);
    this.schedule();
  };

  private sendAll(messages: Message[]): void {
    if (messages.length === 1) {
      this.opts.send(messages[0]!.to, messages);
      return;
    }
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, list] of byPeer) this.opts.send(to, list);
  }

  private onSoftState(role: Role, leader: NodeId): void {
    if (this.observer) {
      if (role !== Role.Leader) this.proposedBatches = [];
      this.observer.roleChanged?.(this.group, role, this.core.term, leader || undefined);
      if ((role === Role.Candidate || role === Role.PreCandidate) && this.core.term !== this.lastRoleTerm) this.observer.electionStarted?.(this.group, this.core.term);
      this.lastRoleTerm = this.core.term;
    }
    if (leader !== '') {
      const ws = this.leaderWaiters.splice(0);
      for (const w of ws) w();
    }
    if (role !== Role.Leader) {
      // Reads waiting on a heartbeat round of ours can't complete; they are safe to retry.
      for (const [ctx, round] of this.readRounds) {
        this.readRounds.delete(ctx);
        for (const r of round.reads) r.reject(new NotLeaderError(this.group, leader || undefined));
      }
    }
    this.logger.debug({ group: this.group, role, leader, term: this.core.term }, 'raft state changed');
  }

  /** Advances the group by one tick; called by the group's own timer, or by its host with `externalTicks`. */
  tick(): void {
    this.onTick();
  }

  private onTick(): void {
    if (this.stopped || this.fatal) return;
    this.now = this.clock.now();
    this.core.tick();
    this.expireRequests();
    this.maybePersistCommit();
    this.snapshots.maybeSnapshot(this.applied);
    this.autoPromote();
    this.wakeApplyWaiters();
    this.schedule();
  }

  /** The commit index is only a restart hint, so it is saved lazily, never gating anything. */
  private maybePersistCommit(): void {
    const commit = Math.min(this.core.log.committed, this.core.log.stable);
    if (commit <= this.lastPersistedCommit || this.now - this.lastCommitPersistAt < this.config.commitPersistMs) return;
    this.lastCommitPersistAt = this.now;
    const hs: HardState = { term: this.core.term, vote: this.core.vote, commit };
    this.io.saveHardState(hs, () => {
      this.lastPersistedCommit = Math.max(this.lastPersistedCommit, commit);
    });
  }

  // ------------------------------------------------------------------ proposals

  private flushProposals(): void {
    if (this.queue.length === 0) return;
    const core = this.core;
    if (core.role === Role.Leader) {
      let take = 0;
      let bytes = 0;
      while (take < this.queue.length) {
        const q = this.queue[take]!;
        if (q.type !== this.queue[0]!.type) break;
        const b = q.data.byteLength;
        if (!core.canAccept(bytes + b)) break;
        bytes += b;
        take++;
        if (q.type === EntryType.Config) break;
      }
      if (take === 0) return; // wait for commits to make room
      const batch = take === this.queue.length ? this.queue : this.queue.slice(0, take);
      this.queue = take === this.queue.length ? [] : this.queue.slice(take);
      const datas = new Array<Uint8Array>(batch.length);
      for (let i = 0; i < batch.length; i++) datas[i] = batch[i]!.data;
      let first: number;
      try {
        first = core.propose(datas, 0, batch[0]!.type);
      } catch (err) {
        for (const q of batch) q.fail(err);
        return;
      }
      const term = core.term;
      for (let i = 0; i < batch.length; i++) {
        const q = batch[i]!;
        q.index = first + i;
        q.term = term;
        this.pending.add(q);
      }
      if (this.observer) {
        this.observer.proposed?.(this.group, batch.length);
        this.proposedBatches.push({ last: first + batch.length - 1, count: batch.length, at: this.clock.now() });
      }
      return;
    }
    if (core.lead === '') return; // wait (bounded by the deadline) for an election to finish
    const batch = this.queue;
    this.queue = [];
    if (this.config.followerRequests === 'reject') {
      for (const q of batch) q.fail(new NotLeaderError(this.group, core.lead));
      return;
    }
    const ctx = ++this.ctxSeq;
    this.forwarded.set(ctx, { items: batch, deadline: this.now + this.config.requestTimeoutMs });
    core.propose(
      batch.map((q) => q.data),
      ctx,
      batch[0]!.type,
    );
  }

  private onPropResult(pr: PropResult): void {
    const fw = this.forwarded.get(pr.ctx);
    if (!fw) return;
    this.forwarded.delete(pr.ctx);
    if (pr.index < 0) {
      // The leader refused: nothing was appended, so a retry cannot duplicate.
      for (const q of fw.items) q.fail(new NotLeaderError(this.group, this.core.lead || undefined));
      return;
    }
    for (let i = 0; i < fw.items.length; i++) {
      const q = fw.items[i]!;
      const index = pr.index + i;
      if (index <= this.applied) {
        const r = this.recent.get(index);
        if (!r) q.fail(new TimeoutError(`group ${this.group}: outcome of forwarded proposal at index ${index} unknown`));
        else if (r.term !== pr.term) q.fail(new ProposalDroppedError('superseded by another leader'));
        else if (r.ok) q.succeed(r.value);
        else q.fail(r.value);
        continue;
      }
      q.index = index;
      q.term = pr.term;
      this.pending.add(q);
    }
  }

  // ------------------------------------------------------------------ reads

  private flushReads(): void {
    if (this.readQueue.length > 0) {
      const reads = this.readQueue;
      this.readQueue = [];
      this.startReadRound(reads, false);
    }
    if (this.leaseQueue.length > 0) {
      const reads = this.leaseQueue;
      this.leaseQueue = [];
      this.startReadRound(reads, true);
    }
  }

  private startReadRound(reads: QueuedRead[], lease: boolean): void {
    const ctx = ++this.ctxSeq;
    this.readRounds.set(ctx, { reads, deadline: this.now + this.config.requestTimeoutMs });
    this.core.readIndex(ctx, lease);
  }

  private onReadState(rs: ReadState): void {
    const round = this.readRounds.get(rs.ctx);
    if (!round) return;
    this.readRounds.delete(rs.ctx);
    if (rs.index < 0) {
      for (const r of round.reads) r.reject(new NotLeaderError(this.group, this.core.lead || undefined));
      return;
    }
    if (rs.index <= this.applied) {
      this.runReads(round.reads);
      return;
    }
    const w = this.waitingReads;
    let i = w.length;
    while (i > 0 && w[i - 1]!.index > rs.index) i--;
    w.splice(i, 0, { index: rs.index, reads: round.reads });
  }

  private runReads(reads: QueuedRead[]): void {
    for (const r of reads) {
      try {
        r.resolve(r.query());
      } catch (err) {
        r.reject(err);
      }
    }
  }

  private releaseReads(): void {
    const w = this.waitingReads;
    let n = 0;
    while (n < w.length && w[n]!.index <= this.applied) n++;
    if (n === 0) return;
    const ready = w.splice(0, n);
    for (const x of ready) this.runReads(x.reads);
  }

  // ------------------------------------------------------------------ apply

  private runApply(): void {
    if (this.applyPaused) return;
    this.applying = true;
    const sm = this.opts.stateMachine;
    const q = this.applyQueue;
    const trackRecent = this.forwarded.size > 0;
    while (this.applyHead < q.length) {
      if (this.stopped || this.applyPaused) break;
      const e = q[this.applyHead++]!;
      if (e.index <= this.applied) continue;
      if (e.type === EntryType.Normal) {
        let value: unknown;
        let ok = true;
        try {
          value = sm.apply(e.data, e.index);
        } catch (err) {
          value = err;
          ok = false;
        }
        if (ok && value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
          (value as Promise<unknown>).then(
            (v) => this.afterApply(e, true, v, trackRecent),
            (err) => this.afterApply(e, false, err, trackRecent),
          );
          return; // resumes from afterApply
        }
        this.settle(e, ok, value, trackRecent);
      } else {
        this.settle(e, true, undefined, trackRecent);
      }
    }
    this.finishApplyBatch();
  }

  private afterApply(e: LogEntry, ok: boolean, value: unknown, trackRecent: boolean): void {
    this.settle(e, ok, value, trackRecent);
    this.runApply();
  }

  private settle(e: LogEntry, ok: boolean, value: unknown, trackRecent: boolean): void {
    this.applied = e.index;
    this.appliedCount++;
    this.appliedBytes += e.data.byteLength;
    if (e.type === EntryType.Config) this.onConfigApplied(e);
    if (this.pending.size > 0) {
      const p = this.pending.take(e.index, this.skipPending);
      if (p !== undefined) {
        if (p.term !== e.term) p.fail(new ProposalDroppedError('superseded by another leader'));
        else if (ok) p.succeed(value);
        else p.fail(value);
      }
    }
    if (trackRecent) {
      this.recent.set(e.index, { term: e.term, ok, value });
      if (this.recent.size > 4096) this.recent.delete(this.recent.keys().next().value!);
    }
  }

  /** A proposal whose index was passed without applying it here (a snapshot replaced the log). */
  private readonly skipPending = (p: Proposal): void => {
    p.fail(new TimeoutError(`group ${this.group}: a snapshot replaced the log; outcome of index ${p.index} unknown`));
  };

  private applyBatchStart = 0;
  /** Entries and bytes applied since the snapshot policy was last told (counted per batch). */
  private appliedCount = 0;
  private appliedBytes = 0;

  private finishApplyBatch(): void {
    if (this.appliedCount > 0) {
      this.snapshots.noteApplied(this.appliedCount, this.appliedBytes);
      this.appliedCount = 0;
      this.appliedBytes = 0;
    }
    if (this.observer?.applied && this.applyBatchStart > 0) {
      this.observer.applied(this.group, this.applyQueue.length, this.clock.now() - this.applyBatchStart);
      this.applyBatchStart = 0;
    }
    if (this.applyHead >= this.applyQueue.length) {
      this.applyQueue = [];
      this.applyHead = 0;
    }
    this.applying = false;
    this.core.appliedTo(this.applied);
    this.releaseReads();
    if (this.queue.length > 0 || this.core.hasReady()) this.schedule();
    const ws = this.stopWaiters.splice(0);
    for (const w of ws) w();
    this.wakeApplyWaiters();
  }

  private wakeApplyWaiters(): void {
    if (this.applyWaiters.length === 0) return;
    const ws = this.applyWaiters;
    this.applyWaiters = [];
    for (const w of ws) w();
  }

  /** A membership change reached the state machine's position in the log. */
  private onConfigApplied(e: LogEntry): void {
    this.appliedMembershipValue = decodeMembership(e.data);
    this.logger.info({ group: this.group, index: e.index, membership: this.appliedMembershipValue }, 'membership change applied');
  }

  /** Waits for the current apply step to finish, then runs `fn` with apply paused. */
  private async withApplyPaused<T>(fn: () => Promise<T>): Promise<T> {
    while (this.applying || this.applyPaused) await new Promise<void>((r) => this.stopWaiters.push(r));
    this.applyPaused = true;
    try {
      return await fn();
    } finally {
      this.applyPaused = false;
      if (!this.stopped && this.applyHead < this.applyQueue.length) this.runApply();
      const ws = this.stopWaiters.splice(0);
      for (const w of ws) w();
      this.schedule();
    }
  }

  /** Replaces state and log with a snapshot received from the leader. */
  /**
   * Replaces the state with a received image. Returns false, changing nothing, when the log caught
   * up with the image while it was in transit (replication goes on during a transfer): an image at
   * or below the commit index holds nothing new, and restoring it would roll applied state back.
   */
  private async installSnapshot(meta: SnapshotMeta, restore: () => Promise<void>): Promise<boolean> {
    return this.withApplyPaused(async () => {
      if (meta.index <= this.core.log.committed) return false;
      await restore();
      const wholeLog = this.core.restoreSnapshot(meta.index, meta.term, meta.membership);
      if (wholeLog) this.io.reset(meta.index);
      else this.io.compact(meta.index, () => {});
      this.appliedMembershipValue = meta.membership;
      this.applied = meta.index;
      this.applyQueue = this.applyQueue.slice(this.applyHead).filter((e) => e.index > meta.index);
      this.applyHead = 0;
      this.pending.take(meta.index + 1, this.skipPending);
      this.releaseReads();
      return true;
    });
  }

  // ------------------------------------------------------------------ timeouts and failure

  private expireRequests(): void {
    const now = this.now;
    // Queued proposals were never appended: failing them is safe to retry.
    if (this.queue.length > 0 && this.queue[0]!.deadline <= now) {
      const keep: Proposal[] = [];
      for (const q of this.queue) {
        if (q.deadline <= now) q.fail(new NotLeaderError(this.group, this.core.lead || undefined));
        else keep.push(q);
      }
      this.queue = keep;
    }
    // Proposals are queued in (nearly) deadline order, so the sweep stops at the first live one.
    this.pending.expire(now, (p) => new TimeoutError(`group ${this.group}: proposal at index ${p.index} not applied in time; outcome unknown`));
    for (const [ctx, fw] of this.forwarded) {
      if (fw.deadline > now) break;
      this.forwarded.delete(ctx);
      for (const q of fw.items) q.fail(new TimeoutError(`group ${this.group}: forwarded proposal not acknowledged; outcome unknown`));
    }
    for (const [ctx, round] of this.readRounds) {
      if (round.deadline > now) break;
      this.readRounds.delete(ctx);
      for (const r of round.reads) r.reject(new TimeoutError(`group ${this.group}: read index not confirmed in time`));
    }
  }

  private failAll(err: Error): void {
    for (const q of this.queue) q.fail(err);
    this.queue = [];
    this.pending.drain((p) => p.fail(err));
    for (const fw of this.forwarded.values()) for (const q of fw.items) q.fail(err);
    this.forwarded.clear();
    for (const r of [...this.readQueue, ...this.leaseQueue]) r.reject(err);
    this.readQueue = [];
    this.leaseQueue = [];
    for (const round of this.readRounds.values()) for (const r of round.reads) r.reject(err);
    this.readRounds.clear();
    for (const w of this.waitingReads) for (const r of w.reads) r.reject(err);
    this.waitingReads = [];
  }

  /** A storage failure or a protocol invariant broke: stop serving rather than risk acknowledging lost data. */
  private fail(err: Error): void {
    if (this.fatal) return;
    this.fatal = TesseraError.isInstance(err) ? err : new StorageError(`group ${this.group} failed: ${err.message}`, { cause: err });
    this.logger.error({ group: this.group, err: err.message }, 'raft group failed; stopping');
    this.ticker?.cancel();
    this.failAll(this.fatal);
  }

  /** Set when the group stopped itself after a fatal error. */
  get failure(): Error | undefined {
    return this.fatal;
  }

  private snapshotHost() {
    return {
      core: this.core,
      io: this.io,
      clock: this.clock,
      id: this.id,
      send: (msgs: Message[]) => this.sendAll(msgs),
      schedule: () => this.schedule(),
      applied: () => this.applied,
      appliedMembership: () => this.appliedMembershipValue,
      observer: this.observer,
      capture: <T>(fn: () => Promise<T>) => this.withApplyPaused(fn),
      install: (meta: SnapshotMeta, restore: () => Promise<void>) => this.installSnapshot(meta, restore),
    };
  }
}

export type SnapshotHost = ReturnType<RaftGroup['snapshotHost']>;
