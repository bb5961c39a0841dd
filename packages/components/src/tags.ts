/**
 * Message tags and the duplicate filter ("seen-set") of a stateful partition.
 *
 * A tag is a list of numbers scoped by its origin: `[index, emit]` for a message emitted by a
 * stateful partition (the log index of the entry whose handler emitted it, and the emit number
 * within that entry), `[seq]` for a message pushed by a source, and two more numbers appended for
 * each stateless component the message passed through (`[index, emit, p, n]`: the n-th message
 * that partition p of the component emitted for it; broadcast copies differ by p). Tags are deterministic, so a message re-sent after a failover, or
 * re-derived by a stateless component, carries the same tag.
 *
 * With every message the sender states a watermark `w`: it will never send again a tag below `w`
 * (lexicographic order on the first two numbers). The receiver keeps, per origin, the tags it
 * applied at or above the watermark and forgets older ones, so the filter stays as small as the
 * sender's unacknowledged window. It is part of the partition's snapshot.
 */

/** A tag. */
export type Tag = readonly number[];

/** True if `tag` sorts below the watermark `(w0, w1)`. */
export function belowWatermark(tag: Tag, w0: number, w1: number): boolean {
  const t0 = tag[0]!;
  return t0 < w0 || (t0 === w0 && (tag[1] ?? 0) < w1);
}

export function tagKey(tag: Tag): string {
  // Hot path (every applied message): concatenation beats join for these short arrays.
  let k = String(tag[0]);
  for (let i = 1; i < tag.length; i++) k += '.' + tag[i];
  return k;
}

/** The applied tags of one origin at or above its watermark. */
export class SeenSet {
  w0 = 0;
  w1 = 0;
  /** Log time of the last message from this origin (sources are forgotten when idle). */
  lastSeen = 0;
  private readonly keys = new Set<string>();
  /** Tags in the order they were applied, for pruning; `head` is the first live one. */
  private order: Tag[] = [];
  private head = 0;

  constructor(readonly isSource: boolean) {}

  get size(): number {
    return this.keys.size;
  }

  /** Records `tag` as applied; returns false (a duplicate) if it was applied before or is below the watermark. */
  add(tag: Tag): boolean {
    if (belowWatermark(tag, this.w0, this.w1)) return false;
    const k = tagKey(tag);
    if (this.keys.has(k)) return false;
    this.keys.add(k);
    this.order.push(tag);
    return true;
  }

  /** Raises the watermark (never lowers it: a stale sender may still carry an old one) and forgets tags below it. */
  advance(w0: number, w1: number): void {
    if (w0 < this.w0 || (w0 === this.w0 && w1 <= this.w1)) return;
    this.w0 = w0;
    this.w1 = w1;
    // Tags are applied in nearly increasing order; one applied out of order is forgotten a little later.
    while (this.head < this.order.length && belowWatermark(this.order[this.head]!, w0, w1)) {
      this.keys.delete(tagKey(this.order[this.head]!));
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Snapshot image: `[w0, w1, lastSeen, isSource, tags]`. */
  image(): unknown[] {
    const live: Tag[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const t = this.order[i]!;
      if (this.keys.has(tagKey(t))) live.push(t);
    }
    return [this.w0, this.w1, this.lastSeen, this.isSource, live];
  }

  static fromImage(img: unknown[]): SeenSet {
    const [w0, w1, lastSeen, isSource, tags] = img as [number, number, number, boolean, Tag[]];
    const s = new SeenSet(isSource);
    s.w0 = w0;
    s.w1 = w1;
    s.lastSeen = lastSeen;
    for (const t of tags) s.add(t);
    return s;
  }
}

/** A deterministic PRNG (mulberry32) seeded with a 32-bit integer. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
