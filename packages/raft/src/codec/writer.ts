import { encodeUtf8 } from './strings.js';
import { putVarint } from './varint.js';

/**
 * Uint8Array.prototype.set, called directly: V8 (Node 20) looks `buf.set` up with an inline-cache
 * call on every use, which costs a good part of copying a short payload.
 */
export const typedArraySet = Uint8Array.prototype.set;

/**
 * Appends codec fields to a buffer the caller sized with an upper bound (see `bound*` below), so no
 * write checks capacity. A write past the end would be silently dropped by the typed array, so the
 * caller compares `pos` with the buffer length once at the end.
 *
 * Values are validated here, not trusted: an integer outside [0, 2^53) or a fraction would encode
 * as different bytes than it means, and the peer would close the connection on it.
 */
export class Writer {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
  ) {}

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  /** Unsigned LEB128. Most fields (flags-like numbers, small terms, lengths) take the one-byte path. */
  varint(v: number): void {
    if ((v & 0x7f) === v) this.buf[this.pos++] = v;
    else this.varintLong(v);
  }

  private varintLong(v: number): void {
    this.pos = this.varintAt(this.pos, v);
  }

  /** Writes a varint of any size at `p`; returns the position after it. */
  varintAt(p: number, v: number): number {
    return putVarint(this.buf, p, v);
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
    typedArraySet.call(this.buf, data, this.pos);
    this.pos += n;
  }

  strList(list: readonly string[]): void {
    this.varint(list.length);
    for (let i = 0; i < list.length; i++) this.str(list[i]!);
  }
}

const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer;

/**
 * Memory for one encoded batch of at most `n` bytes, returned to the caller as a view of the bytes
 * written. Not zero-filled where the runtime allows it (Node's Buffer.allocUnsafe): every byte the
 * caller sees is written first, and zeroing the bound (often 2-3x the bytes used) cost more than the
 * rest of encoding for small messages. The returned memory is the caller's alone, never reused here.
 * A view rather than the Buffer, so that consumers see one object shape (plain Uint8Array).
 */
export function allocOutput(n: number): Uint8Array {
  if (NodeBuffer === undefined) return new Uint8Array(n);
  const b = NodeBuffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
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
