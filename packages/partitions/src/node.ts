/**
 * A partition node: one process's share of the cluster. It hosts a replica of every partition the
 * placement assigns it, all on one RaftHost (one transport) and one storage engine, serves the
 * client protocol, proposes log-clock entries so idle sessions expire, and moves leadership to
 * each partition's preferred leader.
 */
import { errorToWire, partitionOf, ResponseKind, type ClusterMap, type CommandRequest, type CommandRunRequest, type QueryRequest, type RequestKind } from '@tessera/client/protocol';
import { OperationError, SessionExpiredError, WrongPartitionError } from '@tessera/client';
import {
  ConfigError,
  GroupStoppedError,
  NotLeaderError,
  RaftHost,
  Role,
  TesseraError,
  TimeoutError,
  silentLogger,
  type GroupStatus,
  type GroupStorage,
  type Logger,
  type RaftGroup,
} from '@tessera/raft';
import { electionResource } from './builtins/election.js';
import { counterResource } from './builtins/counter.js';
import { lockResource } from './builtins/lock.js';
import { mapResource } from './builtins/map.js';
import { coalescingClock } from './clock.js';
import { encodeClock, encodeClose, encodeCommand, encodeKeepAlive, encodeRuns, type BatchedCommand } from './envelope.js';
import { parseNodeOptions, type NodeOptions, type ResolvedNodeOptions } from './options.js';
import { groupIdOf, partitionsOf, placePartitions, type Placement } from './placement.js';
import type { ResourceDefinition } from './resource.js';
import { ClientServer, type AnswerSink, type ClientConnection } from './server.js';
import type { Outcome } from './sessions.js';
import { PartitionStateMachine } from './state-machine.js';

/** The resource types every node registers. */
export const builtinResources: readonly ResourceDefinition[] = [mapResource, counterResource, lockResource, electionResource];

/**
 * A command waiting to be proposed: its answer goes straight to the connection it came on (no
 * promise per command: at hundreds of thousands of commands per second they are a visible cost).
 */
interface PendingCommand {
  readonly cmd: BatchedCommand;
  /** Request id on `conn`. */
  readonly id: number;
  readonly conn: AnswerSink;
  /** Came in a `cmds` run: the client understands answers merged into one OkMany message. */
  readonly run: boolean;
}

interface LocalPartition {
  readonly p: number;
  readonly group: RaftGroup<Outcome>;
  readonly sm: PartitionStateMachine;
  lastProposeAt: number;
  balanceBackoffUntil: number;
  /** Commands received in this turn, proposed together as one entry. */
  batch: PendingCommand[];
  /** Batch entries proposed here and not yet settled (see `batching.maxEntriesInFlight`). */
  inflight: number;
}

/** Most commands in one batch entry. */
const MAX_BATCH = 1024;

interface SubRef {
  readonly conn: ClientConnection;
  readonly subId: number;
}

/** One partition as {@link PartitionNode.status} reports it. */
export interface PartitionStatus {
  readonly partition: number;
  readonly role: Role;
  readonly leader: string | undefined;
  readonly preferredLeader: string;
  readonly term: number;
  readonly appliedIndex: number;
  readonly sessions: number;
  readonly resources: number;
}

/**
 * Starts a node: opens (or creates) its partitions' groups, starts the transport and the client
 * server. Throws ConfigError for invalid options, naming the field.
 *
 * ```ts
 * const node = await createNode({
 *   id: 'n1',
 *   members: [{ id: 'n1', clientAddress: '127.0.0.1:7101' }, ...],
 *   partitions: { count: 16, replicationFactor: 3 },
 *   storage: await fileStorage({ dir: '/var/lib/tessera/n1' }),
 *   transport: tcpTransport({ listen: { port: 7001 }, peers: { n2: '10.0.0.2:7001', ... }, clusterId: 'prod' }),
 *   client: { listen: { host: '0.0.0.0', port: 7101 } },
 * });
 * ```
 */
export async function createNode(options: NodeOptions): Promise<PartitionNode> {
  const opts = parseNodeOptions(options);
  const node = new PartitionNode(opts);
  try {
    await node.start();
  } catch (err) {
    await node.close().catch(() => {});
    throw err;
  }
  return node;
}

export class PartitionNode {
  readonly id: string;
  readonly clusterId: string;
  readonly placement: Placement;
  private readonly opts: ResolvedNodeOptions;
  private readonly logger: Logger;
  private readonly host: RaftHost;
  private readonly resources = new Map<string, ResourceDefinition>();
  private readonly parts: (LocalPartition | undefined)[];
  private readonly memberAddress = new Map<string, string | undefined>();
  private readonly subs = new Map<string, Set<SubRef>>();
  private readonly subsByConn = new Map<ClientConnection, Map<number, string>>();
  private server: ClientServer | undefined;
  private readonly storages: GroupStorage[] = [];
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  /** @internal use {@link createNode}. */
  constructor(opts: ResolvedNodeOptions) {
    this.opts = opts;
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.logger = opts.logger ?? silentLogger;
    const ids = opts.members.map((m) => (typeof m === 'string' ? m : m.id));
    for (const m of opts.members) if (typeof m !== 'string') this.memberAddress.set(m.id, m.clientAddress);
    if (!ids.includes(opts.id)) throw new ConfigError('node.id', `${opts.id} is not one of members (${ids.join(', ')})`);
    this.placement = placePartitions(ids, opts.partitions.count, opts.partitions.replicationFactor);
    for (const def of [...builtinResources, ...opts.resources]) {
      if (this.resources.has(def.type)) throw new ConfigError('node.resources', `resource type ${def.type} is registered twice`);
      this.resources.set(def.type, def);
    }
    this.parts = new Array(opts.partitions.count).fill(undefined);
    this.host = new RaftHost({ nodeId: opts.id, transport: opts.transport, logger: this.logger, ...(opts.observer ? { observer: opts.observer } : {}), ...(opts.coalesceTimers ? { clock: coalescingClock() } : {}) });
  }

  /** @internal */
  async start(): Promise<void> {
    await this.host.start();
    const mine = partitionsOf(this.placement, this.id);
    let next = 0;
    const worker = async () => {
      while (next < mine.length && !this.closed) {
        const p = mine[next++]!;
        await this.openPartition(p);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.openConcurrency, mine.length) }, worker));
    if (this.opts.client !== false) {
      const c = this.opts.client;
      this.server = new ClientServer(this, { listen: c.listen, maxFrameBytes: c.maxFrameBytes, logger: this.logger, ...(c.tls ? { tls: c.tls as object } : {}) });
      await this.server.start();
    }
    const clockEvery = this.opts.sessions.clockIntervalMs;
    this.timers.push(setInterval(() => this.proposeClocks(), Math.max(10, Math.floor(clockEvery / 2))));
    if (this.opts.balancer.enabled) this.timers.push(setInterval(() => void this.balanceOnce(), this.opts.balancer.intervalMs));
    for (const t of this.timers) t.unref();
  }

  private async openPartition(p: number): Promise<void> {
    const gid = groupIdOf(p);
    const storage = await this.opts.storage.openGroup(gid);
    this.storages.push(storage);
    const sm = new PartitionStateMachine({
      partition: p,
      resources: this.resources,
      onEvent: (type, name, event, index) => this.onEvent(p, type, name, event, index),
      onRestore: () => this.endSubscriptions(p, 'the replica restored a snapshot'),
    });
    const group = await this.host.addGroup<Outcome>({
      group: gid,
      storage,
      stateMachine: sm,
      membership: { voters: [...this.placement.replicas[p]!], learners: [] },
      // The client routes to leaders itself; the commit index is only a restart hint, and persisting it
      // costs every group an atomic file write (with fsyncs) per interval under load.
      config: { followerRequests: 'reject', commitPersistMs: 10_000, ...this.opts.raft },
    });
    this.parts[p] = { p, group, sm, lastProposeAt: 0, balanceBackoffUntil: 0, batch: [], inflight: 0 };
  }

  // ------------------------------------------------------------------ introspection

  /** The client address this node serves on ("host:port"), if it serves clients. */
  get clientAddress(): string | undefined {
    if (this.opts.client !== false && this.opts.client.advertise) return this.opts.client.advertise;
    const a = this.server?.address;
    if (!a) return undefined;
    return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  }

  /** The Raft group of partition `p`, if this node holds a replica. */
  group(p: number): RaftGroup<Outcome> | undefined {
    return this.parts[p]?.group;
  }

  /** The state machine of partition `p`, if this node holds a replica. */
  stateMachine(p: number): PartitionStateMachine | undefined {
    return this.parts[p]?.sm;
  }

  /** The RaftHost running this node's groups. */
  get raftHost(): RaftHost {
    return this.host;
  }

  /** The partitions this node holds replicas of, with role and leader. */
  status(): PartitionStatus[] {
    const out: PartitionStatus[] = [];
    for (const part of this.parts) {
      if (!part) continue;
      const s: GroupStatus = part.group.status();
      out.push({
        partition: part.p,
        role: s.role,
        leader: s.leader,
        preferredLeader: this.placement.replicas[part.p]![0]!,
        term: s.term,
        appliedIndex: part.sm.appliedIndex,
        sessions: part.sm.sessions.size,
        resources: part.sm.instanceCount,
      });
    }
    return out;
  }

  /** The partition map and the leaders this node knows, as clients receive it. */
  clusterMap(): ClusterMap {
    return {
      clusterId: this.clusterId,
      nodeId: this.id,
      version: 1,
      partitions: this.placement.partitions,
      replicationFactor: this.placement.replicationFactor,
      members: this.placement.nodes.map((id) => {
        const address = this.addressOf(id);
        return address === undefined ? { id } : { id, address };
      }),
      replicas: this.placement.replicas.map((r) => [...r]),
      leaders: this.parts.map((part) => part?.group.leader ?? null),
    };
  }

  private addressOf(id: string): string | undefined {
    if (id === this.id) return this.clientAddress;
    return this.memberAddress.get(id) ?? this.opts.clientAddresses?.(id);
  }

  // ------------------------------------------------------------------ requests

  /** @internal Client protocol dispatch (see server.ts). */
  handle(kind: RequestKind, req: unknown[], conn: ClientConnection): Promise<[unknown, number]> | [unknown, number] {
    switch (kind) {
      case 'cmd':
      case 'cmds':
        // Served by submitCommand / submitCommands (server.ts), which answer on the connection.
        throw new TesseraError('INTERNAL', `${kind} requests are served by submitCommand`);
      case 'query':
        return this.query(req as QueryRequest);
      case 'hello':
      case 'map':
        return [this.clusterMap(), 0];
      case 'ping':
        return [null, 0];
      case 'keepalive': {
        const [, , p, session, open, timeoutMs] = req as [number, string, number, string, boolean, number];
        return this.proposeOn(p, encodeKeepAlive(Date.now(), timeoutMs, session, open));
      }
      case 'close': {
        const [, , p, session] = req as [number, string, number, string];
        return this.proposeOn(p, encodeClose(Date.now(), session));
      }
      case 'sub':
        return this.subscribe(req as [number, string, number, string, string], conn);
      case 'unsub': {
        const [, , subId] = req as [number, string, number];
        this.unsubscribe(conn, subId);
        return [null, 0];
      }
    }
  }

  /** @internal */
  describeError(err: unknown, req: unknown[]): { leaderAddress?: string; partition?: number } {
    const p = typeof req[2] === 'number' && (req[1] === 'cmd' || req[1] === 'cmds' || req[1] === 'query' || req[1] === 'keepalive' || req[1] === 'close' || req[1] === 'sub') ? req[2] : undefined;
    const leader = err instanceof NotLeaderError ? err.leader : undefined;
    const leaderAddress = leader ? this.addressOf(leader) : undefined;
    return { ...(leaderAddress ? { leaderAddress } : {}), ...(p !== undefined ? { partition: p } : {}) };
  }

  private local(p: number): LocalPartition {
    if (p >= this.placement.partitions) throw new WrongPartitionError(`partition ${p} does not exist (the cluster has ${this.placement.partitions})`);
    const part = this.parts[p];
    if (!part) throw new NotLeaderError(groupIdOf(p), undefined);
    return part;
  }

  private leaderOf(p: number): LocalPartition {
    const part = this.local(p);
    if (part.group.role !== Role.Leader) throw new NotLeaderError(groupIdOf(p), part.group.leader);
    return part;
  }

  private resolveResource(type: string, name: string, key: string | null, p: number): ResourceDefinition {
    const def = this.resources.get(type);
    if (!def) throw new OperationError('UNKNOWN_RESOURCE', `no resource type ${type} on node ${this.id}`);
    // A keyed resource's fan-out query (no key) runs on any partition; everything else must be where the hash puts it.
    if (key !== null || !def.keyed) {
      const expected = partitionOf(this.placement.partitions, name, key ?? undefined);
      if (expected !== p) throw new WrongPartitionError(`${type} ${name}${key !== null ? ` key ${key}` : ''} lives in partition ${expected}, not ${p} (does the client know ${this.placement.partitions} partitions?)`);
    }
    return def;
  }

  private validate(def: ResourceDefinition, kind: 'commands' | 'queries', op: string, input: unknown): unknown {
    const spec = def[kind][op];
    if (!spec) throw new OperationError('UNKNOWN_OPERATION', `resource type ${def.type} has no ${kind === 'commands' ? 'command' : 'query'} ${op}`);
    const r = spec.input.safeParse(input);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new OperationError('INVALID_INPUT', `${def.type}.${op}${issue.path.length ? '.' + issue.path.join('.') : ''}: ${issue.message}`);
    }
    return r.data;
  }

  /**
   * @internal The `cmd` hot path: validates the command and queues it for its partition's next
   * batch entry; the answer is sent on `conn` as `[id, ok, value, index]` or `[id, error, ...]`.
   * Throws (before queueing anything) for invalid input, a wrong partition or a non-leader.
   */
  submitCommand(req: CommandRequest, conn: AnswerSink): void {
    const [id, , p, session, seq, ackBelow, open, timeoutMs, type, name, op, input, key] = req;
    const def = this.resolveResource(type, name, key, p);
    if (def.keyed && key === null) throw new OperationError('INVALID_INPUT', `resource type ${type} is keyed: commands need a key`);
    const data = this.validate(def, 'commands', op, input);
    this.queueCommand(this.leaderOf(p), { cmd: [timeoutMs, session, seq, ackBelow, open, type, name, op, data, key], id, conn, run: false });
  }

  /**
   * @internal A `cmds` run (commands sharing partition, session, type, name and operation): each
   * command is checked and queued like {@link submitCommand}; one refused command is answered with
   * its error and the others go on. Throws only if the whole run is refused (not the leader, ...).
   */
  submitCommands(req: CommandRunRequest, conn: AnswerSink): void {
    const [, , p, session, open, timeoutMs, ackBelow, type, name, op, ids, seqs, inputs, keys] = req;
    const def = this.resources.get(type);
    if (!def) throw new OperationError('UNKNOWN_RESOURCE', `no resource type ${type} on node ${this.id}`);
    const part = this.leaderOf(p);
    for (let i = 0; i < ids.length; i++) {
      const key = keys[i]!;
      let data: unknown;
      try {
        this.resolveResource(type, name, key, p);
        if (def.keyed && key === null) throw new OperationError('INVALID_INPUT', `resource type ${type} is keyed: commands need a key`);
        data = this.validate(def, 'commands', op, inputs[i]);
      } catch (err) {
        conn.send([ids[i]!, ResponseKind.Error, errorToWire(err, { partition: p })]);
        continue;
      }
      this.queueCommand(part, { cmd: [timeoutMs, session, seqs[i]!, ackBelow, open, type, name, op, data, key], id: ids[i]!, conn, run: true });
    }
  }

  private queueCommand(part: LocalPartition, c: PendingCommand): void {
    if (part.batch.length === 0) queueMicrotask(() => this.maybeFlush(part));
    part.batch.push(c);
    if (part.batch.length >= MAX_BATCH) this.flushBatch(part);
  }

  /** Proposes the partition's batch unless `batching.maxEntriesInFlight` entries are in flight (then it goes when one settles). */
  private maybeFlush(part: LocalPartition): void {
    if (part.inflight < this.opts.batching.maxEntriesInFlight) this.flushBatch(part);
  }

  /** Proposes the commands gathered for a partition (one client frame's worth, usually) as one entry. */
  private flushBatch(part: LocalPartition): void {
    const batch = part.batch;
    if (batch.length === 0) return;
    part.batch = [];
    const now = Date.now();
    part.lastProposeAt = now;
    let bytes: Uint8Array;
    if (batch.length === 1) {
      const [timeoutMs, session, seq, ackBelow, open, type, name, op, data, key] = batch[0]!.cmd;
      bytes = encodeCommand(now, timeoutMs, session, seq, ackBelow, open, type, name, op, data, key);
    } else {
      const cmds = new Array<BatchedCommand>(batch.length);
      for (let i = 0; i < batch.length; i++) cmds[i] = batch[i]!.cmd;
      bytes = encodeRuns(now, cmds);
    }
    part.inflight++;
    const settled = () => {
      part.inflight--;
      if (part.batch.length > 0) this.maybeFlush(part);
    };
    part.group.propose(bytes).then(
      (out) => {
        settled();
        if (batch.length === 1) {
          this.answer(batch[0]!, out, part.p);
          return;
        }
        if (!out.ok) {
          for (const b of batch) this.answer(b, out, part.p);
          return;
        }
        // Every command of the entry has the entry's index: successes to one connection go as one
        // message ([0, OkMany, ids, values, index]) instead of one each.
        const outs = out.value as Outcome[];
        let sink: AnswerSink | undefined;
        let ids: number[] = [];
        let values: unknown[] = [];
        const flush = () => {
          if (ids.length === 1) sink!.send([ids[0]!, ResponseKind.Ok, values[0], out.index]);
          else if (ids.length > 1) sink!.send([0, ResponseKind.OkMany, ids, values, out.index]);
          ids = [];
          values = [];
        };
        for (let i = 0; i < batch.length; i++) {
          const b = batch[i]!;
          const o = outs[i]!;
          // A duplicate answered from the dedup table carries the index it was first applied at.
          if (!o.ok || !b.run || o.index !== out.index) {
            this.answer(b, o, part.p);
            continue;
          }
          if (b.conn !== sink) {
            flush();
            sink = b.conn;
          }
          ids.push(b.id);
          values.push(o.value);
        }
        flush();
      },
      (err) => {
        settled();
        const e = this.clientError(err, part.p);
        for (const b of batch) this.answerError(b, e, part.p);
      },
    );
  }

  private answer(b: PendingCommand, o: Outcome, p: number): void {
    if (o.ok) b.conn.send([b.id, ResponseKind.Ok, o.value, o.index]);
    else this.answerError(b, o.code === 'SESSION_EXPIRED' ? new SessionExpiredError(o.message) : new OperationError(o.code, o.message), p);
  }

  private answerError(b: PendingCommand, err: unknown, p: number): void {
    const leader = err instanceof NotLeaderError ? err.leader : undefined;
    const leaderAddress = leader ? this.addressOf(leader) : undefined;
    b.conn.send([b.id, ResponseKind.Error, errorToWire(err, leaderAddress ? { leaderAddress, partition: p } : { partition: p })]);
  }

  private proposeOn(p: number, bytes: Uint8Array): Promise<[unknown, number]> {
    try {
      return this.propose(this.leaderOf(p), bytes);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private async propose(part: LocalPartition, bytes: Uint8Array): Promise<[unknown, number]> {
    part.lastProposeAt = Date.now();
    let out: Outcome;
    try {
      out = await part.group.propose(bytes);
    } catch (err) {
      throw this.clientError(err, part.p);
    }
    if (out.ok) return [out.value, out.index];
    if (out.code === 'SESSION_EXPIRED') throw new SessionExpiredError(out.message);
    throw new OperationError(out.code, out.message);
  }

  /** Errors from the group as a client should see them: a stopping group is "not the leader here". */
  private clientError(err: unknown, p: number): unknown {
    if (err instanceof GroupStoppedError || (TesseraError.isInstance(err) && err.code === 'GROUP_STOPPED')) return new NotLeaderError(groupIdOf(p), undefined);
    return err;
  }

  private async query(req: QueryRequest): Promise<[unknown, number]> {
    const [, , p, type, name, op, input, key, consistency, minIndex] = req;
    const def = this.resolveResource(type, name, key, p);
    const data = this.validate(def, 'queries', op, input);
    const run = (sm: PartitionStateMachine) => sm.query(type, name, op, data, key);
    switch (consistency) {
      case 'linearizable':
      case 'lease': {
        const part = this.leaderOf(p);
        try {
          const value = await part.group.read(() => run(part.sm), { consistency });
          return [value, part.sm.appliedIndex];
        } catch (err) {
          throw this.clientError(err, p);
        }
      }
      case 'sequential': {
        const part = this.local(p);
        const wait = Number(this.opts.raft.requestTimeoutMs ?? 10_000);
        await part.sm.waitApplied(minIndex, wait, () => new TimeoutError(`partition ${p}: replica on ${this.id} did not reach index ${minIndex} in time`));
        return [run(part.sm), part.sm.appliedIndex];
      }
      case 'stale': {
        const part = this.local(p);
        return [run(part.sm), part.sm.appliedIndex];
      }
    }
  }

  // ------------------------------------------------------------------ subscriptions

  /**
   * Subscriptions are served by the leader: a follower may be far behind, and one that catches up
   * by installing a snapshot skips the events of every entry the snapshot covers (its subscriptions
   * are then ended, see endSubscriptions). A subscription stays where it was made if the leader
   * steps down: a follower that applies the log emits every event.
   */
  private subscribe(req: [number, string, number, string, string], conn: ClientConnection): [unknown, number] {
    const [subId, , p, type, name] = req;
    const part = this.leaderOf(p);
    this.resolveResource(type, name, null, p);
    const state = part.sm.describe(type, name);
    const key = `${p}\u0000${type}\u0000${name}`;
    let set = this.subs.get(key);
    if (!set) this.subs.set(key, (set = new Set()));
    set.add({ conn, subId });
    let mine = this.subsByConn.get(conn);
    if (!mine) this.subsByConn.set(conn, (mine = new Map()));
    mine.set(subId, key);
    return [state, part.sm.appliedIndex];
  }

  private unsubscribe(conn: ClientConnection, subId: number): void {
    const mine = this.subsByConn.get(conn);
    const key = mine?.get(subId);
    if (key === undefined) return;
    mine!.delete(subId);
    const set = this.subs.get(key);
    if (!set) return;
    for (const s of set) if (s.conn === conn && s.subId === subId) set.delete(s);
    if (set.size === 0) this.subs.delete(key);
  }

  /** Ends every subscription to partition `p` on this node: the client subscribes again (to the leader). */
  private endSubscriptions(p: number, reason: string): void {
    const prefix = `${p}\u0000`;
    for (const [key, set] of [...this.subs]) {
      if (!key.startsWith(prefix)) continue;
      for (const s of [...set]) {
        this.unsubscribe(s.conn, s.subId);
        s.conn.subscriptionEnded(s.subId, reason);
      }
    }
  }

  /** @internal */
  connectionClosed(conn: ClientConnection): void {
    const mine = this.subsByConn.get(conn);
    if (!mine) return;
    for (const subId of [...mine.keys()]) this.unsubscribe(conn, subId);
    this.subsByConn.delete(conn);
  }

  private onEvent(p: number, type: string, name: string, event: unknown, index: number): void {
    if (this.subs.size === 0) return;
    const set = this.subs.get(`${p}\u0000${type}\u0000${name}`);
    if (!set) return;
    for (const s of set) s.conn.event(s.subId, event, index);
  }

  // ------------------------------------------------------------------ background work

  /** Leaders of partitions with sessions stamp the log now and then, so idle sessions expire. */
  private proposeClocks(): void {
    const now = Date.now();
    const quiet = this.opts.sessions.clockIntervalMs;
    for (const part of this.parts) {
      if (!part || part.sm.sessions.size === 0 || part.group.role !== Role.Leader) continue;
      if (now - part.lastProposeAt < quiet) continue;
      part.lastProposeAt = now;
      part.group.propose(encodeClock(now)).catch(() => {});
    }
  }

  /**
   * One round of leader balancing: for each partition this node leads but that prefers another
   * leader, hands leadership over if that replica is caught up. Returns the transfers started.
   * Runs every `balancer.intervalMs` on its own; exposed for tests and operators.
   */
  balanceOnce(): number {
    if (this.closed) return 0;
    const { maxLag, maxTransfersPerRound, intervalMs } = this.opts.balancer;
    const now = Date.now();
    let started = 0;
    for (const part of this.parts) {
      if (!part || part.group.role !== Role.Leader || now < part.balanceBackoffUntil) continue;
      const preferred = this.placement.replicas[part.p]![0]!;
      if (preferred === this.id) continue;
      const f = part.group.status().followers[preferred];
      if (!f || f.state !== 'replicate' || f.lag > maxLag) continue;
      part.balanceBackoffUntil = now + intervalMs;
      part.group.transferLeadership(preferred).catch((err: Error) => {
        part.balanceBackoffUntil = Date.now() + 5 * intervalMs;
        this.logger.debug({ partition: part.p, to: preferred, err: err.message }, 'leadership transfer did not finish');
      });
      if (++started >= maxTransfersPerRound) break;
    }
    return started;
  }

  /** Stops serving clients, stops every group and the transport. Storage is left open (the caller owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.server?.close();
    await this.host.close();
    await Promise.all(this.storages.map((s) => s.close().catch(() => {})));
  }
}
