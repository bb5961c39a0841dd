/**
 * One connection from a client to one node: requests carry ids, responses may arrive in any
 * order, and everything queued in one event-loop turn is written as one frame.
 */
import type { Duplex } from 'node:stream';
import { FrameError, TimeoutError } from '@tessera/raft';
import { ConnectionLostError } from './errors.js';
import { FrameDecoder, encodeFrame } from './protocol/frame.js';
import { coalesceCommands, ResponseKind, wireErrorSchema, type WireError } from './protocol/messages.js';

/** A successful answer: the value and the log index (commands) or applied index (queries) it reflects. */
export interface Answer {
  readonly value: unknown;
  readonly index: number;
}

/** Receives the outcome of one request: an answer, or a WireError / ConnectionLostError / TimeoutError. */
export type AnswerCallback = (err: WireError | Error | undefined, answer: Answer | undefined) => void;

interface Waiter {
  readonly done: AnswerCallback;
  /** Date.now() after which the request fails with TimeoutError (Infinity: never). */
  readonly deadline: number;
}

/** Granularity of request deadlines: one sweep timer per connection instead of a timer per request. */
const SWEEP_MS = 25;

/** Opens a byte stream to a node's client address ("host:port"); see `tcp()` and `tls()`. */
export type ClientTransport = (address: string) => Duplex;

export interface NodeConnectionOptions {
  readonly address: string;
  readonly transport: ClientTransport;
  readonly connectTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly onEvent: (subscriptionId: number, event: unknown, index: number) => void;
  /** The node ended a subscription (see ResponseKind.SubscriptionEnded): the client subscribes again. */
  readonly onSubscriptionEnded: (subscriptionId: number) => void;
  readonly onClose: (conn: NodeConnection, err: Error) => void;
}

export class NodeConnection {
  readonly address: string;
  private readonly socket: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly waiting = new Map<number, Waiter>();
  private outbox: unknown[][] = [];
  private flushScheduled = false;
  private nextId = 1;
  private connected = false;
  private closedWith: Error | undefined;
  private readonly connectTimer: NodeJS.Timeout;

  constructor(private readonly opts: NodeConnectionOptions) {
    this.address = opts.address;
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    this.socket = opts.transport(opts.address);
    this.connectTimer = setTimeout(() => this.fail(new ConnectionLostError(`connecting to ${this.address} timed out`)), opts.connectTimeoutMs);
    const onConnect = () => {
      clearTimeout(this.connectTimer);
      this.connected = true;
      this.flush();
    };
    this.socket.once('connect', onConnect);
    this.socket.once('secureConnect', onConnect);
    this.socket.on('data', (d: Buffer) => {
      try {
        this.decoder.push(d, (msgs) => this.onMessages(msgs));
      } catch (err) {
        this.fail(err as Error);
      }
    });
    this.socket.on('error', (err) => this.fail(new ConnectionLostError(`connection to ${this.address}: ${err.message}`, { cause: err })));
    this.socket.on('close', () => this.fail(new ConnectionLostError(`connection to ${this.address} closed`)));
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /**
   * Sends `[id, ...body]` and resolves with the answer; rejects with a WireError, a
   * ConnectionLostError, or a TimeoutError after `timeoutMs` (a late answer is then ignored).
   */
  request(body: unknown[], timeoutMs = Infinity): Promise<Answer> {
    body.unshift(0);
    return new Promise((resolve, reject) => this.call(body, timeoutMs, (err, a) => (err === undefined ? resolve(a!) : reject(err))));
  }

  /**
   * The callback form of {@link request} (no promise: the command hot path). `msg[0]` is a slot
   * for the request id, which this fills in; `done` is called exactly once.
   */
  call(msg: unknown[], timeoutMs: number, done: AnswerCallback): void {
    if (this.closedWith) {
      done(this.closedWith, undefined);
      return;
    }
    const id = this.nextId++;
    msg[0] = id;
    this.waiting.set(id, { done, deadline: timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs });
    if (timeoutMs !== Infinity) this.armSweep();
    this.send(msg);
  }

  private sweepTimer: NodeJS.Timeout | undefined;

  private armSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => {
      if (this.waiting.size === 0) {
        clearInterval(this.sweepTimer);
        this.sweepTimer = undefined;
        return;
      }
      const now = Date.now();
      for (const [id, w] of this.waiting) {
        if (w.deadline > now) continue;
        this.waiting.delete(id);
        w.done(new TimeoutError(`no answer from ${this.address} in time`), undefined);
      }
    }, SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Like {@link request} but also returns the id (subscriptions are named by their request id). */
  requestWithId(body: unknown[]): { id: number; answer: Promise<Answer> } {
    const id = this.nextId++;
    if (this.closedWith) return { id, answer: Promise.reject(this.closedWith) };
    const answer = new Promise<Answer>((resolve, reject) => {
      this.waiting.set(id, { done: (err, a) => (err === undefined ? resolve(a!) : reject(err)), deadline: Infinity });
      this.send([id, ...body]);
    });
    return { id, answer };
  }

  private send(msg: unknown[]): void {
    this.outbox.push(msg);
    if (!this.flushScheduled && this.connected) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.closedWith || !this.connected) return;
    const msgs = this.outbox;
    this.outbox = [];
    this.socket.write(encodeFrame(coalesceCommands(msgs)));
  };

  private onMessages(msgs: unknown[]): void {
    for (const m of msgs) {
      if (!Array.isArray(m) || typeof m[0] !== 'number') throw new FrameError('malformed response');
      const kind = m[1];
      if (kind === ResponseKind.Event) {
        this.opts.onEvent(m[2] as number, m[3], typeof m[4] === 'number' ? m[4] : 0);
        continue;
      }
      if (kind === ResponseKind.SubscriptionEnded) {
        if (typeof m[2] !== 'number') throw new FrameError('malformed response');
        this.opts.onSubscriptionEnded(m[2]);
        continue;
      }
      if (kind === ResponseKind.OkMany) {
        const ids = m[2];
        const values = m[3];
        const index = typeof m[4] === 'number' ? m[4] : 0;
        if (!Array.isArray(ids) || !Array.isArray(values) || values.length !== ids.length) throw new FrameError('malformed response');
        for (let i = 0; i < ids.length; i++) {
          const w = this.waiting.get(ids[i]);
          if (!w) continue;
          this.waiting.delete(ids[i]);
          w.done(undefined, { value: values[i], index });
        }
        continue;
      }
      const w = this.waiting.get(m[0]);
      if (!w) continue; // answer to a request we stopped waiting for
      this.waiting.delete(m[0]);
      if (kind === ResponseKind.Ok) w.done(undefined, { value: m[2], index: typeof m[3] === 'number' ? m[3] : 0 });
      else if (kind === ResponseKind.Error) {
        const parsed = wireErrorSchema.safeParse(m[2]);
        w.done(parsed.success ? parsed.data : new FrameError('malformed error response'), undefined);
      } else throw new FrameError(`unknown response kind ${String(kind)}`);
    }
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err instanceof ConnectionLostError ? err : new ConnectionLostError(`connection to ${this.address}: ${err.message}`, { cause: err });
    clearTimeout(this.connectTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.socket.destroy();
    const ws = [...this.waiting.values()];
    this.waiting.clear();
    this.outbox = [];
    for (const w of ws) w.done(this.closedWith, undefined);
    this.opts.onClose(this, this.closedWith);
  }

  /** Closes the connection; outstanding requests fail with ConnectionLostError. */
  close(): void {
    this.fail(new ConnectionLostError(`connection to ${this.address} closed by the client`));
  }
}
