/**
 * The log record format. Every entry is one record; an append call writes its records back to back
 * in one buffer. All integers little-endian.
 *
 * ```
 * offset size field
 *      0    4 crc32c of bytes [4, 32 + length)   (header after this field, then data)
 *      4    4 length of data in bytes
 *      8    8 index (u64)
 *     16    8 term (u64)
 *     24    1 entry type
 *     25    3 reserved, zero
 *     28    4 position within its append call (0 for the first entry of the call)
 *     32    … data
 * ```
 *
 * The position within the append call lets recovery tell a torn final write (damage followed only
 * by records of the same call) from damage to earlier data (followed by a later call's records).
 */
import type { EntryType, LogEntry } from '@tessera/raft';
import { crc32cWords } from './crc32c.js';

export const HEADER_BYTES = 32;
const TWO_32 = 2 ** 32;
/** Largest data length a record may claim: anything bigger is damage, not data. */
export const MAX_RECORD_DATA = 2 ** 31 - 1;

/** Bytes the records of `entries` take. */
export function encodedSize(entries: readonly LogEntry[]): number {
  let n = 0;
  for (let i = 0; i < entries.length; i++) n += HEADER_BYTES + entries[i]!.data.byteLength;
  return n;
}

/**
 * Encodes `entries` as consecutive records into `out` from byte 0 (`out` must hold at least
 * {@link encodedSize} long, start at byte 0 of its ArrayBuffer, and `words` must view that
 * ArrayBuffer). Calls `onRecord(i, offset)` with each record's offset so the caller can index it
 * without a second pass.
 */
export function encodeRecords(
  entries: readonly LogEntry[],
  out: Uint8Array,
  words: Int32Array,
  onRecord: (i: number, offset: number) => void,
): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let off = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const len = e.data.byteLength;
    dv.setUint32(off + 4, len, true);
    dv.setUint32(off + 8, e.index % TWO_32, true);
    dv.setUint32(off + 12, Math.floor(e.index / TWO_32), true);
    dv.setUint32(off + 16, e.term % TWO_32, true);
    dv.setUint32(off + 20, Math.floor(e.term / TWO_32), true);
    dv.setUint32(off + 24, e.type, true);
    dv.setUint32(off + 28, i, true);
    out.set(e.data, off + HEADER_BYTES);
    const end = off + HEADER_BYTES + len;
    dv.setUint32(off, crc32cWords(out, words, off + 4, end), true);
    onRecord(i, off);
    off = end;
  }
}

/** Fields of one decoded record header; reused between calls to avoid allocation while scanning. */
export interface RecordHeader {
  crc: number;
  length: number;
  index: number;
  term: number;
  type: number;
  reserved: number;
  batchPos: number;
}

export function newHeader(): RecordHeader {
  return { crc: 0, length: 0, index: 0, term: 0, type: 0, reserved: 0, batchPos: 0 };
}

/** Reads the header at `off` into `h`. The caller checks that 32 bytes are there. */
export function readHeader(dv: DataView, off: number, h: RecordHeader): RecordHeader {
  h.crc = dv.getUint32(off, true);
  h.length = dv.getUint32(off + 4, true);
  h.index = dv.getUint32(off + 8, true) + dv.getUint32(off + 12, true) * TWO_32;
  h.term = dv.getUint32(off + 16, true) + dv.getUint32(off + 20, true) * TWO_32;
  const t = dv.getUint32(off + 24, true);
  h.type = t & 0xff;
  h.reserved = t >>> 8;
  h.batchPos = dv.getUint32(off + 28, true);
  return h;
}

/**
 * Whether the record at `off` in `buf[0, end)` is whole and intact: header plausible, data inside
 * `end`, checksum matching. `h` receives the header either way.
 */
export function recordValid(buf: Uint8Array, dv: DataView, words: Int32Array, off: number, end: number, h: RecordHeader): boolean {
  if (end - off < HEADER_BYTES) return false;
  readHeader(dv, off, h);
  if (h.reserved !== 0 || h.length > MAX_RECORD_DATA || h.index < 1 || h.batchPos > h.index) return false;
  if (h.length > end - off - HEADER_BYTES) return false;
  return crc32cWords(buf, words, off + 4, off + HEADER_BYTES + h.length) === h.crc;
}

/** The entry type stored in a record, typed. */
export function entryType(t: number): EntryType {
  return t as EntryType;
}
