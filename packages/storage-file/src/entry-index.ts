/**
 * Where every held entry lives: segment, offset and length of its frame, data length and term, in
 * typed arrays indexed by `index - first`: O(1) lookups, 28 bytes per entry, nothing for the GC to
 * trace. Storage is a list of fixed-size pages, so growing never copies what is there (no pause
 * proportional to the log's length) and compaction frees whole pages.
 */
const PAGE_BITS = 16;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;

interface Page {
  readonly seg: Uint32Array;
  /** Offset of the entry's frame in its segment. */
  readonly fst: Float64Array;
  /** Length of the entry's frame. */
  readonly fln: Uint32Array;
  /** Length of the entry's data. */
  readonly len: Uint32Array;
  readonly trm: Float64Array;
}

function newPage(): Page {
  return { seg: new Uint32Array(PAGE), fst: new Float64Array(PAGE), fln: new Uint32Array(PAGE), len: new Uint32Array(PAGE), trm: new Float64Array(PAGE) };
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
  push(segment: number, frameStart: number, frameLength: number, length: number, term: number): void {
    const slot = this.end++;
    const p = slot >>> PAGE_BITS;
    if (p === this.pages.length) this.pages.push(newPage());
    const page = this.pages[p]!;
    const i = slot & MASK;
    page.seg[i] = segment;
    page.fst[i] = frameStart;
    page.fln[i] = frameLength;
    page.len[i] = length;
    page.trm[i] = term;
  }

  /**
   * Adds `count` entries after `last`, all held by one frame, taking their data lengths and terms
   * from `lens[from, from + count)` and `terms[...]`: the append path's bulk form of {@link push}
   * (page lookups once per page, native fills and copies).
   */
  pushFrame(segment: number, frameStart: number, frameLength: number, lens: Uint32Array, terms: Float64Array, from: number, count: number): void {
    let slot = this.end;
    const stop = slot + count;
    this.end = stop;
    let k = from;
    while (slot < stop) {
      const p = slot >>> PAGE_BITS;
      if (p === this.pages.length) this.pages.push(newPage());
      const page = this.pages[p]!;
      const a = slot & MASK;
      const b = Math.min(stop - p * PAGE, PAGE);
      page.seg.fill(segment, a, b);
      page.fst.fill(frameStart, a, b);
      page.fln.fill(frameLength, a, b);
      if (b - a > 32) {
        page.len.set(lens.subarray(k, k + b - a), a);
        page.trm.set(terms.subarray(k, k + b - a), a);
      } else {
        // Small batches: a loop beats making two views.
        for (let s = a, x = k; s < b; s++, x++) {
          page.len[s] = lens[x]!;
          page.trm[s] = terms[x]!;
        }
      }
      k += b - a;
      slot += b - a;
    }
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

  /** Offset of the frame holding `index` in its segment. */
  frameStart(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.fst[s & MASK]!;
  }

  frameLength(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.fln[s & MASK]!;
  }

  /** Data length of entry `index`. */
  length(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.len[s & MASK]!;
  }

  term(index: number): number {
    const s = this.start + index - this.base;
    return this.pages[s >>> PAGE_BITS]!.trm[s & MASK]!;
  }
}
