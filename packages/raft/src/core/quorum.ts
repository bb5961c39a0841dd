/**
 * The largest value that a majority of `values` are >= to (the "quorum index"). For commit this is
 * the highest index replicated on a majority. Sorts a copy; groups are small.
 */
export function quorumValue(values: number[]): number {
  if (values.length === 0) return Infinity;
  if (values.length === 1) return values[0]!;
  if (values.length === 3) {
    // Median of three without allocation: the common deployment.
    const [a, b, c] = values as [number, number, number];
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
  const s = values.slice().sort((x, y) => y - x);
  return s[Math.floor(s.length / 2)]!;
}

/** Number of votes that form a majority of `n` voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}
