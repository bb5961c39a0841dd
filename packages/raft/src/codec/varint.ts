/**
 * Unsigned LEB128 varints (7 bits per byte, low bits first) for integers in [0, 2^53): the codec's
 * writer, and the other binary formats of Tessera (the file log's records, the NATS envelope) that
 * use the same encoding.
 */

/**
 * Writes `v` at `p` of `b`, which must have room (at most 8 bytes); returns the position after it.
 * Throws RangeError for anything but an integer in [0, 2^53): it would encode as bytes that mean
 * another number.
 */
export function putVarint(b: Uint8Array, p: number, v: number): number {
  if ((v >>> 0) !== v) {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) throw new RangeError(`cannot encode ${v}: not an integer in [0, 2^53)`);
    while (v > 0xffffffff) {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
  }
  // Below 2^32: 32-bit integer arithmetic.
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** Bytes {@link putVarint} writes for `v`. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}
