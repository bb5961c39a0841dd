import type { LogEntry } from '../types.js';

/**
 * The core's in-memory view of the log: every entry after the last snapshot, plus bookkeeping of
 * what storage has made durable and what has been handed out to persist and to apply.
 *
 * Invariants: `snapIndex <= applying <= committed <= lastIndex()`; `stable < unstable` is not
 * required (storage may be ahead of what the core knows), but `stable <= lastIndex()`.
 * Entries at or below `committed` are never truncated.
 */
export class RaftLog {
  /** Entries `snapIndex + 1 .. lastIndex()`; `ents[i].index === snapIndex + 1 + i`. */
  private ents: LogEntry[];
  snapIndex: number;
  snapTerm: number;
  committed: number;
  /** Highest index storage reported durable and still valid. */
  stable: number;
  /** First index not yet handed to storage. */
  unstable: number;
  /** Lowest index storage must truncate from before the next write (0 = none pending). */
  truncateFrom = 0;
  /** Highest index handed out for applying. */
  applying: number;
  /** Told about every append and truncation (membership follows the log). */
  listener: { appended(entries: readonly LogEntry[]): void; truncated(from: number): void; compacted(upTo: number): void } | undefined;

  constructor(snapIndex: number, snapTerm: number, entries: LogEntry[], committed: number) {
    this.snapIndex = snapIndex;
    this.snapTerm = snapTerm;
    this.ents = entries;
    const last = snapIndex + entries.length;
    this.committed = Math.min(Math.max(committed, snapIndex), last);
    this.stable = last;
    this.unstable = last + 1;
    this.applying = snapIndex;
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.ents.length;
  }

  lastTerm(): number {
    const n = this.ents.length;
    return n === 0 ? this.snapTerm : this.ents[n - 1]!.term;
  }

  /** Term at `i`, or -1 when `i` is compacted (below the snapshot) or beyond the end. */
  term(i: number): number {
    if (i === this.snapIndex) return this.snapTerm;
    const off = i - this.snapIndex - 1;
    if (off < 0 || off >= this.ents.length) return -1;
    return this.ents[off]!.term;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  entry(i: number): LogEntry | undefined {
    return this.ents[i - this.snapIndex - 1];
  }

  /** Raft's election restriction: is a log ending at (`lastIdx`, `lastT`) at least as up to date as ours? */
  isUpToDate(lastIdx: number, lastT: number): boolean {
    const t = this.lastTerm();
    return lastT > t || (lastT === t && lastIdx >= this.lastIndex());
  }

  /**
   * The last index `<= index` whose term is `<= term`, with its term: where a leader should probe
   * next after a rejection (the "fast back-off" of the Raft thesis, section 5.3).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.snapIndex; i--) {
      const t = this.ents[i - this.snapIndex - 1]!.term;
      if (t <= term) return { index: i, term: t };
    }
    return { index: this.snapIndex, term: i === this.snapIndex ? this.snapTerm : 0 };
  }

  /** Entries `lo <= i < hi` (bounded by `maxBytes`, at least one); `lo` must be > snapIndex. */
  slice(lo: number, hi: number, maxBytes = Infinity): LogEntry[] {
    const base = this.snapIndex + 1;
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    if (maxBytes === Infinity) return this.ents.slice(lo - base, hi - base);
    let bytes = 0;
    let end = lo;
    while (end < hi) {
      bytes += this.ents[end - base]!.data.byteLength + 24;
      end++;
      if (bytes >= maxBytes) break;
    }
    return this.ents.slice(lo - base, end - base);
  }

  /** Appends entries that continue the log exactly (leader path). */
  append(entries: readonly LogEntry[]): void {
    for (let i = 0; i < entries.length; i++) this.ents.push(entries[i]!);
    this.listener?.appended(entries);
  }

  /**
   * Follower path of AppendEntries: if our log has (`prevIndex`, `prevTerm`), merges `entries` after
   * it, truncating the first conflicting suffix, and returns the index of the last new entry.
   * Returns -1 when the previous entry does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly LogEntry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + entries.length;
    let k = 0;
    // Skip entries we already hold; they match by the log matching property.
    for (; k < entries.length; k++) {
      const e = entries[k]!;
      if (this.term(e.index) !== e.term) break;
    }
    if (k < entries.length) {
      const first = entries[k]!.index;
      if (first <= this.committed) {
        throw new Error(`raft: entry ${first} conflicts with committed entry (committed=${this.committed})`);
      }
      this.truncateAndAppend(k === 0 ? entries : entries.slice(k));
    }
    return lastNew;
  }

  private truncateAndAppend(entries: readonly LogEntry[]): void {
    const first = entries[0]!.index;
    if (first <= this.lastIndex()) {
      this.ents.length = first - this.snapIndex - 1;
      this.listener?.truncated(first);
      if (this.stable >= first) this.stable = first - 1;
      if (first < this.unstable) {
        this.truncateFrom = this.truncateFrom === 0 ? first : Math.min(this.truncateFrom, first);
        this.unstable = first;
      }
    }
    this.append(entries);
  }

  commitTo(i: number): boolean {
    i = Math.min(i, this.lastIndex());
    if (i > this.committed) {
      this.committed = i;
      return true;
    }
    return false;
  }

  /** Entries not yet handed to storage; marks them handed out. */
  takeUnstable(): LogEntry[] {
    const last = this.lastIndex();
    if (this.unstable > last) return [];
    const out = this.slice(this.unstable, last + 1);
    this.unstable = last + 1;
    return out;
  }

  hasUnstable(): boolean {
    return this.unstable <= this.lastIndex() || this.truncateFrom !== 0;
  }

  /** Storage reports entries up to `index` (with `term` at `index`) durable. */
  stableTo(index: number, term: number): boolean {
    if (index > this.stable && index < this.unstable && this.term(index) === term) {
      this.stable = index;
      return true;
    }
    return false;
  }

  /** Committed, durable entries not yet handed out for applying; marks them handed out. */
  takeCommitted(maxEntries = Infinity): LogEntry[] {
    const hi = Math.min(this.committed, this.stable);
    if (hi <= this.applying) return [];
    const to = Math.min(hi, this.applying + maxEntries);
    const out = this.slice(this.applying + 1, to + 1);
    this.applying = to;
    return out;
  }

  hasCommitted(): boolean {
    return Math.min(this.committed, this.stable) > this.applying;
  }

  /** Drops entries `<= upTo` after a snapshot at `upTo` (which must be <= applying). */
  compact(upTo: number): void {
    if (upTo <= this.snapIndex) return;
    const t = this.term(upTo);
    this.ents = this.ents.slice(upTo - this.snapIndex);
    this.listener?.compacted(upTo);
    this.snapIndex = upTo;
    this.snapTerm = t;
  }

  /**
   * Replaces the log with a snapshot at (`index`, `term`). If we already hold that entry the suffix
   * after it is kept (Raft Figure 13, step 6); otherwise the whole log is discarded.
   */
  restore(index: number, term: number): void {
    if (this.matchTerm(index, term) && index <= this.lastIndex()) {
      this.ents = this.ents.slice(index - this.snapIndex);
    } else {
      this.ents = [];
      // Storage must drop any entries after the snapshot that we are discarding.
      this.truncateFrom = 0;
    }
    this.snapIndex = index;
    this.snapTerm = term;
    if (this.committed < index) this.committed = index;
    if (this.applying < index) this.applying = index;
    if (this.stable < index) this.stable = index;
    if (this.unstable <= index) this.unstable = index + 1;
  }

  /** Total data bytes of entries in (`lo`, `hi`]. */
  bytesBetween(lo: number, hi: number): number {
    let n = 0;
    for (let i = Math.max(lo + 1, this.snapIndex + 1); i <= hi; i++) {
      const e = this.ents[i - this.snapIndex - 1];
      if (e) n += e.data.byteLength;
    }
    return n;
  }
}
