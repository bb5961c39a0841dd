/** A fixed-size set of small integers: the operations linearized so far. */
export class Bitset {
  readonly words: Uint32Array;

  constructor(readonly size: number) {
    this.words = new Uint32Array((size + 31) >>> 5);
  }

  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }

  has(i: number): boolean {
    return (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }
}

/**
 * Whether the set `a` dominates the set `b`: `a ⊆ b` and every element of `b` missing from `a` is
 * in `free` (the operations with an unknown outcome, which nothing is obliged to linearize).
 * With an empty `free` this is equality.
 */
export function dominates(a: Uint32Array, b: Uint32Array, free: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) {
    const ai = a[i]!;
    const bi = b[i]!;
    if ((ai & ~bi) !== 0 || (bi & ~ai & ~free[i]!) !== 0) return false;
  }
  return true;
}

/**
 * A fixed pseudo-random 32-bit value per operation id (murmur3's finalizer), XORed into an
 * incrementally maintained hash of a set so that keying the memoization table is O(1) per step.
 */
export function zobrist(i: number): number {
  let h = Math.imul(i + 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
