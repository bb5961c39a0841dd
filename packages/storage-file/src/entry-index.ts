/**
 * Where every held entry lives: segment, byte offset, data length and term, in typed arrays indexed
 * by `index - first`: O(1) lookups, 24 bytes per entry, nothing for the GC to trace. Storage is a
 * list of fixed-size pages, so growing never copies what is there (no pause proportional to the
 * log's length) and compaction frees whole pages.
 */
const PAGE_BITS = 16;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;

interface Page {
  readonly seg: Uint32Array;
  readonly off: Float64Array;
  readonly len: Uint32Array;
  readonly trm: Float64Array;
}

function newPage(): Page {
  return { seg: new Uint32Array(PAGE), off: new Float64Array(PAGE), len: new Uint32Array(PAGE), trm: new Float64Array(PAGE) };
}

export class EntryIndex {
  /** Log index of slot `start`. */
  private base = 1;
  /** Slot of the first entry (within pages[0]). */
  private start = 0;
  /** Slot after the last entry. */
  private end = 0;
  private pages: Page[] = [];

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
    this.pages = [];
  }

  /** Adds the entry after `last`. */
  push(segment: number, offset: number, length: number, term: number): void {
    const slot = this.end++;
    const p = slot >>> PAGE_BITS;
    if (p === this.pages.length) this.pages.push(newPage());
    const page = this.pages[p]!;
    const i = slot & MASK;
    page.seg[i] = segment;
    page.off[i] = offset;
    page.len[i] = length;
    page.trm[i] = term;
  }

  /** Drops entries `>= from`. */
  truncateFrom(from: number): void {
    if (from > this.last) return;
    this.end = this.start + Math.max(0, from - this.base);
    const keep = this.end === 0 ? 0 : ((this.end - 1) >>> PAGE_BITS) + 1;
    if (this.pages.length > keep) this.pages.length = keep;
  }

  /** Drops entries `< from` (`from <= last + 1`). */
  dropBefore(from: number): void {
    if (from <= this.base) return;
    this.start += from - this.base;
    this.base = from;
    const drop = Math.min(this.start >>> PAGE_BITS, this.pages.length);
    if (drop > 0) {
      this.pages.splice(0, drop);
      this.start -= drop * PAGE;
      this.end -= drop * PAGE;
    }
  }

  segment(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.seg[s & MASK]!;
  }

  offset(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.off[s & MASK]!;
  }

  length(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.len[s & MASK]!;
  }

  term(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.trm[s & MASK]!;
  }
}
