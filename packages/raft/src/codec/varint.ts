/**
 * Unsigned LEB128 varints (7 bits per byte, low bits first) for integers in [0, 2^53), written by
 * the codec's writer and read and written by the other binary formats of Tessera that use the same
 * encoding (the file log's records, the NATS envelope).
 */
import { MAX_VARINT_BYTES } from './format.js';

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

/** Where {@link getVarint} puts the value it read. */
export interface VarintSlot {
  value: number;
}

/**
 * Reads the varint at `p` of `b`, not past `stop`, into `out.value`; returns the position after
 * it, or -1 if it runs past `stop`, is longer than {@link MAX_VARINT_BYTES} bytes or exceeds
 * 2^53 - 1. Never throws: the caller decides what a bad varint means (damage on disk, a rejected
 * payload). Overlong forms are accepted (the codec's Reader, which must reject them, has its own).
 */
export function getVarint(b: Uint8Array, p: number, stop: number, out: VarintSlot): number {
  if (p < stop) {
    const c = b[p]!;
    if (c < 0x80) {
      out.value = c;
      return p + 1;
    }
  }
  let v = 0;
  let scale = 1;
  for (let n = 0; n < MAX_VARINT_BYTES && p < stop; n++) {
    const c = b[p++]!;
    v += (c & 0x7f) * scale;
    if (c < 0x80) {
      if (v > Number.MAX_SAFE_INTEGER) return -1;
      out.value = v;
      return p;
    }
    scale *= 0x80;
  }
  return -1;
}
