import type { NodeId } from '@tessera/raft';
import { PayloadRejectedError, type FragmentHeader, type RejectReason } from './envelope.js';

/** Senders with a message in reassembly at once; far above any real cluster's fan-in. */
const MAX_PARTIALS = 1024;

interface Partial {
  readonly id: number;
  readonly count: number;
  readonly buf: Uint8Array;
  readonly startedAt: number;
  next: number;
  filled: number;
}

export interface ReassemblerOptions {
  /** Bytes reserved for incomplete messages, all senders together; a message's full size is reserved at its first fragment. */
  readonly maxBytes: number;
  /** An incomplete message older than this is discarded. */
  readonly timeoutMs: number;
  /** Called for each incomplete message discarded (timed out, evicted or superseded). */
  readonly onDiscard: (reason: RejectReason, from: NodeId, detail: string) => void;
  readonly now?: () => number;
}

/**
 * Puts fragmented messages back together. NATS delivers one publisher's messages on one subject in
 * order, so fragments are expected strictly in sequence: one incomplete message per sender, and any
 * gap (a fragment lost to a reconnect) discards it. Raft retransmits, so discarding is always safe.
 * Memory is bounded by `maxBytes` (oldest incomplete messages are evicted first) and time by
 * `timeoutMs`; the sweep timer runs only while something is incomplete.
 */
export class Reassembler {
  private readonly partials = new Map<NodeId, Partial>();
  private reserved = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ReassemblerOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Incomplete messages held. */
  get size(): number {
    return this.partials.size;
  }

  /** True while the sweep timer runs (only while something is incomplete). */
  get sweeping(): boolean {
    return this.sweeper !== undefined;
  }

  /** Bytes reserved by incomplete messages. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /**
   * Adds one fragment (`chunk` is copied). Returns the whole body when this was the last fragment.
   * Throws {@link PayloadRejectedError} for a fragment that cannot be used.
   */
  add(h: FragmentHeader, chunk: Uint8Array): Uint8Array | undefined {
    let p = this.partials.get(h.from);
    if (p && (p.id !== h.id || p.count !== h.count || p.buf.byteLength !== h.total || p.next !== h.index)) {
      this.discard(h.from, p, 'fragment-sequence', `expected fragment ${p.next}/${p.count} of message ${p.id}, got ${h.index}/${h.count} of ${h.id}`);
      p = undefined;
    }
    if (!p) {
      if (h.index !== 0) throw new PayloadRejectedError('fragment-sequence', `fragment ${h.index}/${h.count} of message ${h.id} from ${h.from} without its predecessors`);
      if (h.total > this.opts.maxBytes) throw new PayloadRejectedError('fragment-too-large', `${h.total}-byte message from ${h.from} exceeds maxReassemblyBytes ${this.opts.maxBytes}`);
      this.expire();
      for (const [from, old] of this.partials) {
        if (this.reserved + h.total <= this.opts.maxBytes && this.partials.size < MAX_PARTIALS) break;
        this.discard(from, old, 'fragment-evicted', `evicted to make room for a ${h.total}-byte message from ${h.from}`);
      }
      p = { id: h.id, count: h.count, buf: new Uint8Array(h.total), startedAt: this.now(), next: 0, filled: 0 };
      this.partials.set(h.from, p);
      this.reserved += h.total;
      this.armSweeper();
    }
    const last = h.index === h.count - 1;
    if (p.filled + chunk.byteLength > p.buf.byteLength || (last && p.filled + chunk.byteLength !== p.buf.byteLength)) {
      this.release(h.from, p);
      throw new PayloadRejectedError('malformed-envelope', `fragments of message ${h.id} from ${h.from} do not add up to ${p.buf.byteLength} bytes`);
    }
    p.buf.set(chunk, p.filled);
    p.filled += chunk.byteLength;
    p.next++;
    if (!last) return undefined;
    this.release(h.from, p);
    return p.buf;
  }

  /** Discards incomplete messages older than the timeout. */
  expire(): void {
    const cutoff = this.now() - this.opts.timeoutMs;
    for (const [from, p] of this.partials) {
      if (p.startedAt <= cutoff) this.discard(from, p, 'fragment-timeout', `message ${p.id} incomplete after ${this.opts.timeoutMs} ms (${p.next}/${p.count} fragments)`);
    }
  }

  /** Drops everything and stops the timer. */
  close(): void {
    this.partials.clear();
    this.reserved = 0;
    this.disarmSweeper();
  }

  private discard(from: NodeId, p: Partial, reason: RejectReason, detail: string): void {
    this.release(from, p);
    this.opts.onDiscard(reason, from, detail);
  }

  private release(from: NodeId, p: Partial): void {
    if (this.partials.get(from) !== p) return;
    this.partials.delete(from);
    this.reserved -= p.buf.byteLength;
    if (this.partials.size === 0) this.disarmSweeper();
  }

  private armSweeper(): void {
    if (this.sweeper) return;
    // Sweeping at a fraction of the timeout bounds how late an expiry is noticed.
    const every = Math.max(1, Math.ceil(this.opts.timeoutMs / 4));
    // Not unref'd: close() clears it, and a visible handle lets leak checks see a forgotten close.
    this.sweeper = setInterval(() => this.expire(), every);
  }

  private disarmSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
