import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import {
  DiscoveryClosedError,
  DiscoveryConflictError,
  DiscoveryUnavailableError,
  parseNodeRecord,
  canonicalNodeRecord,
  silentLogger,
  systemClock,
  type Clock,
  type Discovery,
  type DiscoveryEvent,
  type DiscoveryListener,
  type Logger,
  type NodeRecord,
  type NodeRecordInput,
  type Timer,
} from '@tessera/raft';
import { keyspace, type Keyspace } from './keys.js';
import { parseEventMessage, parseSnapshot, parseStoredRecord } from './messages.js';
import type { ResolvedRedisDiscoveryOptions } from './options.js';
import { OutageLog } from './outage-log.js';
import { DEREGISTER_LUA, LIST_LUA, REGISTER_LUA } from './scripts.js';
import { NodeView } from './view.js';

/** What {@link RedisDiscovery.status} reports. Counters start at 0 when the instance is created. */
export interface RedisDiscoveryStatus {
  /** The command connection is up. */
  readonly connected: boolean;
  /** This instance has a registration it keeps alive. */
  readonly registered: boolean;
  /** Another process took over this instance's node id; this instance stopped refreshing it. */
  readonly displaced: boolean;
  /** Nodes in the local view. */
  readonly nodes: number;
  /** Full reads of the registry that succeeded / failed. */
  readonly syncs: number;
  readonly syncFailures: number;
  /** Refreshes of this node's registration that succeeded / failed (conflicts excluded). */
  readonly refreshes: number;
  readonly refreshFailures: number;
  /** Times the registration had to be written again because it was gone (Redis restarted, or it expired). */
  readonly reregistrations: number;
  /** Times the command connection became ready (the first connect included). */
  readonly connects: number;
  /** Connection errors reported by the Redis client (each failed reconnect attempt counts). */
  readonly connectionErrors: number;
  /** Valid change notifications received. */
  readonly notifications: number;
  /** Notifications and stored records that failed validation and were ignored. */
  readonly malformed: number;
  /** Subscribed to change notifications (otherwise changes arrive with the periodic reads only). */
  readonly subscribed: boolean;
}

interface Self {
  readonly record: NodeRecord;
  readonly json: string;
}

type RegisterStatus = 'same' | 'created' | 'updated' | 'replaced' | 'conflict';

/**
 * A {@link Discovery} backed by Redis. Create it with `redisDiscovery(options)`.
 *
 * Each node's record is a hash with a TTL, refreshed every `refreshMs`; a set indexes the ids.
 * Changes are published on a channel, so views update within a round trip; the whole registry is
 * also read every `syncIntervalMs`, which is how expiries are seen and missed notifications
 * repaired. Two connections are used: one for commands, one subscribed to the channel.
 *
 * When Redis is unreachable nothing is dropped from the view and nothing throws: refreshes and
 * reads are skipped, the client reconnects with backoff, the outage is logged at a decreasing
 * rate, and on reconnect the registration is written again and the view re-read. Nodes missing
 * from the registry right after a reconnect are kept for one TTL, the time every live node needs
 * to re-register, so a Redis restart does not make peers flap.
 */
export class RedisDiscovery implements Discovery {
  private readonly keys: Keyspace;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly view: NodeView;
  private readonly listeners = new Set<DiscoveryListener>();
  private readonly outage: OutageLog;
  private readonly subOutage: OutageLog;
  /** Identifies this instance's registration, so it never removes or refreshes someone else's. */
  private readonly token = randomUUID();
  private readonly timers: Timer[] = [];
  private readonly readyWaiters = new Set<{ resolve: () => void; reject: (err: Error) => void }>();
  private self: Self | undefined;
  private displaced = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Serializes register() and close(), so a close never races a registration it would miss. */
  private chain: Promise<unknown> = Promise.resolve();
  private connectedAt: number | undefined;
  private everSynced = false;
  private refreshing = false;
  private registering = false;
  private subscription: 'none' | 'pending' | 'done' = 'none';
  /** Invalid registry entries already reported (id -> reason). */
  private readonly reportedInvalid = new Map<string, string>();
  private syncing: Promise<void> | undefined;
  private counters = {
    syncs: 0,
    syncFailures: 0,
    refreshes: 0,
    refreshFailures: 0,
    reregistrations: 0,
    connects: 0,
    connectionErrors: 0,
    notifications: 0,
    malformed: 0,
  };

  /** @internal Use `redisDiscovery(options)`, which validates the options. */
  constructor(private readonly opts: ResolvedRedisDiscoveryOptions) {
    this.keys = keyspace(opts.keyPrefix, opts.clusterId);
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child?.({ component: 'discovery-redis', clusterId: opts.clusterId }) ?? opts.logger ?? silentLogger;
    this.view = new NodeView((e) => this.emit(e));
    const where = redactedUrl(opts.url);
    this.outage = new OutageLog(this.logger, this.clock, `redis ${where}`);
    this.subOutage = new OutageLog(this.logger, this.clock, `redis ${where} (notifications)`);

    this.cmd = new Redis(opts.url, clientOptions(opts, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectionName: `tessera-discovery:${opts.clusterId}` }));
    this.cmd.defineCommand('tesseraRegister', { numberOfKeys: 3, lua: REGISTER_LUA });
    this.cmd.defineCommand('tesseraDeregister', { numberOfKeys: 3, lua: DEREGISTER_LUA });
    this.cmd.defineCommand('tesseraList', { numberOfKeys: 2, lua: LIST_LUA });
    this.cmd.on('error', (err: Error) => {
      this.counters.connectionErrors++;
      this.outage.failure(err);
    });
    this.cmd.on('ready', () => this.onReady());

    // The subscriber queues SUBSCRIBE until it is connected (no command timeout: the wait may be
    // long) and the client resubscribes by itself after every reconnect.
    this.sub = new Redis(
      opts.url,
      clientOptions(opts, { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, connectionName: `tessera-discovery-sub:${opts.clusterId}` }),
    );
    this.sub.on('error', (err: Error) => this.subOutage.failure(err));
    this.sub.on('ready', () => {
      this.subOutage.recovered();
      this.subscribe();
      // Notifications published while the subscriber was away are lost: read everything again.
      if (this.connectedAt !== undefined) this.syncInBackground();
    });
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.keys.channel) this.onMessage(message);
    });
    this.subscribe();

    this.timers.push(this.clock.setInterval(opts.refreshMs, () => this.refreshInBackground()));
    this.timers.push(this.clock.setInterval(opts.syncIntervalMs, () => this.syncInBackground()));
  }

  async register(input: NodeRecordInput): Promise<void> {
    if (this.closed) throw new DiscoveryClosedError();
    const record = parseNodeRecord(input);
    return await this.serial(async () => {
      if (this.closed) throw new DiscoveryClosedError();
      if (this.self && this.self.record.id !== record.id) {
        throw new DiscoveryConflictError(`this discovery already registered node ${this.self.record.id}; cannot also register ${record.id}`);
      }
      await this.whenReady();
      const self: Self = { record, json: canonicalNodeRecord(record) };
      let status: RegisterStatus;
      // A refresh sent after this write but carrying the previous record would overwrite it.
      this.registering = true;
      try {
        status = await this.write(self, 'register');
      } catch (err) {
        throw new DiscoveryUnavailableError(`cannot register node ${record.id}: ${errorText(err)}`, { cause: err });
      } finally {
        this.registering = false;
      }
      if (status === 'replaced') {
        this.logger.warn({ node: record.id }, 'node id was registered by another process; taking it over (a restart, or two nodes with one id)');
      }
      this.self = self;
      this.displaced = false;
    });
  }

  async list(): Promise<NodeRecord[]> {
    if (this.closed) return this.view.records();
    try {
      if (!this.everSynced) await this.whenReady();
      // A read of its own rather than a share of one in flight: that one may have started before a
      // registration that completed before this call.
      if (this.cmd.status === 'ready') await this.readRegistry();
    } catch (err) {
      if (!this.everSynced && !this.closed) {
        throw err instanceof DiscoveryUnavailableError ? err : new DiscoveryUnavailableError(`cannot read the registry: ${errorText(err)}`, { cause: err });
      }
      // Otherwise the local view is the answer while Redis is unreachable (the failure is logged).
    }
    if (!this.everSynced && !this.closed) throw new DiscoveryUnavailableError(`redis ${redactedUrl(this.opts.url)} is not reachable`);
    return this.view.records();
  }

  resolve(id: string): NodeRecord | undefined {
    return this.view.get(id);
  }

  watch(listener: DiscoveryListener): () => void {
    if (this.closed) return () => {};
    const entry: DiscoveryListener = (e) => listener(e);
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  /** Connection state, counters and whether this instance still holds its registration. */
  status(): RedisDiscoveryStatus {
    return {
      connected: this.cmd.status === 'ready',
      registered: this.self !== undefined && !this.displaced && !this.closed,
      displaced: this.displaced,
      nodes: this.view.size,
      subscribed: this.subscription === 'done' && this.sub.status === 'ready',
      ...this.counters,
    };
  }

  async close(): Promise<void> {
    if (this.closing) return await this.closing;
    this.closed = true;
    this.listeners.clear();
    for (const t of this.timers.splice(0)) t.cancel();
    for (const w of [...this.readyWaiters]) w.reject(new DiscoveryClosedError());
    this.closing = this.serial(async () => {
      const self = this.self;
      if (self && !this.displaced && this.cmd.status === 'ready') {
        try {
          const k = this.keys;
          await this.cmd.tesseraDeregister(k.meta, k.index, k.node(self.record.id), randomUUID(), self.record.id, this.token, k.channel);
        } catch (err) {
          // Not fatal: the registration expires after its TTL.
          this.logger.warn({ node: self.record.id, error: errorText(err) }, 'could not deregister; the registration will expire');
        }
      }
      await this.syncing?.catch(() => {});
      await Promise.all([disconnect(this.cmd), disconnect(this.sub)]);
    });
    await this.closing;
  }

  /** Subscribes to the notifications unless subscribed (or subscribing) already. */
  private subscribe(): void {
    if (this.subscription !== 'none' || this.closed) return;
    this.subscription = 'pending';
    this.sub.subscribe(this.keys.channel).then(
      () => {
        this.subscription = 'done';
      },
      (err: unknown) => {
        this.subscription = 'none'; // tried again on the next connect
        if (!this.closed) this.logger.error({ error: errorText(err) }, 'cannot subscribe to discovery notifications; relying on periodic reads');
      },
    );
  }

  private onReady(): void {
    this.counters.connects++;
    this.connectedAt = this.clock.now();
    this.outage.recovered();
    for (const w of [...this.readyWaiters]) w.resolve();
    if (this.closed) return;
    // Whatever happened while we were away (Redis restarted and lost our key, our key expired),
    // put the registration back first, then read the registry.
    void this.refresh()
      .catch(() => {})
      .then(() => this.syncInBackground());
  }

  private onMessage(raw: string): void {
    if (this.closed) return;
    const parsed = parseEventMessage(raw);
    if ('error' in parsed) {
      this.counters.malformed++;
      this.logger.warn({ error: parsed.error }, 'ignoring a malformed discovery notification');
      return;
    }
    const m = parsed.message;
    if (m.t === 'down') {
      this.counters.notifications++;
      this.view.down(m.e, m.r, m.id);
      return;
    }
    const parsedRecord = parseStoredRecord(m.id, m.rec);
    if ('error' in parsedRecord) {
      this.counters.malformed++;
      this.logger.warn({ node: m.id, error: parsedRecord.error }, 'ignoring a notification with an invalid node record');
      return;
    }
    const record = parsedRecord.record;
    this.counters.notifications++;
    this.view.up(m.e, m.r, m.k, record);
  }

  /** Writes this node's record; applies the result to the local view. */
  private async write(self: Self, mode: 'register' | 'refresh'): Promise<RegisterStatus> {
    const k = this.keys;
    const id = self.record.id;
    const reply = (await this.cmd.tesseraRegister(k.meta, k.index, k.node(id), randomUUID(), id, this.token, self.json, String(this.opts.ttlMs), mode, k.channel)) as unknown;
    const [epoch, status, rev] = Array.isArray(reply) ? reply.map((v) => String(v)) : [];
    if (!epoch || !status || rev === undefined) throw new Error('unexpected reply to the register script');
    if (status !== 'conflict') this.view.up(epoch, Number(rev), this.token, self.record);
    return status as RegisterStatus;
  }

  /** Renews the registration (if any). Never throws for Redis trouble; counts and logs it. */
  private async refresh(): Promise<void> {
    const self = this.self;
    if (!self || this.displaced || this.closed || this.refreshing || this.registering || this.cmd.status !== 'ready') return;
    this.refreshing = true;
    try {
      const status = await this.write(self, 'refresh');
      if (this.self !== self) return; // re-registered meanwhile; that write wins
      this.counters.refreshes++;
      if (status === 'created') {
        this.counters.reregistrations++;
        this.logger.info({ node: self.record.id }, 're-registered: the registration was gone (Redis restarted or it expired)');
      } else if (status === 'conflict') {
        this.counters.refreshes--;
        this.displaced = true;
        this.logger.error(
          { node: self.record.id },
          'node id is now registered by another process; this instance stops refreshing it (a duplicate node id?). Call register() to take it back.',
        );
      }
    } catch (err) {
      if (!this.closed) {
        this.counters.refreshFailures++;
        this.outage.failure(err);
      }
    } finally {
      this.refreshing = false;
    }
  }

  private refreshInBackground(): void {
    void this.refresh().catch((err: unknown) => this.logger.error({ error: errorText(err) }, 'discovery refresh failed unexpectedly'));
  }

  /** Reads the whole registry and applies it to the view. Failures are counted, logged and rethrown. */
  private async readRegistry(): Promise<void> {
    try {
      const k = this.keys;
      const reply = (await this.cmd.tesseraList(k.meta, k.index, randomUUID(), k.nodePrefix)) as unknown;
      const snapshot = parseSnapshot(reply);
      for (const bad of snapshot.invalid) {
        this.counters.malformed++;
        // Every read meets the same bad entry again: say so once per entry and reason.
        if (this.reportedInvalid.get(bad.id) === bad.reason) continue;
        this.reportedInvalid.set(bad.id, bad.reason);
        this.logger.warn({ node: bad.id, error: bad.reason }, 'skipping an invalid node registration');
      }
      if (this.reportedInvalid.size > 0) {
        const still = new Set(snapshot.invalid.map((b) => b.id));
        for (const id of [...this.reportedInvalid.keys()]) if (!still.has(id)) this.reportedInvalid.delete(id);
      }
      if (this.closed) return;
      // Right after a reconnect, live nodes may not have re-registered yet (Redis restarted empty):
      // keep nodes missing from the registry until each has had a TTL to come back.
      const inGrace = this.connectedAt !== undefined && this.clock.now() < this.connectedAt + this.opts.ttlMs && this.counters.connects > 1;
      const selfId = this.self && !this.displaced ? this.self.record.id : undefined;
      this.view.apply(snapshot, (id) => inGrace || id === selfId);
      this.everSynced = true;
      this.counters.syncs++;
    } catch (err) {
      if (!this.closed) {
        this.counters.syncFailures++;
        this.outage.failure(err);
      }
      throw err;
    }
  }

  /** The periodic read; at most one at a time. */
  private async sync(): Promise<void> {
    if (this.syncing) return await this.syncing;
    this.syncing = this.readRegistry();
    try {
      await this.syncing;
    } finally {
      this.syncing = undefined;
    }
  }

  private syncInBackground(): void {
    if (this.closed || this.cmd.status !== 'ready') return;
    void this.sync().catch(() => {
      // Counted and logged by sync(); the next interval tries again.
    });
  }

  /** Resolves once the command connection is ready, or rejects after connectTimeoutMs. */
  private async whenReady(): Promise<void> {
    if (this.closed) throw new DiscoveryClosedError();
    if (this.cmd.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          timer.cancel();
          this.readyWaiters.delete(waiter);
          resolve();
        },
        reject: (err: Error) => {
          timer.cancel();
          this.readyWaiters.delete(waiter);
          reject(err);
        },
      };
      const timer = this.clock.setTimer(this.opts.connectTimeoutMs, () =>
        waiter.reject(new DiscoveryUnavailableError(`redis ${redactedUrl(this.opts.url)} not reachable within ${this.opts.connectTimeoutMs} ms`)),
      );
      this.readyWaiters.add(waiter);
    });
  }

  private async serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return await run;
  }

  private emit(event: DiscoveryEvent): void {
    if (this.closed) return;
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.logger.error({ error: errorText(err), event: event.type, node: event.node.id }, 'discovery listener threw');
      }
    }
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tesseraRegister(...args: string[]): Promise<unknown>;
    tesseraDeregister(...args: string[]): Promise<unknown>;
    tesseraList(...args: string[]): Promise<unknown>;
  }
}

/** A socket asked to close (FIN sent) is destroyed if it has not closed after this long. */
const DISCONNECT_GRACE_MS = 100;

function clientOptions(o: ResolvedRedisDiscoveryOptions, extra: Partial<RedisOptions>): RedisOptions {
  const out: RedisOptions = {
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.commandTimeoutMs,
    autoResendUnfulfilledCommands: false,
    // How long a closing socket may take to close by itself before it is destroyed.
    disconnectTimeout: DISCONNECT_GRACE_MS,
    retryStrategy: (times) => {
      const delay = Math.min(o.reconnect.maxMs, o.reconnect.initialMs * 2 ** Math.min(times - 1, 20));
      return Math.max(1, Math.round(delay / 2 + (Math.random() * delay) / 2));
    },
    ...extra,
  };
  if (o.username !== undefined) out.username = o.username;
  if (o.password !== undefined) out.password = o.password;
  if (o.db !== undefined) out.db = o.db;
  if (o.tls) {
    const { ca, cert, key, servername, rejectUnauthorized } = o.tls;
    out.tls = {
      rejectUnauthorized,
      ...(ca !== undefined && { ca: Array.isArray(ca) ? ca.map(pemValue) : pemValue(ca) }),
      ...(cert !== undefined && key !== undefined && { cert: pemValue(cert), key: pemValue(key) }),
      ...(servername !== undefined && { servername }),
    };
  }
  return out;
}

function pemValue(v: string | Uint8Array): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Closes a client and waits until its socket is gone, so close() leaves nothing behind. */
async function disconnect(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'reconnecting') {
    // Between reconnect attempts the socket is already closed: disconnect() cancels the pending
    // attempt, no 'end' event follows, and the client still arms its disconnect timer on the dead
    // socket (nothing will clear it). Wait it out, so that nothing is left running after close().
    client.disconnect(false);
    await new Promise((resolve) => setTimeout(resolve, DISCONNECT_GRACE_MS + 1));
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  client.disconnect(false);
  await ended;
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
