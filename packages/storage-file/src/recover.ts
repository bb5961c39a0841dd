/**
 * Opening a log: scan every segment, rebuild the in-memory index, repair a torn tail.
 *
 * - Every segment starts with a header of format 2 or 3 (see frame.ts); anything else is reported
 *   (format 1 is not read). Each segment's records are read in its own header's format.
 * - Records frames must carry consecutive indices across all segments; the first one held must not
 *   lie above the log's first index (the compaction marker, or 1). An intact frame out of sequence
 *   means records are missing: reported. A truncation frame voids the entries from its index on
 *   (it must lie inside its segment's records); the next frame continues from there.
 * - Zeros from the end of the last segment's frames to the end of its file are preallocated space
 *   (see the `preallocateBytes` option): the log ends there, and appends overwrite them. Only the
 *   last segment may have them (a segment's zero tail is cut before a newer segment is started).
 * - A damaged frame (checksum or framing) at the end of the last segment is a write interrupted by
 *   a crash: the file is truncated to the last intact frame. It counts as the end only if nothing
 *   after it belongs to a later call; an intact frame of a later call means acknowledged data was
 *   damaged, which is reported, never skipped.
 * - Damage anywhere in a segment that is followed by another segment is always reported: a new
 *   segment is only started after the previous one was made durable.
 * - Segments wholly below the first index (left by a compaction interrupted by a crash) are deleted.
 * - A last segment holding no more than a damaged header is a creation interrupted by a crash: deleted.
 */
import { open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, type Logger } from '@tessera/raft';
import { fsyncDir, readFull, TMP_SUFFIX, type Crc32cFn } from '@tessera/snapshot-files';
import { EntryIndex } from './entry-index.js';
import { FIRST_INDEX_FILE, readFirstIndex } from './first-index.js';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC_BYTES,
  frameValid,
  KIND_TRUNCATION,
  MAX_RECORD_DATA,
  newFrameHeader,
  MAX_RECORD_HEADER_BYTES,
  newRecordView,
  readFrameHeader,
  readRecord,
  SEGMENT_HEADER_BYTES,
  segmentHeaderProblem,
  segmentVersion,
  type FrameHeader,
} from './frame.js';
import { parseSegmentName, Segment, segmentName } from './segment.js';

export interface RecoveredLog {
  readonly segments: Segment[];
  readonly index: EntryIndex;
  readonly nextSeq: number;
}

export interface RecoverOptions {
  readonly sync: boolean;
  /** Open the segments for appends with `O_DSYNC` (see segment.ts). */
  readonly writeThrough: boolean;
  readonly logger: Logger;
  readonly group: string;
  readonly crc32c: Crc32cFn;
}

export async function recoverLog(dir: string, opts: RecoverOptions): Promise<RecoveredLog> {
  const names = await readdir(dir);
  for (const n of names) if (n.endsWith(TMP_SUFFIX)) await unlink(join(dir, n));
  const seqs = names
    .map(parseSegmentName)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
  const doomed: string[] = [];
  // A crash between creating the newest segment and making its header durable leaves a file with
  // at most a damaged header and no frames (frames follow a durable header): it holds nothing.
  const newest = seqs.length > 0 ? join(dir, segmentName(seqs[seqs.length - 1]!)) : undefined;
  if (newest !== undefined && (await unfinishedSegment(newest, opts.crc32c))) {
    opts.logger.warn({ group: opts.group, file: newest }, 'storage-file: deleting a segment whose creation a crash interrupted');
    doomed.push(newest);
    seqs.pop();
  }
  const marker = await readFirstIndex(join(dir, FIRST_INDEX_FILE));
  const first = marker ?? 1;

  // Segments followed by one that starts at or below `first` hold only compacted records: skip
  // them unread (a compaction deletes whole segments oldest first, so they may be left over).
  let start = 0;
  while (start < seqs.length - 1) {
    const next = await firstRecordIndex(join(dir, segmentName(seqs[start + 1]!)), opts.crc32c);
    if (next === undefined || next > first) break;
    start++;
  }
  for (const s of seqs.slice(0, start)) doomed.push(join(dir, segmentName(s)));

  const index = new EntryIndex();
  index.reset(first);
  const segments: Segment[] = [];
  // Without a compaction marker the log must start at index 1; with one, the first segment may
  // begin with compacted records of unknown index.
  let expected: number | undefined = marker === undefined ? 1 : undefined;
  for (let k = start; k < seqs.length; k++) {
    const seq = seqs[k]!;
    const path = join(dir, segmentName(seq));
    const bytes = await readFile(path);
    const isLast = k === seqs.length - 1;
    const r = scanSegment(bytes, path, first, expected, isLast, opts.crc32c, index, seq);
    if (r.tornAt !== undefined) {
      opts.logger.warn(
        { group: opts.group, file: path, offset: r.tornAt, droppedBytes: bytes.length - r.tornAt, detail: r.detail },
        'storage-file: truncating a torn write at the end of the log',
      );
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(r.tornAt);
        if (opts.sync) await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    const seg = Segment.at(dir, seq, r.firstIndex ?? expected ?? first, r.end, opts.writeThrough, segmentVersion(bytes));
    if (r.zeroTail) seg.allocated = bytes.length;
    segments.push(seg);
    expected = r.next ?? expected;
  }

  // Drop segments whose every record lies below `first`.
  const lastRecord = expected === undefined ? 0 : expected - 1;
  while (segments.length > 0) {
    const segLast = segments.length > 1 ? segments[1]!.first - 1 : lastRecord;
    if (segLast >= first) break;
    doomed.push(segments.shift()!.path);
  }
  for (const p of doomed) await unlink(p);
  if (doomed.length > 0 && opts.sync) await fsyncDir(dir);
  return { segments, index, nextSeq: (seqs[seqs.length - 1] ?? 0) + 1 };
}

/** Whether the segment at `path` is no longer than its header and the header is not whole. */
async function unfinishedSegment(path: string, crc: Crc32cFn): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    if ((await fh.stat()).size > SEGMENT_HEADER_BYTES) return false;
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const n = await readFull(fh, head, 0, SEGMENT_HEADER_BYTES, 0);
    return segmentHeaderProblem(head.subarray(0, n), crc) !== undefined;
  } finally {
    await fh.close();
  }
}

interface ScanResult {
  /** Bytes up to the end of the last intact frame. */
  end: number;
  /** Index of the first record in the file. */
  firstIndex: number | undefined;
  /** Index expected after the last intact frame. */
  next: number | undefined;
  tornAt?: number;
  detail?: string;
  /** The bytes after `end` are zeros (preallocated): the file is longer than its frames. */
  zeroTail?: boolean;
}

/** Walks the frames of one segment, pushing every record at or above `first` into `index`. */
function scanSegment(
  bytes: Buffer,
  path: string,
  first: number,
  expected: number | undefined,
  isLast: boolean,
  crc: Crc32cFn,
  index: EntryIndex,
  seq: number,
): ScanResult {
  const problem = segmentHeaderProblem(bytes, crc);
  if (problem !== undefined) throw new CorruptionError(`${path}: bad segment header at offset 0: ${problem}`);
  const version = segmentVersion(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const h = newFrameHeader();
  let firstIndex: number | undefined;
  let off = SEGMENT_HEADER_BYTES;
  while (off < bytes.length) {
    const intact = frameValid(bytes, dv, off, bytes.length, h, crc, version);
    if (intact && h.kind === KIND_TRUNCATION) {
      // Valid only inside this segment's records, below the next index.
      if (firstIndex === undefined || expected === undefined || h.first <= firstIndex || h.first >= expected) {
        throw new CorruptionError(`${path}: truncation frame at offset ${off} (index ${h.first}) lies outside the records before it: records are missing or out of place`);
      }
      index.truncateFrom(h.first);
      expected = h.first;
      off += h.length;
      continue;
    }
    if (intact && expected === undefined && h.first > first) {
      throw new CorruptionError(`${path}: the log's first index is ${first} but its first record holds index ${h.first} (offset ${off}): records are missing`);
    }
    if (intact && (expected === undefined || h.first === expected)) {
      firstIndex ??= h.first;
      pushRecords(bytes, dv, off, h, first, index, seq, version);
      expected = h.first + h.count;
      off += h.length;
      continue;
    }
    const detail = describeDamage(bytes, dv, off, intact, h, expected);
    if (intact) {
      // An intact frame in the wrong place is not a torn write: records are missing or misplaced.
      throw new CorruptionError(`${path}: frame at offset ${off} ${detail}: records are missing or out of place`);
    }
    if (!isLast) {
      throw new CorruptionError(`${path}: damaged frame at offset ${off} (${detail}) in a segment followed by a newer one`);
    }
    if (allZero(bytes, off)) return { end: off, firstIndex, next: expected, zeroTail: true };
    const later = findLaterWrite(bytes, dv, off, expected, crc, version);
    if (later !== undefined) {
      throw new CorruptionError(`${path}: damaged frame at offset ${off} (${detail}) is followed by an intact frame of a later write at offset ${later}`);
    }
    return { end: off, firstIndex, next: expected, tornAt: off, detail };
  }
  return { end: off, firstIndex, next: expected };
}

/** Whether every byte of `bytes` from `off` on is zero. */
function allZero(bytes: Buffer, off: number): boolean {
  const zeros = Buffer.alloc(Math.min(64 * 1024, bytes.length - off));
  for (let i = off; i < bytes.length; i += zeros.length) {
    const n = Math.min(zeros.length, bytes.length - i);
    if (!bytes.subarray(i, i + n).equals(n === zeros.length ? zeros : zeros.subarray(0, n))) return false;
  }
  return true;
}

/** Pushes the records of an intact frame (checked by frameValid) from index `first` on. */
function pushRecords(bytes: Buffer, dv: DataView, off: number, h: FrameHeader, first: number, index: EntryIndex, seq: number, version: number): void {
  const r = newRecordView();
  const stop = off + h.length;
  let p = off + FRAME_HEADER_BYTES;
  for (let k = 0; k < h.count; k++) {
    p = readRecord(bytes, dv, p, stop, h.first, version, r);
    if (r.index >= first) index.push(seq, off, h.length, r.length, r.term);
  }
}

/**
 * The offset of an intact frame after the damage at `off` that belongs to a later call than the
 * damaged frame (which should start at `expected`), or undefined if every intact frame found after
 * it continues the same call, i.e. the damage is the torn end of the last write. A continuation
 * frame of that call starts above `expected` and its call started at or below it; anything else
 * (a call's first frame, a truncation) was written later.
 */
function findLaterWrite(bytes: Buffer, dv: DataView, off: number, expected: number | undefined, crc: Crc32cFn, version: number): number | undefined {
  const h = newFrameHeader();
  let y = bytes.indexOf(FRAME_MAGIC_BYTES, off + 1);
  while (y >= 0) {
    if (frameValid(bytes, dv, y, bytes.length, h, crc, version)) {
      const sameCall = expected !== undefined && h.kind !== KIND_TRUNCATION && h.callOffset > 0 && h.first > expected && h.first - h.callOffset <= expected;
      if (!sameCall) return y;
      y = bytes.indexOf(FRAME_MAGIC_BYTES, y + h.length);
    } else y = bytes.indexOf(FRAME_MAGIC_BYTES, y + 1);
  }
  return undefined;
}

function describeDamage(bytes: Buffer, dv: DataView, off: number, intact: boolean, h: FrameHeader, expected: number | undefined): string {
  if (intact) return `holds index ${h.first}, expected ${expected}`;
  const left = bytes.length - off;
  if (left < FRAME_HEADER_BYTES) return `${left} bytes, shorter than a frame header`;
  if (!readFrameHeader(dv, off, h)) return 'no frame magic';
  if (h.length > left) return `claims ${h.length} bytes, ${left} remain`;
  return 'checksum mismatch';
}

/** Index of the first record of a segment if its first frame is intact, else undefined. */
async function firstRecordIndex(path: string, crc: Crc32cFn): Promise<number | undefined> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES);
    if ((await readFull(fh, head, 0, head.length, 0)) < head.length) return undefined;
    if (segmentHeaderProblem(head, crc) !== undefined) return undefined;
    const h = newFrameHeader();
    if (!readFrameHeader(new DataView(head.buffer, head.byteOffset, head.length), SEGMENT_HEADER_BYTES, h)) return undefined;
    if (h.length > MAX_RECORD_DATA + FRAME_HEADER_BYTES + MAX_RECORD_HEADER_BYTES || h.length < FRAME_HEADER_BYTES) return undefined;
    const frame = Buffer.allocUnsafeSlow(h.length);
    if ((await readFull(fh, frame, 0, h.length, SEGMENT_HEADER_BYTES)) < h.length) return undefined;
    const version = segmentVersion(head);
    return frameValid(frame, new DataView(frame.buffer, frame.byteOffset, frame.length), 0, frame.length, h, crc, version) && h.kind !== KIND_TRUNCATION ? h.first : undefined;
  } finally {
    await fh.close();
  }
}
