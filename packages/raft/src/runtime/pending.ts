import type { EntryType } from '../types.js';

/** One client proposal, from queueing until its entry is applied (or it fails). */
export class Proposal {
  /** Log index once appended (0 before). */
  index = 0;
  /** Term the entry was appended in. */
  term = 0;
  /** Settled (resolved, rejected or timed out). */
  done = false;

  constructor(
    readonly data: Uint8Array,
    readonly type: EntryType,
    readonly resolve: (v: any) => void,
    readonly reject: (e: unknown) => void,
    readonly deadline: number,
  ) {}

  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reject(err);
  }

  succeed(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.resolve(value);
  }
}

/**
 * Appended proposals ordered by log index. Entries are applied in index order, so settling only
 * ever looks at the head; a leader's proposals arrive in index order and are pushed at the tail.
 * (A Map keyed by index costs a hash insert and delete per proposal, which shows at 10^5/s.)
 */
export class PendingQueue {
  private items: Proposal[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  add(p: Proposal): void {
    const items = this.items;
    if (items.length === this.head || items[items.length - 1]!.index < p.index) {
      items.push(p);
      return;
    }
    // Out of order (forwarded proposals whose replies crossed): insert in place.
    let lo = this.head;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid]!.index < p.index) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, p);
  }

  /**
   * Removes and returns the proposal at `index` if one is waiting; proposals below `index` (whose
   * entries can no longer be applied here, e.g. after a snapshot) are handed to `skipped`.
   */
  take(index: number, skipped: (p: Proposal) => void): Proposal | undefined {
    const items = this.items;
    while (this.head < items.length && items[this.head]!.index < index) skipped(items[this.head++]!);
    let found: Proposal | undefined;
    if (this.head < items.length && items[this.head]!.index === index) found = items[this.head++];
    if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    } else if (this.head === items.length) {
      this.items = [];
      this.head = 0;
    }
    return found;
  }

  /** Fails every proposal whose deadline passed, oldest first (stops at the first live one). */
  expire(now: number, err: (p: Proposal) => unknown): void {
    for (let i = this.head; i < this.items.length; i++) {
      const p = this.items[i]!;
      if (p.done) continue;
      if (p.deadline > now) break;
      p.fail(err(p));
    }
  }

  /** Removes everything, handing each proposal to `fn`. */
  drain(fn: (p: Proposal) => void): void {
    const items = this.items;
    const head = this.head;
    this.items = [];
    this.head = 0;
    for (let i = head; i < items.length; i++) fn(items[i]!);
  }
}
