/**
 * Opening a log: scan every segment, rebuild the in-memory index, repair a torn tail.
 *
 * - Records must carry consecutive indices across all segments; the first one held must not lie
 *   above the log's first index (the compaction marker, or 1). An intact record out of sequence
 *   means records are missing: reported.
 * - A damaged record (checksum or framing) at the end of the last segment is a
 *   write interrupted by a crash: the file is truncated to the last intact record. It counts as
 *   the end only if nothing after it belongs to a later append call; an intact record of a later
 *   call means acknowledged data was damaged, which is reported, never skipped.
 * - Damage anywhere in a segment that is followed by another segment is always reported: a new
 *   segment is only started after the previous one was made durable.
 * - Segments wholly below the first index (left by a compaction interrupted by a crash) are deleted.
 */
import { open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, type Logger } from '@tessera/raft';
import { wordsOf } from './crc32c.js';
import { fsyncDir, readFull, TMP_SUFFIX } from './durable-fs.js';
import { EntryIndex } from './entry-index.js';
import { FIRST_INDEX_FILE, readFirstIndex } from './first-index.js';
import { HEADER_BYTES, MAX_RECORD_DATA, newHeader, readHeader, recordValid, type RecordHeader } from './record.js';
import { parseSegmentName, Segment, segmentName } from './segment.js';

export interface RecoveredLog {
  readonly segments: Segment[];
  readonly index: EntryIndex;
  readonly nextSeq: number;
}

export interface RecoverOptions {
  readonly sync: boolean;
  readonly logger: Logger;
  readonly group: string;
}

export async function recoverLog(dir: string, opts: RecoverOptions): Promise<RecoveredLog> {
  const names = await readdir(dir);
  for (const n of names) if (n.endsWith(TMP_SUFFIX)) await unlink(join(dir, n));
  const seqs = names
    .map(parseSegmentName)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
  const marker = await readFirstIndex(join(dir, FIRST_INDEX_FILE));
  const first = marker ?? 1;

  // Segments followed by one that starts at or below `first` hold only compacted records: skip
  // them unread (a compaction deletes whole segments oldest first, so they may be left over).
  let start = 0;
  while (start < seqs.length - 1) {
    const next = await firstRecordIndex(join(dir, segmentName(seqs[start + 1]!)));
    if (next === undefined || next > first) break;
    start++;
  }
  const doomed = seqs.slice(0, start).map((s) => join(dir, segmentName(s)));

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
    const r = scanSegment(bytes, path, first, expected, isLast, (i, term, off, len) => index.push(seq, off, len, term));
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
    segments.push(Segment.at(dir, seq, r.firstIndex ?? expected ?? first, r.end));
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

interface ScanResult {
  /** Bytes of intact records. */
  end: number;
  /** Index of the first record in the file. */
  firstIndex: number | undefined;
  /** Index expected after the last intact record. */
  next: number | undefined;
  tornAt?: number;
  detail?: string;
}

/** Walks the records of one segment, calling `push` for each one at or above `first`. */
function scanSegment(
  bytes: Buffer,
  path: string,
  first: number,
  expected: number | undefined,
  isLast: boolean,
  push: (index: number, term: number, offset: number, length: number) => void,
): ScanResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const words = wordsOf(bytes.buffer);
  const h = newHeader();
  let firstIndex: number | undefined;
  let off = 0;
  while (off < bytes.length) {
    const intact = recordValid(bytes, dv, words, off, bytes.length, h);
    if (intact && expected === undefined && h.index > first) {
      throw new CorruptionError(`${path}: the log's first index is ${first} but its first record holds index ${h.index}: records are missing`);
    }
    if (intact && (expected === undefined || h.index === expected)) {
      firstIndex ??= h.index;
      if (h.index >= first) push(h.index, h.term, off, h.length);
      expected = h.index + 1;
      off += HEADER_BYTES + h.length;
      continue;
    }
    const detail = describeDamage(bytes, dv, off, intact, h, expected);
    if (intact) {
      // An intact record in the wrong place is not a torn write: records are missing or misplaced.
      throw new CorruptionError(`${path}: record at offset ${off} ${detail}: records are missing or out of place`);
    }
    if (!isLast) {
      throw new CorruptionError(`${path}: damaged record at offset ${off} (${detail}) in a segment followed by a newer one`);
    }
    const later = findLaterWrite(bytes, dv, words, off, expected);
    if (later !== undefined) {
      throw new CorruptionError(`${path}: damaged record at offset ${off} (${detail}) is followed by an intact record of a later write at offset ${later}`);
    }
    return { end: off, firstIndex, next: expected, tornAt: off, detail };
  }
  return { end: off, firstIndex, next: expected };
}

/**
 * The offset of an intact record after the damage at `off` that belongs to a later append call
 * than the damaged record (index `expected`), or undefined if every intact record found after it
 * is part of the same call, i.e. the damage is the torn end of the last write.
 */
function findLaterWrite(bytes: Buffer, dv: DataView, words: Int32Array, off: number, expected: number | undefined): number | undefined {
  const h = newHeader();
  let y = off + 1;
  while (y + HEADER_BYTES <= bytes.length) {
    if (recordValid(bytes, dv, words, y, bytes.length, h)) {
      if (expected === undefined || h.index - h.batchPos > expected) return y;
      y += HEADER_BYTES + h.length;
    } else y++;
  }
  return undefined;
}

function describeDamage(bytes: Buffer, dv: DataView, off: number, intact: boolean, h: RecordHeader, expected: number | undefined): string {
  if (intact) return `holds index ${h.index}, expected ${expected}`;
  if (bytes.length - off < HEADER_BYTES) return `${bytes.length - off} bytes, shorter than a record header`;
  readHeader(dv, off, h);
  if (h.length > MAX_RECORD_DATA || h.length > bytes.length - off - HEADER_BYTES) return `claims ${h.length} data bytes, ${bytes.length - off - HEADER_BYTES} remain`;
  return 'checksum mismatch';
}

/** Index of the first record of a segment if that record is intact, else undefined. */
async function firstRecordIndex(path: string): Promise<number | undefined> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    if ((await readFull(fh, head, 0, HEADER_BYTES, 0)) < HEADER_BYTES) return undefined;
    const h = readHeader(new DataView(head.buffer, head.byteOffset, HEADER_BYTES), 0, newHeader());
    if (h.length > MAX_RECORD_DATA) return undefined;
    const rec = Buffer.allocUnsafeSlow(HEADER_BYTES + h.length);
    if ((await readFull(fh, rec, 0, rec.length, 0)) < rec.length) return undefined;
    const dv = new DataView(rec.buffer, rec.byteOffset, rec.length);
    return recordValid(rec, dv, wordsOf(rec.buffer), 0, rec.length, h) ? h.index : undefined;
  } finally {
    await fh.close();
  }
}

