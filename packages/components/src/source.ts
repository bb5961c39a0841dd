/**
 * Sources: push messages into a network from outside, through the client. A push is routed like
 * an emit (stateless components run right here, in the pushing process) and resolves once every
 * resulting message was applied by its stateful partition: then its effects are replicated and
 * will be counted exactly once. Retries after timeouts, leader changes or refusals resend the
 * same tags, which the partitions drop if they already applied them.
 */
import { randomBytes } from 'node:crypto';
import type { TesseraClient } from '@tessera/client';
import { TimeoutError } from '@tessera/raft';
import { ClosedError, NotDeployedError } from './errors.js';
import { targets } from './grouping.js';
import type { Network, NetworkComponent, SourceDef } from './network.js';
import { placeNetwork, type NetworkPlacement } from './placement.js';
import { checkMessage, runStateless, seedOf, StatelessHandlerError, type Delivery } from './routing.js';
import { Sender } from './sender.js';
import { seededRandom } from './tags.js';

/** Options of {@link openSource}. */
export interface SourceOptions {
  /** Pushes not yet applied; `push` waits for a slot beyond this (backpressure). Default 1024. */
  readonly maxInFlight?: number;
  /** A push not applied within this time rejects with TimeoutError (outcome unknown). Default 60 s. */
  readonly timeoutMs?: number;
  /** Messages per deliver command. Default 256. */
  readonly maxBatch?: number;
  /** Deliver commands in flight per partition. Default 4. */
  readonly window?: number;
}

/** Options of one push. */
export interface PushOptions {
  /** The message's key (for `hash()` groupings; the handler sees it as `ctx.key`). */
  readonly key?: string;
}

/** Counters of a source. */
export interface SourceStats {
  readonly pushed: number;
  readonly applied: number;
  readonly failed: number;
  readonly inFlight: number;
  /** Deliver commands sent, retried, and refused because a partition's outbox was full. */
  readonly batches: number;
  readonly retries: number;
  readonly refused: number;
}

interface PushRecord {
  readonly seq: number;
  left: number;
  error: unknown;
  readonly deadline: number;
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** A source of a network: see {@link openSource}. */
export class Source {
  /** This source's origin id (`source:<id>`): partitions filter its duplicates under it. */
  readonly origin: string;
  private readonly def: SourceDef;
  private readonly target: NetworkComponent;
  private readonly placement: NetworkPlacement;
  private readonly sender: Sender;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private nextSeq = 1;
  private low = 1;
  private readonly open = new Map<number, PushRecord>();
  private readonly slots: (() => void)[] = [];
  private readonly drained: (() => void)[] = [];
  private readonly used = new Set<string>();
  private counts = { pushed: 0, applied: 0, failed: 0 };
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** @internal use {@link openSource}. */
  constructor(
    private readonly client: TesseraClient,
    private readonly net: Network,
    name: string,
    options: SourceOptions,
  ) {
    const def = net.sources.get(name);
    if (!def) throw new TypeError(`network ${net.name} has no source ${name} (sources: ${[...net.sources.keys()].join(', ') || 'none'})`);
    this.def = def;
    this.target = net.components.get(def.to.component)!;
    this.origin = `source:${randomBytes(9).toString('base64url')}`;
    this.placement = placeNetwork(net, client.clusterMap().partitions);
    this.maxInFlight = options.maxInFlight ?? 1024;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.sender = new Sender({
      client,
      placement: this.placement,
      origin: this.origin,
      originComponent: null,
      watermark: () => [this.watermark(), 0],
      ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
      ...(options.window !== undefined ? { window: options.window } : {}),
    });
  }

  private watermark(): number {
    while (this.low < this.nextSeq && !this.open.has(this.low)) this.low++;
    return this.low;
  }

  /**
   * Pushes a message. Resolves once every message it leads to (after the stateless components on
   * its way) was applied by its stateful partition; waits first while `maxInFlight` pushes are
   * pending. Rejects with InvalidMessageError if the message does not fit the port's schema, with
   * the handler's error if a stateless handler throws, with NotDeployedError if the network is not
   * deployed, and with TimeoutError (outcome unknown) after `timeoutMs`.
   */
  async push(message: unknown, options: PushOptions = {}): Promise<void> {
    if (this.closed) throw new ClosedError(`source ${this.def.name}`);
    const key = options.key ?? null;
    const msg = checkMessage(this.target.component.inputs.get(this.def.to.port)!, message, `${this.def.name} -> ${this.target.name}.${this.def.to.port}`);
    while (this.open.size >= this.maxInFlight) {
      await new Promise<void>((r) => this.slots.push(r));
      if (this.closed) throw new ClosedError(`source ${this.def.name}`);
    }
    const seq = this.nextSeq++;
    const tag = [seq];
    const createdAt = Date.now();
    const out: Delivery[] = [];
    const partitions = targets(this.def.grouping, msg, { key, partitions: this.target.partitions, seq, random: seededRandom(seedOf(`${this.origin}@${seq}`)) });
    try {
      for (const p of partitions) {
        if (this.target.stateful) out.push({ component: this.target, partition: p, message: [tag, this.def.to.port, key, msg, createdAt] });
        else runStateless(this.net, this.target, p, this.def.to.port, msg, key, tag, this.origin, createdAt, out);
      }
    } catch (err) {
      throw err instanceof StatelessHandlerError ? (err.cause ?? err) : err;
    }
    this.counts.pushed++;
    if (out.length === 0) {
      this.counts.applied++;
      return;
    }
    return new Promise<void>((resolve, reject) => {
      const rec: PushRecord = { seq, left: out.length, error: undefined, deadline: createdAt + this.timeoutMs, settled: false, resolve, reject };
      this.open.set(seq, rec);
      this.armTimer();
      for (const d of out) {
        this.used.add(`${d.component.name}/${d.partition}`);
        this.sender.send(d.component.name, d.partition, d.message, (err) => {
          if (err !== undefined && rec.error === undefined) rec.error = (err as { code?: string }).code === 'NOT_DEPLOYED' ? new NotDeployedError(`network ${this.net.name} is not deployed (${d.component.name}/${d.partition}: ${(err as Error).message})`) : err;
          if (--rec.left === 0) this.finish(rec);
        });
      }
    });
  }

  private finish(rec: PushRecord): void {
    this.open.delete(rec.seq);
    this.settle(rec, rec.error);
    const wake = this.slots.shift();
    if (wake) wake();
    if (this.open.size === 0) for (const w of this.drained.splice(0)) w();
  }

  private settle(rec: PushRecord, err: unknown): void {
    if (rec.settled) return;
    rec.settled = true;
    if (err === undefined) {
      this.counts.applied++;
      rec.resolve();
    } else {
      this.counts.failed++;
      rec.reject(err);
    }
  }

  /** One timer for all pushes: rejects those past their deadline (their messages may still arrive once). */
  private armTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const rec of this.open.values()) {
        if (rec.deadline > now) break; // records are in push order, deadlines increase
        if (!rec.settled) this.settle(rec, new TimeoutError(`push ${rec.seq} of source ${this.def.name} was not applied within ${this.timeoutMs} ms; outcome unknown`));
      }
      if (this.open.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }, Math.min(1_000, Math.max(10, Math.floor(this.timeoutMs / 4))));
    this.timer.unref();
  }

  /** Resolves when no push is pending (each was applied, or failed and its messages are no longer being sent). */
  flush(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise<void>((r) => this.drained.push(r));
  }

  stats(): SourceStats {
    return { ...this.counts, inFlight: this.open.size, ...this.sender.stats };
  }

  /**
   * Waits for pending pushes, then tells the partitions this source sent to that it is gone (they
   * drop its duplicate filter at once instead of after `sourceIdleMs`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    for (const wake of this.slots.splice(0)) wake();
    if (this.timer) clearInterval(this.timer);
    this.sender.close();
    await Promise.all(
      [...this.used].map((dest) => {
        const slash = dest.lastIndexOf('/');
        const place = this.placement.of(dest.slice(0, slash), Number(dest.slice(slash + 1)));
        return this.client.command(place.clusterPartition, this.placement.type, place.resource, 'forget', this.origin, null, { timeoutMs: 5_000 }).catch(() => {});
      }),
    );
  }
}

/**
 * Opens source `name` of a deployed network.
 *
 * ```ts
 * const lines = openSource(client, wordCount, 'lines');
 * await lines.push('the quick brown fox');
 * await lines.close();
 * ```
 */
export function openSource(client: TesseraClient, net: Network, name: string, options: SourceOptions = {}): Source {
  return new Source(client, net, name, options);
}
