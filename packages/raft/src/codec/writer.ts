import { encodeUtf8 } from './strings.js';

/**
 * Appends codec fields to a buffer the caller sized with an upper bound (see `bound*` below), so no
 * write checks capacity. A write past the end would be silently dropped by the typed array, so the
 * caller compares `pos` with the buffer length once at the end.
 *
 * Values are validated here, not trusted: an integer outside [0, 2^53) or a fraction would encode
 * as different bytes than it means, and the peer would close the connection on it.
 */
export class Writer {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  /** Unsigned LEB128. Most fields (flags-like numbers, small terms, lengths) take the one-byte path. */
  varint(v: number): void {
    if ((v & 0x7f) === v) this.buf[this.pos++] = v;
    else this.varintLong(v);
  }

  private varintLong(v: number): void {
    const b = this.buf;
    let p = this.pos;
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
    this.pos = p;
  }

  /** A length-prefixed UTF-8 string. ASCII under 128 characters is written directly. */
  str(s: string): void {
    const n = s.length;
    if (n < 0x80) {
      const b = this.buf;
      const p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p + i] = c;
      }
      if (i === n) {
        b[p - 1] = n;
        this.pos = p + n;
        return;
      }
    }
    this.bytes(encodeUtf8(s));
  }

  /** Length-prefixed raw bytes. */
  bytes(data: Uint8Array): void {
    // length, not byteLength: the same for bytes, and V8 inlines only the former.
    const n = data.length;
    this.varint(n);
    if (n > 16) {
      this.buf.set(data, this.pos);
    } else {
      // Short payloads: a loop beats set()'s call overhead.
      const b = this.buf;
      const p = this.pos;
      for (let i = 0; i < n; i++) b[p + i] = data[i]!;
    }
    this.pos += n;
  }

  strList(list: readonly string[]): void {
    this.varint(list.length);
    for (let i = 0; i < list.length; i++) this.str(list[i]!);
  }
}

/** Upper bound of `Writer.str`'s bytes: UTF-8 takes at most 3 bytes per UTF-16 unit, plus the length. */
export function boundStr(s: string): number {
  return 3 * s.length + 5;
}

/** Upper bound of `Writer.strList`'s bytes. */
export function boundStrList(list: readonly string[]): number {
  let n = 5;
  for (let i = 0; i < list.length; i++) n += boundStr(list[i]!);
  return n;
}
