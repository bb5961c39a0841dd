/**
 * Typed handles on the built-in resources and on user-defined ones. A handle is cheap: it holds
 * a name and routes each call through the client.
 */
import { TimeoutError } from '@tessera/raft';
import type { RequestOptions, Subscription, TesseraClient } from './client.js';
import { SessionExpiredError } from './errors.js';

/** Built-in resource type names (the `type` field of the protocol). */
export const BuiltinType = { Map: 'map', Counter: 'counter', Lock: 'lock', Election: 'election' } as const;

/** A map whose entries are spread over all partitions by key. Values are any MessagePack value. */
export class MapHandle<V = unknown> {
  constructor(private readonly client: TesseraClient, readonly name: string) {}

  private p(key: string): number {
    return this.client.partitionOf(this.name, key);
  }

  /** The value of `key`, or null. */
  async get(key: string, options?: RequestOptions): Promise<V | null> {
    return (await this.client.query(this.p(key), 'map', this.name, 'get', null, key, options)).value as V | null;
  }

  /** Sets `key` to `value`. */
  async set(key: string, value: V, options?: RequestOptions): Promise<void> {
    await this.client.command(this.p(key), 'map', this.name, 'set', value, key, options);
  }

  /** Sets `key` to `value` and returns the previous value (or null). */
  async getAndSet(key: string, value: V, options?: RequestOptions): Promise<V | null> {
    return (await this.client.command(this.p(key), 'map', this.name, 'getAndSet', value, key, options)).value as V | null;
  }

  /** Removes `key`; true if it was present. */
  async delete(key: string, options?: RequestOptions): Promise<boolean> {
    return (await this.client.command(this.p(key), 'map', this.name, 'delete', null, key, options)).value as boolean;
  }

  /** Sets `key` to `next` if its value deep-equals `expected` (null: if absent). True if it did. */
  async compareAndSet(key: string, expected: V | null, next: V, options?: RequestOptions): Promise<boolean> {
    return (await this.client.command(this.p(key), 'map', this.name, 'cas', [expected, next], key, options)).value as boolean;
  }

  /**
   * Entries whose key starts with `prefix`, sorted by key (UTF-16 code unit order), at most `limit`.
   * Asks every partition (in parallel) at the requested consistency.
   */
  async scan(prefix = '', options: RequestOptions & { limit?: number } = {}): Promise<[string, V][]> {
    const limit = options.limit ?? 1000;
    const parts = await Promise.all(
      Array.from({ length: this.client.clusterMap().partitions }, (_, p) => this.client.query(p, 'map', this.name, 'scan', { prefix, limit }, null, options)),
    );
    const all = parts.flatMap((a) => a.value as [string, V][]);
    all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return all.slice(0, limit);
  }

  /** Number of entries (sum over partitions). */
  async size(options?: RequestOptions): Promise<number> {
    const parts = await Promise.all(Array.from({ length: this.client.clusterMap().partitions }, (_, p) => this.client.query(p, 'map', this.name, 'size', null, null, options)));
    return parts.reduce((n, a) => n + (a.value as number), 0);
  }
}

/** A 64-bit-float counter held by one partition (integers stay exact up to 2^53). */
export class CounterHandle {
  constructor(private readonly client: TesseraClient, readonly name: string) {}

  private get partition(): number {
    return this.client.partitionOf(this.name);
  }

  async get(options?: RequestOptions): Promise<number> {
    return (await this.client.query(this.partition, 'counter', this.name, 'get', null, null, options)).value as number;
  }

  /** Adds `delta` (may be negative) and returns the new value. */
  async add(delta: number, options?: RequestOptions): Promise<number> {
    return (await this.client.command(this.partition, 'counter', this.name, 'add', delta, null, options)).value as number;
  }

  increment(options?: RequestOptions): Promise<number> {
    return this.add(1, options);
  }

  decrement(options?: RequestOptions): Promise<number> {
    return this.add(-1, options);
  }

  /** Sets the value and returns the previous one. */
  async set(value: number, options?: RequestOptions): Promise<number> {
    return (await this.client.command(this.partition, 'counter', this.name, 'set', value, null, options)).value as number;
  }

  async compareAndSet(expected: number, next: number, options?: RequestOptions): Promise<boolean> {
    return (await this.client.command(this.partition, 'counter', this.name, 'cas', [expected, next], null, options)).value as boolean;
  }
}

/** A held lock. `token` is a fencing token: strictly greater for every later holder of the lock. */
export interface LockLease {
  readonly token: number;
  /** Releases the lock if this lease still holds it; false if it was already lost or released. */
  release(): Promise<boolean>;
}

/** Current state of a lock. */
export interface LockState {
  readonly holder: string | null;
  readonly token: number | null;
  readonly waiting: number;
}

/** A lock event, delivered to {@link LockHandle.watch}. */
export type LockEvent =
  | { readonly kind: 'acquired'; readonly holder: string; readonly token: number }
  | { readonly kind: 'released'; readonly holder: string; readonly token: number; readonly reason: 'release' | 'expired' | 'closed' | 'cancel' };

/**
 * A distributed lock. Holders are sessions: the lock is released when the holder releases it,
 * closes its client, or its session expires. Waiters get it in request order.
 */
export class LockHandle {
  constructor(private readonly client: TesseraClient, readonly name: string) {}

  private get partition(): number {
    return this.client.partitionOf(this.name);
  }

  private lease(token: number): LockLease {
    return { token, release: () => this.release(token) };
  }

  /** Acquires the lock, waiting up to `timeoutMs` (default: the client's request timeout) in line. */
  async acquire(options: { timeoutMs?: number } = {}): Promise<LockLease> {
    const p = this.partition;
    const me = () => this.client.sessionId(p);
    let settle!: (v: { token?: number; err?: Error }) => void;
    const granted = new Promise<{ token?: number; err?: Error }>((r) => (settle = r));
    const sub = this.client.subscribe(
      p,
      'lock',
      this.name,
      (ev) => {
        const e = ev as LockEvent;
        if (e.kind === 'acquired' && e.holder === me()) settle({ token: e.token });
      },
      (state) => {
        const s = state as LockState;
        if (s.holder !== null && s.holder === me() && s.token !== null) settle({ token: s.token });
      },
    );
    const stopExpiry = this.client.onSessionExpired((part) => {
      if (part === p) settle({ err: new SessionExpiredError(`session expired while waiting for lock ${this.name}`) });
    });
    const timeoutMs = options.timeoutMs ?? 15_000;
    const timer = setTimeout(() => settle({ err: new TimeoutError(`lock ${this.name} not acquired within ${timeoutMs} ms`) }), timeoutMs);
    try {
      const r = (await this.client.command(p, 'lock', this.name, 'acquire', { wait: true }, null)).value as { acquired: boolean; token: number | null };
      if (r.acquired && r.token !== null) return this.lease(r.token);
      const g = await granted;
      if (g.token !== undefined) return this.lease(g.token);
      // Leave the line (and give the lock back if it reached us meanwhile).
      await this.client.command(p, 'lock', this.name, 'cancel', null, null).catch(() => {});
      throw g.err!;
    } finally {
      clearTimeout(timer);
      stopExpiry();
      sub.close();
    }
  }

  /** Acquires the lock if it is free; undefined if someone else holds it. */
  async tryAcquire(): Promise<LockLease | undefined> {
    const r = (await this.client.command(this.partition, 'lock', this.name, 'acquire', { wait: false }, null)).value as { acquired: boolean; token: number | null };
    return r.acquired && r.token !== null ? this.lease(r.token) : undefined;
  }

  /** Releases the lock if this client holds it (with `token`, only that holding). */
  async release(token?: number): Promise<boolean> {
    return (await this.client.command(this.partition, 'lock', this.name, 'release', token ?? null, null)).value as boolean;
  }

  async state(options?: RequestOptions): Promise<LockState> {
    return (await this.client.query(this.partition, 'lock', this.name, 'state', null, null, options)).value as LockState;
  }

  /** Calls `listener` with the current state, then with every acquire and release. */
  watch(listener: (event: LockEvent | ({ kind: 'state' } & LockState)) => void): Subscription {
    return this.client.subscribe(
      this.partition,
      'lock',
      this.name,
      (ev) => listener(ev as LockEvent),
      (state) => listener({ kind: 'state', ...(state as LockState) }),
    );
  }
}

/** Who leads an election. `term` increases with every change of leader. */
export interface ElectionState {
  readonly leader: string | null;
  readonly session: string | null;
  readonly term: number;
  readonly candidates: readonly string[];
}

export type ElectionEvent =
  | { readonly kind: 'elected'; readonly leader: string; readonly session: string; readonly term: number }
  | { readonly kind: 'vacant'; readonly term: number };

/**
 * A leader election. Candidates campaign with an id; the first becomes leader, the others wait in
 * line. The leader resigns, closes its client, or loses its session and the next candidate leads.
 */
export class ElectionHandle {
  constructor(private readonly client: TesseraClient, readonly name: string) {}

  private get partition(): number {
    return this.client.partitionOf(this.name);
  }

  /** Joins the election as `candidate` and resolves once elected (or rejects after `timeoutMs`, leaving the line). */
  async campaign(candidate: string, options: { timeoutMs?: number } = {}): Promise<{ term: number }> {
    const p = this.partition;
    const me = () => this.client.sessionId(p);
    let settle!: (v: { term?: number; err?: Error }) => void;
    const elected = new Promise<{ term?: number; err?: Error }>((r) => (settle = r));
    const sub = this.client.subscribe(
      p,
      'election',
      this.name,
      (ev) => {
        const e = ev as ElectionEvent;
        if (e.kind === 'elected' && e.session === me()) settle({ term: e.term });
      },
      (state) => {
        const s = state as ElectionState;
        if (s.session !== null && s.session === me()) settle({ term: s.term });
      },
    );
    const stopExpiry = this.client.onSessionExpired((part) => {
      if (part === p) settle({ err: new SessionExpiredError(`session expired while campaigning in ${this.name}`) });
    });
    const timeoutMs = options.timeoutMs ?? 15_000;
    const timer = setTimeout(() => settle({ err: new TimeoutError(`not elected in ${this.name} within ${timeoutMs} ms`) }), timeoutMs);
    try {
      const r = (await this.client.command(p, 'election', this.name, 'campaign', { candidate }, null)).value as ElectionState;
      if (r.session === me()) return { term: r.term };
      const g = await elected;
      if (g.term !== undefined) return { term: g.term };
      await this.client.command(p, 'election', this.name, 'resign', null, null).catch(() => {});
      throw g.err!;
    } finally {
      clearTimeout(timer);
      stopExpiry();
      sub.close();
    }
  }

  /** Leaves the election (handing leadership to the next candidate if this client leads). */
  async resign(): Promise<boolean> {
    return (await this.client.command(this.partition, 'election', this.name, 'resign', null, null)).value as boolean;
  }

  async leader(options?: RequestOptions): Promise<ElectionState> {
    return (await this.client.query(this.partition, 'election', this.name, 'leader', null, null, options)).value as ElectionState;
  }

  /** Calls `listener` with the current state, then with every change of leader. */
  watch(listener: (event: ElectionEvent | ({ kind: 'state' } & ElectionState)) => void): Subscription {
    return this.client.subscribe(
      this.partition,
      'election',
      this.name,
      (ev) => listener(ev as ElectionEvent),
      (state) => listener({ kind: 'state', ...(state as ElectionState) }),
    );
  }
}

/** A handle on a user-defined resource type (see `defineResource` in `@tessera/partitions`). */
export class ResourceHandle {
  constructor(
    private readonly client: TesseraClient,
    readonly type: string,
    readonly name: string,
    readonly keyed: boolean,
  ) {}

  private route(key: string | undefined): { p: number; key: string | null } {
    if (this.keyed && key === undefined) throw new TypeError(`resource ${this.type} ${this.name} is keyed: pass options.key`);
    if (!this.keyed && key !== undefined) throw new TypeError(`resource ${this.type} ${this.name} is not keyed: options.key is not allowed`);
    return { p: this.client.partitionOf(this.name, key), key: key ?? null };
  }

  /** Runs command `op` (exactly once) and returns its result. */
  async command<T = unknown>(op: string, input: unknown, options: RequestOptions & { key?: string } = {}): Promise<T> {
    const { p, key } = this.route(options.key);
    return (await this.client.command(p, this.type, this.name, op, input, key, options)).value as T;
  }

  /** Runs query `op` at the requested consistency. */
  async query<T = unknown>(op: string, input: unknown, options: RequestOptions & { key?: string } = {}): Promise<T> {
    const { p, key } = this.route(options.key);
    return (await this.client.query(p, this.type, this.name, op, input, key, options)).value as T;
  }

  /** Keyed resources: runs query `op` on every partition and returns the answers in partition order. */
  async queryAll<T = unknown>(op: string, input: unknown, options: RequestOptions = {}): Promise<T[]> {
    const n = this.client.clusterMap().partitions;
    const answers = await Promise.all(Array.from({ length: n }, (_, p) => this.client.query(p, this.type, this.name, op, input, null, options)));
    return answers.map((a) => a.value as T);
  }

  /** Subscribes to the resource's events (non-keyed resources). */
  subscribe(onEvent: (event: unknown, index: number) => void, onState: (state: unknown, index: number) => void = () => {}): Subscription {
    const { p } = this.route(undefined);
    return this.client.subscribe(p, this.type, this.name, onEvent, onState);
  }
}
