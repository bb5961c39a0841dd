/**
 * Sends messages to stateful component partitions through the client: batched per receiving
 * partition (one `deliver` command, hence one log entry, per batch), at most `window` batches in
 * flight per receiver, retried until applied. Retrying is always safe: the receiver drops tags it
 * has applied. A receiver whose outbox is full refuses (`OUTBOX_FULL`); the batch waits with
 * backoff, the sender's queue grows, and whoever feeds the sender (a source's `push`, a
 * dispatcher reading an outbox) stops at its own bound: that is how backpressure travels upstream.
 */
import type { TesseraClient } from '@tessera/client';
import { TesseraError } from '@tessera/raft';
import { ClosedError } from './errors.js';
import type { WireMessage } from './outbox.js';
import type { NetworkPlacement } from './placement.js';

export interface SenderOptions {
  readonly client: TesseraClient;
  readonly placement: NetworkPlacement;
  /** `component/partition` of a stateful sender, `source:<id>` of a source. */
  readonly origin: string;
  /** The sending component (null for sources): receivers in the same cycle never refuse it. */
  readonly originComponent: string | null;
  /** The watermark sent with each batch to receiver `dest` (`component/partition`): no tag below it will ever be sent to it again. */
  watermark(dest: string): [number, number];
  /** Messages per deliver command. */
  readonly maxBatch?: number;
  /** Deliver commands in flight per receiving partition. */
  readonly window?: number;
  /** Backoff after a refusal or a failed attempt. */
  readonly retry?: { initialMs: number; maxMs: number };
  /** Timeout of one deliver command (the client retries within it). */
  readonly requestTimeoutMs?: number;
  /** Called for each failed attempt that will be retried (for logs and counters). */
  readonly onRetry?: (err: unknown, dest: string) => void;
}

/** Outcome callback of one message: `undefined` when applied (or found a duplicate), else why it was given up. */
export type Done = (err?: unknown) => void;

interface Pending {
  readonly msg: WireMessage;
  readonly done: Done;
}

interface Dest {
  readonly key: string;
  readonly clusterPartition: number;
  readonly resource: string;
  queue: Pending[];
  inflight: number;
  backoffMs: number;
  waitUntil: number;
  timer: NodeJS.Timeout | undefined;
}

/** Refusals after which a batch is retried; any other non-retryable error gives the messages up. */
const RETRY_CODES = new Set(['OUTBOX_FULL', 'TIMEOUT', 'CONNECTION_LOST', 'NOT_LEADER', 'BACKPRESSURE', 'PROPOSAL_DROPPED', 'WRONG_PARTITION', 'SESSION_EXPIRED', 'INTERNAL']);

export class Sender {
  private readonly dests = new Map<string, Dest>();
  private scheduled = false;
  private closed = false;
  private readonly maxBatch: number;
  private readonly window: number;
  private readonly retry: { initialMs: number; maxMs: number };
  /** Messages queued or in flight. */
  pending = 0;
  /** Counters: batches sent, retried attempts, refusals for a full outbox. */
  readonly stats = { batches: 0, retries: 0, refused: 0 };

  constructor(private readonly opts: SenderOptions) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.window = opts.window ?? 4;
    this.retry = opts.retry ?? { initialMs: 5, maxMs: 200 };
  }

  /** Queues a message for partition `partition` of stateful component `component`. */
  send(component: string, partition: number, msg: WireMessage, done: Done): void {
    if (this.closed) {
      done(new ClosedError('sender'));
      return;
    }
    const key = `${component}/${partition}`;
    let d = this.dests.get(key);
    if (!d) {
      const place = this.opts.placement.of(component, partition);
      d = { key, clusterPartition: place.clusterPartition, resource: place.resource, queue: [], inflight: 0, backoffMs: 0, waitUntil: 0, timer: undefined };
      this.dests.set(key, d);
    }
    d.queue.push({ msg, done });
    this.pending++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    const now = Date.now();
    for (const d of this.dests.values()) this.pump(d, now);
  }

  private pump(d: Dest, now: number): void {
    while (d.queue.length > 0 && d.inflight < this.window && d.timer === undefined) {
      if (now < d.waitUntil) {
        d.timer = setTimeout(() => {
          d.timer = undefined;
          this.pump(d, Date.now());
        }, d.waitUntil - now);
        return;
      }
      const batch = d.queue.length <= this.maxBatch ? d.queue : d.queue.slice(0, this.maxBatch);
      d.queue = d.queue.length <= this.maxBatch ? [] : d.queue.slice(this.maxBatch);
      this.sendBatch(d, batch);
    }
  }

  private sendBatch(d: Dest, batch: Pending[]): void {
    d.inflight++;
    this.stats.batches++;
    const [w0, w1] = this.opts.watermark(d.key);
    const input = [this.opts.origin, this.opts.originComponent, w0, w1, batch.map((p) => p.msg)];
    this.opts.client
      .command(d.clusterPartition, this.opts.placement.type, d.resource, 'deliver', input, null, this.opts.requestTimeoutMs !== undefined ? { timeoutMs: this.opts.requestTimeoutMs } : {})
      .then(
        () => {
          d.inflight--;
          d.backoffMs = 0;
          this.pending -= batch.length;
          for (const p of batch) p.done();
          this.pump(d, Date.now());
        },
        (err: unknown) => {
          d.inflight--;
          const code = TesseraError.isInstance(err) ? err.code : '';
          if (this.closed || !RETRY_CODES.has(code)) {
            this.pending -= batch.length;
            const e = this.closed ? new ClosedError('sender') : err;
            for (const p of batch) p.done(e);
            this.pump(d, Date.now());
            return;
          }
          // Back in front, in order: tags stay (nearly) increasing per receiver.
          this.stats.retries++;
          if (code === 'OUTBOX_FULL') this.stats.refused++;
          this.opts.onRetry?.(err, d.key);
          d.queue = batch.concat(d.queue);
          d.backoffMs = Math.min(this.retry.maxMs, d.backoffMs === 0 ? this.retry.initialMs : d.backoffMs * 2);
          d.waitUntil = Date.now() + d.backoffMs / 2 + (Math.random() * d.backoffMs) / 2;
          this.pump(d, Date.now());
        },
      );
  }

  /** Gives up every queued message (in-flight ones finish or fail on their own). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new ClosedError('sender');
    for (const d of this.dests.values()) {
      if (d.timer) clearTimeout(d.timer);
      d.timer = undefined;
      const q = d.queue;
      d.queue = [];
      this.pending -= q.length;
      for (const p of q) p.done(err);
    }
  }
}
