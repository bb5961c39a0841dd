/**
 * Where every held entry lives: segment, byte offset, data length and term, in parallel typed
 * arrays indexed by `index - first`. O(1) lookups, 24 bytes per entry, nothing for the GC to trace.
 */
export class EntryIndex {
  /** Log index of slot `start`. */
  private base = 1;
  private start = 0;
  private end = 0;
  private seg: Uint32Array;
  private off: Float64Array;
  private len: Uint32Array;
  private trm: Float64Array;

  constructor(capacity = 1024) {
    this.seg = new Uint32Array(capacity);
    this.off = new Float64Array(capacity);
    this.len = new Uint32Array(capacity);
    this.trm = new Float64Array(capacity);
  }

  /** Index of the first entry held (or of the next append when empty). */
  get first(): number {
    return this.base;
  }

  /** Index of the last entry held, `first - 1` when empty. */
  get last(): number {
    return this.base + (this.end - this.start) - 1;
  }

  get count(): number {
    return this.end - this.start;
  }

  /** Empties the index; the next entry pushed will be `first`. */
  reset(first: number): void {
    this.base = first;
    this.start = 0;
    this.end = 0;
  }

  /** Adds the entry after `last`. */
  push(segment: number, offset: number, length: number, term: number): void {
    if (this.end === this.seg.length) this.grow();
    const i = this.end++;
    this.seg[i] = segment;
    this.off[i] = offset;
    this.len[i] = length;
    this.trm[i] = term;
  }

  /** Drops entries `>= from`. */
  truncateFrom(from: number): void {
    if (from <= this.last) this.end = this.start + Math.max(0, from - this.base);
  }

  /** Drops entries `< from` (`from <= last + 1`). */
  dropBefore(from: number): void {
    if (from <= this.base) return;
    this.start += from - this.base;
    this.base = from;
  }

  segment(index: number): number {
    return this.seg[this.start + index - this.base]!;
  }

  offset(index: number): number {
    return this.off[this.start + index - this.base]!;
  }

  length(index: number): number {
    return this.len[this.start + index - this.base]!;
  }

  term(index: number): number {
    return this.trm[this.start + index - this.base]!;
  }

  /** Makes room at the end: reuses the space freed at the front, or doubles. */
  private grow(): void {
    const n = this.end - this.start;
    const cap = n * 2 < this.seg.length ? this.seg.length : Math.max(1024, this.seg.length * 2);
    const move = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = cap === a.length ? a : make(cap);
      if (b === a) a.copyWithin(0, this.start, this.end);
      else b.set(a.subarray(this.start, this.end));
      return b;
    };
    this.seg = move(this.seg, (c) => new Uint32Array(c));
    this.off = move(this.off, (c) => new Float64Array(c));
    this.len = move(this.len, (c) => new Uint32Array(c));
    this.trm = move(this.trm, (c) => new Float64Array(c));
    this.start = 0;
    this.end = n;
  }
}
