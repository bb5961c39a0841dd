/**
 * The outbox of a stateful partition: messages its handlers emitted, per destination partition,
 * kept in the replicated state until the destination acknowledges them. A new leader re-sends
 * whatever is still here, so nothing emitted is lost across a failover; the receivers' seen-sets
 * drop what had already arrived.
 */
import type { Tag } from './tags.js';

/** One message on the wire and in the outbox: `[tag, port, key, payload, createdAt]`. */
export type WireMessage = [tag: Tag, port: string, key: string | null, payload: unknown, createdAt: number];

/** Messages for one destination (`<component>/<partition>`), numbered from `base`. */
export class OutboxQueue {
  base = 0;
  items: WireMessage[] = [];
  private head = 0;
  /** Sequence numbers acknowledged out of order (above the first unacknowledged one). */
  acked: Set<number> | undefined;

  constructor(readonly dest: string) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Sequence number one past the last message. */
  get end(): number {
    return this.base + this.length;
  }

  push(m: WireMessage): void {
    this.items.push(m);
  }

  at(seq: number): WireMessage | undefined {
    return seq >= this.base && seq < this.end ? this.items[this.head + seq - this.base] : undefined;
  }

  isAcked(seq: number): boolean {
    return seq < this.base || (this.acked?.has(seq) ?? false);
  }

  /** The first unacknowledged message (the queue's smallest tag), if any. */
  first(): WireMessage | undefined {
    return this.length > 0 ? this.items[this.head] : undefined;
  }

  /** Acknowledges `seq`; returns how many messages left the queue. */
  ack(seq: number): number {
    if (seq < this.base || seq >= this.end) return 0;
    if (seq !== this.base) {
      (this.acked ??= new Set()).add(seq);
      return 0;
    }
    let n = 0;
    do {
      this.head++;
      this.base++;
      n++;
      this.acked?.delete(this.base - 1);
    } while (this.length > 0 && this.acked?.has(this.base));
    if (this.acked?.size === 0) this.acked = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  /** Snapshot image: `[dest, base, items, acked]`. */
  image(): unknown[] {
    return [this.dest, this.base, this.items.slice(this.head), this.acked ? [...this.acked] : []];
  }

  static fromImage(img: unknown[]): OutboxQueue {
    const [dest, base, items, acked] = img as [string, number, WireMessage[], number[]];
    const q = new OutboxQueue(dest);
    q.base = base;
    q.items = items;
    if (acked.length > 0) q.acked = new Set(acked);
    return q;
  }
}
