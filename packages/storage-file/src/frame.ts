/**
 * The log's on-disk format, version 3 (version 2 is still read). All fixed-width integers
 * little-endian; varints are unsigned LEB128 (7 bits per byte, low bits first).
 *
 * A segment file starts with a 16-byte header, then frames back to back:
 *
 * ```
 * segment header
 *      0    4 magic "TSLG"
 *      4    4 format version (3; 2 for segments written before format 3)
 *      8    4 reserved, zero
 *     12    4 crc32c of bytes [0, 12)
 *
 * frame header
 *      0    4 magic "TSFR"
 *      4    4 crc32c of bytes [8, length): the rest of the header and every record of the frame
 *      8    4 length of the frame in bytes, header included
 *     12    4 record count (0 for a truncation frame)
 *     16    8 first index (u64): of the first record; of the first entry removed, for a truncation
 *     24    4 call offset: first index minus the first index of its append call (0 for a truncation)
 *     28    1 kind: 1 records, 2 truncation
 *     29    3 reserved, zero
 *
 * record, format 3 (count of them, after the frame header; 4-5 bytes of header for a typical entry)
 *        varint data length
 *      1       entry type
 *        varint index offset: the record's index minus the frame's first index
 *        varint term
 *        …     data
 *
 * record, format 2 (read only)
 *      0    4 data length
 *      4    4 index, bits 0-31
 *      8    4 bits 0-23: index, bits 32-55; bits 24-31: entry type
 *     12    8 term (u64)
 *     20    … data
 * ```
 *
 * Every record carries its length, index and term; its bytes are covered by its frame's CRC32C.
 * Format 3 writes the index as an offset from the frame's first index and small numbers in one
 * byte, so a 100-byte entry costs 104-105 bytes on disk instead of 120: at 1024 entries per call the
 * disk's write time, not the CPU, sets the pace, and it grows with the bytes written. An append
 * call is one frame (several when it exceeds {@link FRAME_TARGET_BYTES}), so the checksum runs once
 * over a contiguous range, natively where it can.
 *
 * A log may hold segments of both versions: a segment keeps the version of its header, and appends
 * after opening a log whose newest segment is format 2 start a new segment.
 *
 * The call offset lets recovery tell a torn final write (damage followed only by frames of the same
 * call) from damage to earlier data (followed by a later call's frame). A truncation frame records a
 * `truncateSuffix` that cut into the middle of the frame before it: records from its index on are
 * void, and the frames after it continue from that index. Truncations at a frame boundary simply
 * truncate the file.
 */
import type { Crc32cFn } from '@tessera/snapshot-files';
import { getVarint, putVarint, varintSize, type EntryType, type LogEntry, type VarintSlot } from '@tessera/raft';
import type { EntryIndex } from './entry-index.js';

/** The version new segments are written in. */
export const FORMAT_VERSION = 3;
/** The oldest version still read. */
const OLDEST_READABLE = 2;
export const SEGMENT_HEADER_BYTES = 16;
export const FRAME_HEADER_BYTES = 32;
/** A format-2 record header. */
export const RECORD_HEADER_BYTES_V2 = 20;
/** The longest record header of any version (format 3: 5 + 1 + 5 + 8 bytes). */
export const MAX_RECORD_HEADER_BYTES = 20;
/** A call's records go into one frame until it would grow past this (a single larger record gets a frame of its own). */
export const FRAME_TARGET_BYTES = 1024 * 1024;
/** Largest data length a record may claim: anything bigger is damage, not data. */
export const MAX_RECORD_DATA = 2 ** 31 - 1;
/** Largest index a record can hold (56 bits; JavaScript integers end at 2^53 anyway). */
const MAX_INDEX = Number.MAX_SAFE_INTEGER;

export const SEGMENT_MAGIC = 0x474c5354; // "TSLG"
export const FRAME_MAGIC = 0x52465354; // "TSFR"
/** The frame magic as it appears in a file, for scanning. */
export const FRAME_MAGIC_BYTES = Buffer.from([0x54, 0x53, 0x46, 0x52]);
export const KIND_RECORDS = 1;
export const KIND_TRUNCATION = 2;
const TWO_32 = 2 ** 32;

// ------------------------------------------------------------------ segment header

export function encodeSegmentHeader(crc: Crc32cFn): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  b.writeUInt32LE(SEGMENT_MAGIC, 0);
  b.writeUInt32LE(FORMAT_VERSION, 4);
  b.writeUInt32LE(crc(b, 0, 12), 12);
  return b;
}

/** Why the header at the start of `b` is not a valid segment header of a readable version, or undefined if it is. */
export function segmentHeaderProblem(b: Uint8Array, crc: Crc32cFn): string | undefined {
  if (b.length < SEGMENT_HEADER_BYTES) return `${b.length} bytes, shorter than the segment header`;
  const dv = new DataView(b.buffer, b.byteOffset, SEGMENT_HEADER_BYTES);
  if (dv.getUint32(0, true) !== SEGMENT_MAGIC) {
    return 'no segment header (format 1, written by @tessera/storage-file 0.1, is not readable by this version; or the file is damaged)';
  }
  if (dv.getUint32(12, true) !== crc(b, 0, 12)) return 'segment header checksum mismatch';
  const version = dv.getUint32(4, true);
  if (version < OLDEST_READABLE || version > FORMAT_VERSION) return `segment format version ${version}, this version reads ${OLDEST_READABLE} to ${FORMAT_VERSION}`;
  return undefined;
}

/** The format version of a segment whose header {@link segmentHeaderProblem} accepted. */
export function segmentVersion(b: Uint8Array): number {
  return b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
}

// ------------------------------------------------------------------ record headers

/**
 * Bytes of a format-3 record header: for tests and tools that locate records in a file.
 * `offset` is the record's index minus its frame's first index.
 */
export function recordHeaderBytes(length: number, offset: number, term: number): number {
  return varintSize(length) + 1 + varintSize(offset) + varintSize(term);
}

// ------------------------------------------------------------------ encoding

/**
 * Encodes append calls into frames, reusing one write buffer and scratch arrays between calls: an
 * append of n entries is one pass over them (index check, record headers, one `set` of each
 * payload), one native CRC32C per frame, and bulk copies into the entry index.
 */
export class FrameEncoder {
  /** A buffer free for the next call (the previous one is taken until its write completed). */
  private free: Buffer | undefined;
  private freeView: DataView | undefined;
  /** Data length and term of each entry of the last call, for {@link index}. */
  private lens = new Uint32Array(1024);
  private terms = new Float64Array(1024);
  /** Start, length, first entry and entry count of each frame of the last call, flat. */
  private readonly frames: number[] = [];
  /** The bytes of the last call: `out[0, size)`. Owned by the caller until passed to {@link release}. */
  out: Buffer = EMPTY;
  private outView: DataView | undefined;

  constructor(private readonly crc: Crc32cFn) {}

  /**
   * Encodes `entries` (one append call) into {@link out}. Returns its size in bytes, or `-1 - i`
   * if entry `i` does not hold index `first + i` (then nothing is encoded).
   */
  encode(entries: readonly LogEntry[], first: number): number {
    const n = entries.length;
    if (n > this.lens.length) {
      const cap = Math.max(n, this.lens.length * 2);
      this.lens = new Uint32Array(cap);
      this.terms = new Float64Array(cap);
    }
    const lens = this.lens;
    const terms = this.terms;
    const frames = this.frames;
    frames.length = 0;
    let out = this.free;
    let dv = this.freeView;
    if (out === undefined || dv === undefined) {
      out = Buffer.allocUnsafeSlow(Math.max(MIN_BUFFER, n * (MAX_RECORD_HEADER_BYTES + 64)));
      dv = new DataView(out.buffer, out.byteOffset, out.length);
    }
    this.free = undefined;
    this.freeView = undefined;
    let cap = out.length;
    let start = 0;
    let frameFirst = 0;
    let p = FRAME_HEADER_BYTES;
    for (let j = 0; j < n; j++) {
      const e = entries[j]!;
      const index = e.index;
      if (index !== first + j) {
        this.free = out;
        this.freeView = dv;
        return -1 - j;
      }
      const data = e.data;
      // `length`, not `byteLength` (the same for a Uint8Array): V8 11 (Node 20) inlines the
      // former and calls a builtin for the latter, 25-40 ns per entry, a quarter of this loop.
      const len = data.length;
      if (j > frameFirst && p - start + MAX_RECORD_HEADER_BYTES + len > FRAME_TARGET_BYTES) {
        this.closeFrame(out, dv, start, p, frameFirst, j, first);
        start = p;
        frameFirst = j;
        p += FRAME_HEADER_BYTES;
      }
      if (p + MAX_RECORD_HEADER_BYTES + len > cap) {
        // Too small for this call: a bigger buffer, keeping what is encoded so far.
        const bigger = Buffer.allocUnsafeSlow(Math.max(2 * cap, p + MAX_RECORD_HEADER_BYTES + len + FRAME_HEADER_BYTES));
        bigger.set(out.subarray(0, p));
        out = bigger;
        dv = new DataView(out.buffer, out.byteOffset, out.length);
        cap = out.length;
      }
      const term = e.term;
      const k = j - frameFirst;
      // One byte each for the common small values; the general varint otherwise.
      if (len < 0x80) out[p++] = len;
      else p = putVarint(out, p, len);
      out[p++] = e.type;
      if (k < 0x80) out[p++] = k;
      else p = putVarint(out, p, k);
      if (term < 0x80) out[p++] = term;
      else p = putVarint(out, p, term);
      out.set(data, p);
      lens[j] = len;
      terms[j] = term;
      p += len;
    }
    this.closeFrame(out, dv, start, p, frameFirst, n, first);
    this.out = out;
    this.outView = dv;
    return p;
  }

  /** Pushes the entries of the last {@link encode} into `idx`, its bytes written at `base` in segment `seq`. */
  index(idx: EntryIndex, seq: number, base: number): void {
    const f = this.frames;
    for (let k = 0; k < f.length; k += 4) idx.pushFrame(seq, base + f[k]!, f[k + 1]!, this.lens, this.terms, f[k + 2]!, f[k + 3]!);
  }

  /**
   * Hands back a buffer from {@link out} once written, for a later call: steady appends then
   * allocate nothing (and do not feed the garbage collector's external-memory accounting 100 KB at
   * a time). The largest is kept, up to 8 MiB.
   */
  release(buf: Buffer): void {
    if (buf.length > MAX_SPARE || (this.free !== undefined && this.free.length >= buf.length)) return;
    this.free = buf;
    this.freeView = buf === this.out && this.outView !== undefined ? this.outView : new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  private closeFrame(out: Buffer, dv: DataView, start: number, end: number, i: number, j: number, callFirst: number): void {
    const first = callFirst + i;
    const length = end - start;
    dv.setUint32(start, FRAME_MAGIC, true);
    dv.setUint32(start + 8, length, true);
    dv.setUint32(start + 12, j - i, true);
    dv.setUint32(start + 16, first >>> 0, true);
    dv.setUint32(start + 20, (first / TWO_32) >>> 0, true);
    dv.setUint32(start + 24, i, true);
    dv.setUint32(start + 28, KIND_RECORDS, true);
    dv.setUint32(start + 4, this.crc(out, start + 8, end), true);
    this.frames.push(start, length, i, j - i);
  }
}

const EMPTY = Buffer.alloc(0);
const MIN_BUFFER = 64 * 1024;
/** Largest write buffer kept for reuse. */
const MAX_SPARE = 8 * 1024 * 1024;

/** A truncation frame: entries from `from` on, in the frame before it, are void. */
export function encodeTruncation(from: number, crc: Crc32cFn): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES);
  b.writeUInt32LE(FRAME_MAGIC, 0);
  b.writeUInt32LE(FRAME_HEADER_BYTES, 8);
  b.writeUInt32LE(from % TWO_32, 16);
  b.writeUInt32LE(Math.floor(from / TWO_32), 20);
  b.writeUInt32LE(KIND_TRUNCATION, 28);
  b.writeUInt32LE(crc(b, 8, FRAME_HEADER_BYTES), 4);
  return b;
}

// ------------------------------------------------------------------ decoding

/** Fields of one decoded frame header; reused between calls to avoid allocation while scanning. */
export interface FrameHeader {
  crc: number;
  length: number;
  count: number;
  first: number;
  callOffset: number;
  kind: number;
  reserved: number;
}

export function newFrameHeader(): FrameHeader {
  return { crc: 0, length: 0, count: 0, first: 0, callOffset: 0, kind: 0, reserved: 0 };
}

/** Reads the frame header at `off` into `h` (the caller checks that 32 bytes are there). False if the magic is wrong. */
export function readFrameHeader(dv: DataView, off: number, h: FrameHeader): boolean {
  if (dv.getUint32(off, true) !== FRAME_MAGIC) return false;
  h.crc = dv.getUint32(off + 4, true);
  h.length = dv.getUint32(off + 8, true);
  h.count = dv.getUint32(off + 12, true);
  h.first = dv.getUint32(off + 16, true) + dv.getUint32(off + 20, true) * TWO_32;
  h.callOffset = dv.getUint32(off + 24, true);
  const k = dv.getUint32(off + 28, true);
  h.kind = k & 0xff;
  h.reserved = k >>> 8;
  return true;
}

/** Fields of one record; reused between calls. */
export interface RecordView {
  /** Offset of the data in the buffer. */
  dataAt: number;
  length: number;
  index: number;
  term: number;
  type: number;
}

export function newRecordView(): RecordView {
  return { dataAt: 0, length: 0, index: 0, term: 0, type: 0 };
}

/** Where readRecord's varints land (one at a time, synchronously). */
const slot: VarintSlot = { value: 0 };

/**
 * Reads the record at `p` of a frame whose first index is `frameFirst`, in a segment of format
 * `version`, into `r`. Returns the position after its data, or -1 if its header or data runs past
 * `stop` (a record of a frame that passed its checksum never does, unless a writer erred).
 */
export function readRecord(b: Uint8Array, dv: DataView, p: number, stop: number, frameFirst: number, version: number, r: RecordView): number {
  if (version === 2) {
    if (stop - p < RECORD_HEADER_BYTES_V2) return -1;
    r.length = dv.getUint32(p, true);
    const hi = dv.getUint32(p + 8, true);
    r.index = dv.getUint32(p + 4, true) + (hi & 0xffffff) * TWO_32;
    r.type = hi >>> 24;
    r.term = dv.getUint32(p + 12, true) + dv.getUint32(p + 16, true) * TWO_32;
    r.dataAt = p + RECORD_HEADER_BYTES_V2;
  } else {
    p = getVarint(b, p, stop, slot);
    if (p < 0 || slot.value > MAX_RECORD_DATA || p >= stop) return -1;
    r.length = slot.value;
    r.type = b[p++]!;
    p = getVarint(b, p, stop, slot);
    if (p < 0) return -1;
    r.index = frameFirst + slot.value;
    p = getVarint(b, p, stop, slot);
    if (p < 0) return -1;
    r.term = slot.value;
    r.dataAt = p;
  }
  const end = r.dataAt + r.length;
  return end > stop ? -1 : end;
}

/**
 * Whether the frame at `off` in `buf[0, end)` of a segment of format `version` is whole and intact:
 * header plausible, frame inside `end`, checksum matching, records filling it exactly with
 * consecutive indices from its first index. `h` receives the header whenever the magic matched.
 */
export function frameValid(buf: Uint8Array, dv: DataView, off: number, end: number, h: FrameHeader, crc: Crc32cFn, version: number): boolean {
  if (end - off < FRAME_HEADER_BYTES || !readFrameHeader(dv, off, h)) return false;
  if (h.reserved !== 0 || h.first < 1 || h.first > MAX_INDEX || h.length < FRAME_HEADER_BYTES || h.length > end - off) return false;
  if (h.kind === KIND_TRUNCATION) {
    if (h.count !== 0 || h.callOffset !== 0 || h.length !== FRAME_HEADER_BYTES) return false;
  } else if (h.kind !== KIND_RECORDS || h.count === 0 || h.callOffset >= h.first) return false;
  if (crc(buf, off + 8, off + h.length) !== h.crc) return false;
  // The checksum matched; the structure must too (anything else is a writer bug, reported as damage).
  const stop = off + h.length;
  const r = scratchRecord;
  let p = off + FRAME_HEADER_BYTES;
  for (let k = 0; k < h.count; k++) {
    p = readRecord(buf, dv, p, stop, h.first, version, r);
    if (p < 0 || r.index !== h.first + k) return false;
  }
  return p === stop;
}

const scratchRecord = newRecordView();

/** The entry type stored in a record, typed. */
export function entryType(t: number): EntryType {
  return t as EntryType;
}
