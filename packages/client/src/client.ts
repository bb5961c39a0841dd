/**
 * The client: learns the partition map, routes each operation to the partition's leader (or any
 * replica for `stale`/`sequential` reads), follows NotLeader hints, retries with backoff, and keeps
 * a session per partition so that a retried command is applied at most once.
 */
import { randomBytes } from 'node:crypto';
import { NotLeaderError, TesseraError, TimeoutError } from '@tessera/raft';
import { NodeConnection, type Answer } from './connection.js';
import { ClientClosedError, ConnectionLostError, SessionExpiredError, errorFromWire } from './errors.js';
import { CounterHandle, ElectionHandle, LockHandle, MapHandle, ResourceHandle } from './handles.js';
import { parseConnectOptions, type ConnectOptions, type ResolvedConnectOptions } from './options.js';
import { partitionOf } from './protocol/hash.js';
import { CLIENT_PROTOCOL_VERSION, clusterMapSchema, type ClusterMap, type Consistency, type WireError } from './protocol/messages.js';
import { tcp } from './transports.js';

/** Per-request options. */
export interface RequestOptions {
  /** Reads only: how fresh the answer must be (default: the client's `consistency`). */
  readonly consistency?: Consistency;
  /** Overrides the client's `requestTimeoutMs` for this request. */
  readonly timeoutMs?: number;
}

/** A live subscription; `close()` stops it. */
export interface Subscription {
  close(): void;
}

interface PartitionSession {
  /** The session id used on this partition (the client id, or `id.epoch` after an expiry). */
  id: string;
  epoch: number;
  /** A command of this session was applied on the partition (later commands need not ask to open it). */
  opened: boolean;
}

interface Sub {
  readonly partition: number;
  readonly type: string;
  readonly name: string;
  readonly onEvent: (event: unknown, index: number) => void;
  readonly onState: (state: unknown, index: number) => void;
  conn: NodeConnection | undefined;
  subId: number;
  lastIndex: number;
  stateIndex: number;
  closed: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A first attempt made by a hot path that failed; the retry loop continues from it. */
interface FailedAttempt {
  readonly nodeId: string;
  readonly error: unknown;
  /** When the operation began (its deadline counts from here). */
  readonly startedAt: number;
}

function asError(e: unknown): TesseraError | Error {
  if (e instanceof Error) return e;
  if (typeof e === 'object' && e !== null && typeof (e as WireError).code === 'string') return errorFromWire(e as WireError);
  return new Error(String(e));
}

/** Whether a failed attempt of a command may nevertheless have been applied. */
function outcomeUnknown(err: Error): boolean {
  if (!TesseraError.isInstance(err)) return true;
  return err.code === 'TIMEOUT' || err.code === 'CONNECTION_LOST' || err.code === 'INTERNAL';
}

/**
 * Connects to a Tessera cluster: asks the first reachable endpoint for the partition map and
 * returns a client. Throws ConfigError for bad options and ConnectionLostError when no endpoint answers.
 */
export async function connect(options: ConnectOptions): Promise<TesseraClient> {
  const opts = parseConnectOptions(options);
  const client = new TesseraClient(opts);
  try {
    await client.start();
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

/** A connection to a cluster. Get resource handles from it; `close()` when done. */
export class TesseraClient {
  private readonly opts: ResolvedConnectOptions;
  private readonly transport;
  private cmap!: ClusterMap;
  private readonly conns = new Map<string, NodeConnection>();
  private readonly downUntil = new Map<string, number>();
  private readonly endpointOf = new Map<string, string>();
  private addresses = new Map<string, string>();
  private readonly sessionBase: string;
  private sessions: PartitionSession[] = [];
  private nextSeq = 1;
  private readonly outstanding = new Set<number>();
  private low = 1;
  private lastIndex: number[] = [];
  private rr = 0;
  private readonly subs = new Set<Sub>();
  private readonly subsByConn = new Map<NodeConnection, Map<number, Sub>>();
  private readonly expiryListeners = new Set<(partition: number, oldSession: string) => void>();
  private refreshing: Promise<void> | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = { requests: 0, attempts: 0, redirects: 0, retries: 0, errors: {} as Record<string, number> };

  /** @internal use {@link connect}. */
  constructor(opts: ResolvedConnectOptions) {
    this.opts = opts;
    this.transport = opts.transport ?? tcp();
    this.sessionBase = randomBytes(12).toString('base64url');
  }

  /** @internal */
  async start(): Promise<void> {
    let lastErr: unknown;
    for (const ep of this.opts.endpoints) {
      try {
        const conn = this.connectionTo(ep);
        const a = await this.withDeadline(conn, conn.request(['hello', { version: CLIENT_PROTOCOL_VERSION }]), this.opts.connectTimeoutMs + this.opts.attemptTimeoutMs);
        this.applyMap(a.value, ep);
        this.sessions = Array.from({ length: this.cmap.partitions }, () => ({ id: this.sessionBase, epoch: 0, opened: false }));
        this.lastIndex = new Array(this.cmap.partitions).fill(0);
        const every = Math.max(100, Math.floor(this.opts.sessionTimeoutMs / 3));
        this.keepAliveTimer = setInterval(() => this.keepAlive(), every);
        this.keepAliveTimer.unref();
        return;
      } catch (err) {
        lastErr = err;
      }
    }
    const e = asError(lastErr);
    throw TesseraError.isInstance(e) && e.code !== 'CONNECTION_LOST' ? e : new ConnectionLostError(`no endpoint answered (${this.opts.endpoints.join(', ')}): ${e.message}`, { cause: e });
  }

  // ------------------------------------------------------------------ resources

  /** A map whose entries are spread over all partitions by key. */
  map<V = unknown>(name: string): MapHandle<V> {
    return new MapHandle<V>(this, name);
  }

  /** A counter (one partition). */
  counter(name: string): CounterHandle {
    return new CounterHandle(this, name);
  }

  /** A distributed lock with fencing tokens, released when its holder's session expires. */
  lock(name: string): LockHandle {
    return new LockHandle(this, name);
  }

  /** A leader election among candidates; the leader loses leadership when its session expires. */
  leaderElection(name: string): ElectionHandle {
    return new ElectionHandle(this, name);
  }

  /**
   * A user-defined resource type registered on the nodes with `defineResource`. With `keyed`, each
   * operation's input must carry a string `key`, which picks the partition.
   */
  resource(type: string, name: string, options: { keyed?: boolean } = {}): ResourceHandle {
    return new ResourceHandle(this, type, name, options.keyed ?? false);
  }

  /** Counters: operations, attempts, NotLeader redirects, retries after errors (by code). For monitoring and benchmarks. */
  stats(): { requests: number; attempts: number; redirects: number; retries: number; errors: Record<string, number> } {
    return { ...this.counters, errors: { ...this.counters.errors } };
  }

  /** The partition map as last learned from the cluster. */
  clusterMap(): ClusterMap {
    return this.cmap;
  }

  /** The partition holding resource `name` (or entry `key` of a keyed resource). */
  partitionOf(name: string, key?: string): number {
    return partitionOf(this.cmap.partitions, name, key);
  }

  /** This client's session id on `partition`. */
  sessionId(partition: number): string {
    return this.sessions[partition]!.id;
  }

  /** Highest log index this client has seen on `partition` (the floor of its `sequential` reads). */
  seenIndex(partition: number): number {
    return this.lastIndex[partition] ?? 0;
  }

  /** @internal Calls `fn` when this client's session on a partition expired. */
  onSessionExpired(fn: (partition: number, oldSession: string) => void): () => void {
    this.expiryListeners.add(fn);
    return () => this.expiryListeners.delete(fn);
  }

  // ------------------------------------------------------------------ operations

  /**
   * Runs a command on `partition`'s leader, exactly once: the same (session, sequence number) is
   * resent on every retry and the partition answers a duplicate from its dedup table.
   */
  command(partition: number, type: string, name: string, op: string, input: unknown, key: string | null, options: RequestOptions = {}): Promise<Answer> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const seq = this.nextSeq++;
    this.outstanding.add(seq);
    const ps = this.sessions[partition]!;
    const session = ps.id;
    const body = (): unknown[] => [0, 'cmd', partition, session, seq, this.ackBelow(), ps.id === session && !ps.opened, this.opts.sessionTimeoutMs, type, name, op, input, key];
    // The hot path: the partition's leader is known and no node is marked down, so this first attempt
    // goes where execute() would send it, with a callback instead of a chain of promises. Any failure
    // continues in execute() exactly as if its own first attempt had failed.
    const leader = this.cmap.leaders[partition];
    const conn = leader != null && this.downUntil.size === 0 ? this.connection(leader) : undefined;
    if (conn === undefined || leader == null) return this.retryCommand(partition, type, name, op, input, key, options, seq, session, body, undefined);
    const startedAt = Date.now();
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    this.counters.requests++;
    this.counters.attempts++;
    return new Promise<Answer>((resolve, reject) => {
      conn.call(body(), Math.min(timeoutMs, this.opts.attemptTimeoutMs), (err, a) => {
        if (err === undefined) {
          this.succeeded(partition, true, leader, a!);
          if (ps.id === session) ps.opened = true;
          this.outstanding.delete(seq);
          resolve(a!);
        } else this.retryCommand(partition, type, name, op, input, key, options, seq, session, body, { nodeId: leader, error: err, startedAt }).then(resolve, reject);
      });
    });
  }

  /** Attempts of a command after the first (or all of them when the hot path did not apply). */
  private async retryCommand(
    partition: number,
    type: string,
    name: string,
    op: string,
    input: unknown,
    key: string | null,
    options: RequestOptions,
    seq: number,
    session: string,
    body: () => unknown[],
    first: FailedAttempt | undefined,
  ): Promise<Answer> {
    const ps = this.sessions[partition]!;
    let maybeApplied = false;
    try {
      return await this.execute(
        partition,
        true,
        options.timeoutMs,
        body,
        {
          onAttemptFailed: (err) => {
            if (outcomeUnknown(err)) maybeApplied = true;
          },
          onSuccess: () => {
            if (ps.id === session) ps.opened = true;
          },
          unknownOutcome: () => maybeApplied,
        },
        first,
      );
    } catch (err) {
      if (TesseraError.isInstance(err) && err.code === 'SESSION_EXPIRED') {
        this.renewSession(partition, session);
        // Never applied under the old session: safe to run once more under the new one.
        if (!maybeApplied) return this.command(partition, type, name, op, input, key, options);
      }
      throw err;
    } finally {
      this.outstanding.delete(seq);
    }
  }

  /** Runs a query on `partition` at the requested consistency. */
  query(partition: number, type: string, name: string, op: string, input: unknown, key: string | null, options: RequestOptions = {}): Promise<Answer> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const consistency = options.consistency ?? this.opts.consistency;
    const leaderOnly = consistency === 'linearizable' || consistency === 'lease';
    return this.execute(partition, leaderOnly, options.timeoutMs, () => [0, 'query', partition, type, name, op, input, key, consistency, consistency === 'sequential' ? this.lastIndex[partition]! : 0]);
  }

  /**
   * Subscribes to a resource's events at its partition's leader (nodes refuse subscriptions on
   * followers). `onState` receives the resource's current state first and again after every
   * re-subscription (the connection dropped, or the serving replica restored a snapshot and ended
   * the subscription); `onEvent` receives each event once, in log order.
   */
  subscribe(partition: number, type: string, name: string, onEvent: (event: unknown, index: number) => void, onState: (state: unknown, index: number) => void): Subscription {
    if (this.closed) throw new ClientClosedError();
    const sub: Sub = { partition, type, name, onEvent, onState, conn: undefined, subId: 0, lastIndex: 0, stateIndex: 0, closed: false };
    this.subs.add(sub);
    void this.runSubscription(sub);
    return {
      close: () => {
        if (sub.closed) return;
        sub.closed = true;
        this.subs.delete(sub);
        if (sub.conn) {
          this.subsByConn.get(sub.conn)?.delete(sub.subId);
          if (!sub.conn.isClosed) sub.conn.request(['unsub', sub.subId]).catch(() => {});
        }
      },
    };
  }

  private async runSubscription(sub: Sub): Promise<void> {
    let backoff = this.opts.retry.initialMs;
    let attempt = 0;
    let redirects = 0;
    while (!sub.closed && !this.closed) {
      // Nodes serve subscriptions on the leader only (a NOT_LEADER answer names it when known).
      const nodeId = this.pickTarget(sub.partition, true, attempt++, true);
      const conn = nodeId === undefined ? undefined : this.connection(nodeId);
      if (conn) {
        const { id, answer } = conn.requestWithId(['sub', sub.partition, sub.type, sub.name]);
        let byId = this.subsByConn.get(conn);
        if (!byId) this.subsByConn.set(conn, (byId = new Map()));
        byId.set(id, sub);
        sub.conn = conn;
        sub.subId = id;
        try {
          const a = await this.withDeadline(conn, answer, this.opts.attemptTimeoutMs);
          if (sub.closed) return;
          if (a.index >= sub.lastIndex) {
            sub.lastIndex = a.index;
            sub.stateIndex = a.index;
            sub.onState(a.value, a.index);
          }
          return; // events flow; a lost connection or an ended subscription calls runSubscription again
        } catch (e) {
          byId.delete(id);
          sub.conn = undefined;
          if (e instanceof NotLeaderError || (TesseraError.isInstance(e) && e.code === 'NOT_LEADER')) {
            const leader = (e as NotLeaderError).leader;
            const known = leader !== undefined && leader !== nodeId && this.cmap.members.some((m) => m.id === leader);
            this.cmap.leaders[sub.partition] = known ? leader : null;
            if (known && redirects++ < 3) continue; // straight to the leader it named
          } else if (this.cmap.leaders[sub.partition] === nodeId) {
            this.cmap.leaders[sub.partition] = null;
          }
        }
      }
      await sleep(this.jitter(backoff));
      backoff = Math.min(backoff * 2, this.opts.retry.maxMs);
    }
  }

  /** The node ended a subscription (its replica skipped events by restoring a snapshot): make it again. */
  private onSubscriptionEnded(conn: NodeConnection, subId: number): void {
    const byId = this.subsByConn.get(conn);
    const sub = byId?.get(subId);
    if (!sub) return;
    byId!.delete(subId);
    sub.conn = undefined;
    if (!sub.closed && !this.closed) void this.runSubscription(sub);
  }

  private onEvent(conn: NodeConnection, subId: number, event: unknown, index: number): void {
    const sub = this.subsByConn.get(conn)?.get(subId);
    if (!sub || sub.closed) return;
    // Events at or below the state snapshot's index are in that state; older ones were seen through
    // another replica. One entry may emit several events (same index): all pass.
    if (index <= sub.stateIndex || index < sub.lastIndex) return;
    sub.lastIndex = index;
    sub.onEvent(event, index);
  }

  private ackBelow(): number {
    while (this.low < this.nextSeq && !this.outstanding.has(this.low)) this.low++;
    return this.low;
  }

  private renewSession(partition: number, expired: string): void {
    const ps = this.sessions[partition]!;
    if (ps.id !== expired) return;
    ps.epoch++;
    ps.id = `${this.sessionBase}.${ps.epoch}`;
    ps.opened = false;
    for (const fn of this.expiryListeners) fn(partition, expired);
  }

  /**
   * Runs a request with retries until it succeeds, fails for good, or its deadline passes. `body`
   * builds the message (element 0 is the slot for the request id). `first` is a first attempt
   * already made (and failed) by a caller's hot path: it is handled as this loop's own would be.
   */
  private async execute(
    partition: number,
    leaderOnly: boolean,
    timeoutMs: number | undefined,
    body: () => unknown[],
    hooks: { onAttemptFailed?: (e: Error) => void; onSuccess?: () => void; unknownOutcome?: () => boolean } = {},
    first?: FailedAttempt,
  ): Promise<Answer> {
    const deadline = (first?.startedAt ?? Date.now()) + (timeoutMs ?? this.opts.requestTimeoutMs);
    let backoff = this.opts.retry.initialMs;
    let attempt = first ? 1 : 0;
    let hint: string | undefined;
    let redirects = 0;
    let last: Error | undefined;
    if (!first) this.counters.requests++;
    for (;;) {
      if (this.closed) throw new ClientClosedError();
      let nodeId: string | undefined;
      let failure: { error: unknown } | undefined;
      if (first) {
        nodeId = first.nodeId;
        failure = { error: first.error };
        first = undefined;
      } else {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        nodeId = hint ?? this.pickTarget(partition, leaderOnly, attempt++, false);
        hint = undefined;
        const conn = nodeId === undefined ? undefined : this.connection(nodeId);
        if (conn && nodeId !== undefined) {
          this.counters.attempts++;
          try {
            const msg = body();
            const a = await new Promise<Answer>((resolve, reject) => conn.call(msg, Math.min(remaining, this.opts.attemptTimeoutMs), (e, x) => (e === undefined ? resolve(x!) : reject(e))));
            this.succeeded(partition, leaderOnly, nodeId, a);
            hooks.onSuccess?.();
            return a;
          } catch (e) {
            failure = { error: e };
          }
        }
      }
      if (failure && nodeId !== undefined) {
        const err = asError(failure.error);
        last = err;
        const code = TesseraError.isInstance(err) ? err.code : 'ERROR';
        this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
        hooks.onAttemptFailed?.(err);
        if (!TesseraError.isInstance(err) || !err.retryable) throw err;
        if (err instanceof NotLeaderError || err.code === 'NOT_LEADER') {
          const leader = (err as NotLeaderError).leader;
          this.cmap.leaders[partition] = leader ?? null;
          if (leader && leader !== nodeId && redirects++ < 3 && this.cmap.members.some((m) => m.id === leader)) {
            hint = leader;
            this.counters.redirects++;
            continue;
          }
          void this.refreshMap(nodeId);
        } else if (err.code === 'CONNECTION_LOST') {
          if (this.cmap.leaders[partition] === nodeId) this.cmap.leaders[partition] = null;
          void this.refreshMap(nodeId);
        } else if (err.code === 'WRONG_PARTITION') {
          await this.refreshMap(nodeId);
        }
      } else {
        void this.refreshMap(undefined);
      }
      this.counters.retries++;
      const wait = Math.min(this.jitter(backoff), deadline - Date.now());
      if (wait > 0) await sleep(wait);
      backoff = Math.min(backoff * 2, this.opts.retry.maxMs);
      redirects = 0;
    }
    const lastMsg = last?.message ?? 'no node could be tried';
    if (hooks.unknownOutcome?.()) throw new TimeoutError(`partition ${partition}: command not acknowledged in time; outcome unknown (last error: ${lastMsg})`);
    if (last && TesseraError.isInstance(last) && last.code !== 'TIMEOUT') throw last;
    throw new TimeoutError(`partition ${partition}: no answer in time (last error: ${lastMsg})`);
  }

  /** Bookkeeping after a successful attempt on `nodeId`. */
  private succeeded(partition: number, leaderOnly: boolean, nodeId: string, a: Answer): void {
    if (a.index > this.lastIndex[partition]!) this.lastIndex[partition] = a.index;
    if (leaderOnly) this.cmap.leaders[partition] = nodeId;
  }

  private jitter(ms: number): number {
    return ms / 2 + (Math.random() * ms) / 2;
  }

  /** Chooses the node for an attempt: the known leader, else the replicas in turn. */
  private pickTarget(partition: number, leaderOnly: boolean, attempt: number, preferLeader: boolean): string | undefined {
    const known = this.cmap.leaders[partition];
    if (leaderOnly && known && this.downUntil.size === 0) return known;
    const now = Date.now();
    for (const [a, t] of this.downUntil) if (t <= now) this.downUntil.delete(a);
    const up = (id: string) => {
      const addr = this.addressOf(id);
      return addr !== undefined && (this.downUntil.get(addr) ?? 0) <= now;
    };
    const replicas = this.cmap.replicas[partition] ?? [];
    const leader = this.cmap.leaders[partition];
    if ((leaderOnly || preferLeader) && leader && up(leader) && (attempt === 0 || leaderOnly)) return leader;
    const live = replicas.filter(up);
    const pool = live.length > 0 ? live : replicas;
    if (pool.length === 0) return undefined;
    const i = leaderOnly || preferLeader ? attempt : this.rr++;
    return pool[i % pool.length];
  }

  private addressOf(nodeId: string): string | undefined {
    return this.addresses.get(nodeId) ?? this.endpointOf.get(nodeId);
  }

  private connection(nodeId: string): NodeConnection | undefined {
    const addr = this.addressOf(nodeId);
    if (addr === undefined) return undefined;
    return this.connectionTo(addr);
  }

  private connectionTo(addr: string): NodeConnection {
    const c = this.conns.get(addr);
    if (c && !c.isClosed) return c;
    const conn = new NodeConnection({
      address: addr,
      transport: this.transport,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      maxFrameBytes: this.opts.maxFrameBytes,
      onEvent: (subId, event, index) => this.onEvent(conn, subId, event, index),
      onSubscriptionEnded: (subId) => this.onSubscriptionEnded(conn, subId),
      onClose: (closed) => this.onConnectionClosed(closed),
    });
    this.conns.set(addr, conn);
    return conn;
  }

  private onConnectionClosed(conn: NodeConnection): void {
    if (this.conns.get(conn.address) === conn) this.conns.delete(conn.address);
    if (this.closed) return;
    this.downUntil.set(conn.address, Date.now() + this.opts.retry.maxMs);
    const subs = this.subsByConn.get(conn);
    this.subsByConn.delete(conn);
    if (subs) for (const s of subs.values()) if (!s.closed) void this.runSubscription(s);
  }

  /** Waits for `p`, failing with TimeoutError after `ms` (the late answer is then ignored). */
  private withDeadline<T>(_conn: NodeConnection, p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e) => {
          clearTimeout(t);
          reject(asError(e));
        },
      );
    });
  }

  private applyMap(value: unknown, endpoint?: string): void {
    const m = clusterMapSchema.parse(value);
    if (this.opts.clusterId !== undefined && m.clusterId !== this.opts.clusterId) {
      throw new TesseraError('WRONG_CLUSTER', `endpoint ${endpoint ?? '?'} belongs to cluster ${m.clusterId}, not ${this.opts.clusterId}`);
    }
    if (this.cmap && m.partitions !== this.cmap.partitions) {
      throw new TesseraError('WRONG_PARTITION', `node ${m.nodeId} reports ${m.partitions} partitions, this client was set up with ${this.cmap.partitions}`);
    }
    if (endpoint !== undefined) this.endpointOf.set(m.nodeId, endpoint);
    this.addresses = new Map(m.members.filter((x) => x.address !== undefined).map((x) => [x.id, x.address!]));
    if (this.cmap) {
      // Keep leaders learned from answers where the node that was asked knows none.
      const leaders = m.leaders.map((l, i) => l ?? this.cmap.leaders[i] ?? null);
      this.cmap = { ...m, leaders };
    } else this.cmap = m;
  }

  /** Asks a node (preferably not `avoid`) for the current map; concurrent callers share one request. */
  private refreshMap(avoid: string | undefined): Promise<void> {
    if (this.refreshing || this.closed) return this.refreshing ?? Promise.resolve();
    this.refreshing = (async () => {
      const ids = this.cmap.members.map((m) => m.id).filter((id) => id !== avoid);
      if (avoid !== undefined) ids.push(avoid);
      const now = Date.now();
      for (const id of ids) {
        const addr = this.addressOf(id);
        if (addr === undefined || (this.downUntil.get(addr) ?? 0) > now) continue;
        const conn = this.connectionTo(addr);
        try {
          const a = await this.withDeadline(conn, conn.request(['map']), this.opts.attemptTimeoutMs);
          this.applyMap(a.value);
          return;
        } catch {
          // try the next node
        }
      }
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private keepAlive(): void {
    if (this.closed) return;
    for (let p = 0; p < this.sessions.length; p++) {
      const ps = this.sessions[p]!;
      if (!ps.opened) continue;
      const session = ps.id;
      this.execute(p, true, Math.floor(this.opts.sessionTimeoutMs / 3), () => [0, 'keepalive', p, session, false, this.opts.sessionTimeoutMs]).catch((err) => {
        if (TesseraError.isInstance(err) && err.code === 'SESSION_EXPIRED') this.renewSession(p, session);
      });
    }
  }

  /**
   * Closes the sessions (releasing this client's locks and candidacies at once rather than at
   * expiry), then every connection. Pending operations fail with ClientClosedError.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    for (const s of this.subs) s.closed = true;
    this.subs.clear();
    if (this.cmap && this.sessions.length > 0) {
      const closing = this.sessions
        .map((ps, p) => ({ ps, p }))
        .filter(({ ps }) => ps.opened)
        .map(({ ps, p }) => this.execute(p, true, 2_000, () => [0, 'close', p, ps.id]).catch(() => {}));
      await Promise.all(closing);
    }
    this.closed = true;
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}

export { SessionExpiredError };
