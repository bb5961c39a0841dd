import { FrameError } from '../errors.js';
import { MAX_VARINT_BYTES } from './format.js';
import { decodeString } from './strings.js';

/** Shared by every empty payload: nothing to view, and no allocation per empty entry. */
export const EMPTY: Uint8Array = Object.freeze(new Uint8Array(0));

/**
 * Reads codec fields from a frame, bounds-checking every read. Byte strings come back as views into
 * the frame's memory (zero-copy), built on the ArrayBuffer directly: `subarray` would look up the
 * species constructor (and on a Buffer build a Buffer), which costs several times more per entry.
 */
export class Reader {
  // The per-message hot path (decode.ts) reads with a local cursor and calls back here only for
  // what is rare: long varints, strings, snapshots, errors.
  pos = 0;
  readonly end: number;
  /** The frame's memory and the frame's offset in it, for building views. */
  readonly ab: ArrayBufferLike;
  readonly base: number;
  /** The frame as a DataView, for reading strings a word at a time. */
  private readonly dv: DataView;

  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
    this.ab = buf.buffer;
    this.base = buf.byteOffset;
    this.dv = new DataView(this.ab, this.base, this.end);
  }

  u8(): number {
    const p = this.pos;
    if (p >= this.end) throw this.truncated(1);
    this.pos = p + 1;
    return this.buf[p]!;
  }

  /** Unsigned LEB128 below 2^53, in its shortest form. */
  varint(): number {
    const p = this.pos;
    if (p < this.end) {
      const b = this.buf[p]!;
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
    }
    return this.varintLong();
  }

  /** A varint at `pos` of any length (the hot paths read one-byte varints themselves). */
  varintLong(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    // The first four groups (28 bits) in integer arithmetic: indexes and terms rarely need more.
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw this.truncated(1);
      const b = buf[p++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        // A final zero group adds nothing: the same value has a shorter encoding.
        if (b === 0 && shift > 0) throw new FrameError(`overlong varint at offset ${this.pos}`);
        this.pos = p;
        return result;
      }
    }
    let mul = 2 ** 28;
    for (let i = 4; i < MAX_VARINT_BYTES; i++) {
      if (p >= end) throw this.truncated(1);
      const b = buf[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0) throw new FrameError(`overlong varint at offset ${this.pos}`);
        if (result > Number.MAX_SAFE_INTEGER) throw new FrameError(`varint at offset ${this.pos} exceeds 2^53`);
        this.pos = p;
        return result;
      }
      mul *= 0x80;
    }
    throw new FrameError(`varint at offset ${this.pos} longer than ${MAX_VARINT_BYTES} bytes`);
  }

  /** A length prefix, checked against what remains. */
  private length(): number {
    const n = this.varint();
    if (n > this.end - this.pos) throw this.truncated(n);
    return n;
  }

  /** Length-prefixed bytes as a view into the frame (a shared empty array when empty). */
  bytes(): Uint8Array {
    const n = this.length();
    if (n === 0) return EMPTY;
    const view = new Uint8Array(this.ab, this.base + this.pos, n);
    this.pos += n;
    return view;
  }

  str(): string {
    const n = this.length();
    const s = decodeString(this.buf, this.dv, this.pos, n);
    this.pos += n;
    return s;
  }

  strList(): string[] {
    const n = this.count(1);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }

  /** A count of items each at least `minSize` bytes: bounded by what remains, so garbage cannot allocate. */
  count(minSize: number): number {
    const n = this.varint();
    if (n * minSize > this.end - this.pos) throw new FrameError(`count ${n} at offset ${this.pos} exceeds the remaining ${this.end - this.pos} bytes`);
    return n;
  }

  truncated(n: number, at = this.pos): FrameError {
    return new FrameError(`truncated frame: need ${n} bytes at offset ${at}, have ${this.end - at}`);
  }
}
