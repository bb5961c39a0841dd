/**
 * The segmented file log of one group.
 *
 * Every call updates the in-memory state (index, segment sizes) at once, so `firstIndex`,
 * `lastIndex`, `term` and the layout of every later write are known when the call is made; the
 * file work is queued and runs strictly in call order, one call's I/O at a time. An append is
 * encoded when it is called (one checksummed frame, see frame.ts) and is then one positional
 * write; with `sync: 'always'` the segment is opened with `O_DSYNC`, so that write returns only
 * once durable (the guarantee of write + fdatasync, in one system call; platforms without
 * `O_DSYNC` get a separate fdatasync).
 *
 * Pipelining: a caller may make the next append while the previous one is still being written
 * (the Raft runtime keeps two in flight). Its encoding then runs on the event loop while the
 * previous write runs in the thread pool, and its write starts the moment the previous one
 * completed, before the previous call's promise resolves. Writes never overlap, so at most one
 * call's bytes are ever unsynced: after a power loss only the last call can be torn, which is
 * what recovery's torn-tail rule assumes.
 *
 * Preallocation (`sync: 'always'`, small appends): the newest segment is kept ahead of its writes
 * with zeros, written and made durable by a fill that runs beside the queue (see `extend`), so an
 * append's `O_DSYNC` write overwrites blocks the file has instead of growing it, and needs no
 * journal commit. A write that would reach into a fill in flight waits for it; the zero tail is
 * cut before a newer segment starts, and recovery reads it as the end of the log.
 *
 * Reads run concurrently with writes. A read waits only for queued appends whose entries it needs
 * to be written (not synced); calls that destroy bytes (truncation, compaction) wait for the reads
 * made before them, so a read never sees its bytes change under it.
 */
import { fdatasync, write, writev } from 'node:fs';
import { unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, LogCompactedError, LogRangeError, StorageError, type LogEntry, type LogStore, type Logger } from '@tessera/raft';
import { asStorageError, fsyncDir, readFull, writeAll, type Crc32cFn } from '@tessera/snapshot-files';
import type { EntryIndex } from './entry-index.js';
import { FIRST_INDEX_FILE, writeFirstIndex } from './first-index.js';
import {
  encodeSegmentHeader,
  encodeTruncation,
  entryType,
  FRAME_HEADER_BYTES,
  FrameEncoder,
  frameValid,
  KIND_RECORDS,
  newFrameHeader,
  newRecordView,
  readRecord,
  FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
} from './frame.js';
import { recoverLog } from './recover.js';
import { O_DSYNC, Segment, type Extension } from './segment.js';
import type { SyncPolicy } from './options.js';

export interface FileLogStoreOptions {
  /** The group's log directory (exists). */
  readonly dir: string;
  readonly group: string;
  readonly sync: SyncPolicy;
  readonly syncIntervalMs: number;
  readonly segmentBytes: number;
  /** Zeros kept written ahead of the newest segment's last write (`sync: 'always'` only; 0: none). */
  readonly preallocateBytes: number;
  readonly crc32c: Crc32cFn;
  readonly logger: Logger;
}

/** An append whose bytes are not written yet: reads of its entries wait for `written`. */
interface PendingWrite {
  readonly lo: number;
  readonly written: Promise<void>;
}

/** Entries `[lo, lo + count)`, all held by the frame at `start` (`length` bytes). */
interface FrameRun {
  readonly start: number;
  readonly length: number;
  readonly lo: number;
  readonly count: number;
}

/** Frames of one segment read with one pread, captured when a read is made. */
interface Span {
  readonly seg: Segment;
  readonly start: number;
  end: number;
  readonly runs: FrameRun[];
}

/**
 * A queued call's file work, run after every earlier one. It reports by calling `ok` or `fail`
 * (once), possibly straight from an I/O callback: no promise turns between one task's end and
 * the next one's start.
 */
interface Task {
  readonly what: string;
  readonly run: (ok: () => void, fail: (err: unknown) => void) => void;
  readonly always: (() => void) | undefined;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const noop = (): void => {};

/** The first zero fill of a segment; later ones match what the segment already holds, up to the option. */
const MIN_PREALLOCATE = 64 * 1024;
/**
 * Preallocation pays only for small appends: it saves each append a journal commit (tens of µs)
 * but writes every byte twice (zeros first). Above this mean append size (measured: 130 KB appends
 * cost more CPU with it, 6 KB appends 30% less) the log grows its file as it would without it.
 */
const PREALLOCATE_MAX_MEAN_APPEND = 32 * 1024;
/** Zeros for preallocation, written as many iovecs of this one (never written to). */
const ZEROS = Buffer.alloc(1024 * 1024);

/** A task from an async function. */
function fromAsync(run: () => Promise<void>): Task['run'] {
  return (ok, fail) => void run().then(ok, fail);
}

export class FileLogStore implements LogStore {
  private readonly queue: Task[] = [];
  private running = false;
  /** Appends are durable when their write returns (`sync: 'always'` where `O_DSYNC` exists). */
  private readonly writeThrough: boolean;
  private failure: Error | undefined;
  private closed = false;
  private readonly pending: PendingWrite[] = [];
  private readonly reads = new Set<Promise<unknown>>();
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly encoder: FrameEncoder;
  /** Bytes of zeros to keep ahead of the newest segment's writes (0: off; see `preallocateBytes`). */
  private preallocate: number;
  /** Moving mean of append sizes in bytes (see {@link PREALLOCATE_MAX_MEAN_APPEND}); -1 before the first. */
  private meanAppend = -1;

  private constructor(
    private readonly opts: FileLogStoreOptions,
    private readonly idx: EntryIndex,
    /** Oldest first; the last one takes appends. */
    private readonly segments: Segment[],
    private nextSeq: number,
  ) {
    this.encoder = new FrameEncoder(opts.crc32c);
    this.writeThrough = opts.sync === 'always' && O_DSYNC !== undefined;
    // Only an O_DSYNC write gains from overwriting: with the other policies the journal commit
    // happens once per fdatasync or never.
    this.preallocate = this.writeThrough ? opts.preallocateBytes : 0;
  }

  /** Recovers the log in `opts.dir` (see recover.ts) and opens it for appends. */
  static async open(opts: FileLogStoreOptions): Promise<FileLogStore> {
    const writeThrough = opts.sync === 'always' && O_DSYNC !== undefined;
    const r = await recoverLog(opts.dir, { sync: opts.sync !== 'never', writeThrough, logger: opts.logger, group: opts.group, crc32c: opts.crc32c });
    return new FileLogStore(opts, r.index, r.segments, r.nextSeq);
  }

  firstIndex(): number {
    return this.idx.first;
  }

  lastIndex(): number {
    return this.idx.last;
  }

  append(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const refused = this.refuse();
    if (refused) return refused;
    const expect = this.idx.last + 1;
    const encoder = this.encoder;
    const size = encoder.encode(entries, expect);
    if (size < 0) {
      const i = -1 - size;
      return Promise.reject(new LogRangeError(`append: expected index ${expect + i}, got ${entries[i]!.index} (group ${this.opts.group})`));
    }
    this.meanAppend = this.meanAppend < 0 ? size : this.meanAppend + (size - this.meanAppend) / 16;
    const prev = this.segments[this.segments.length - 1];
    let seg = prev;
    // A segment of an older format (from before an upgrade) takes no appends: records of one
    // segment share its header's version.
    const roll = seg === undefined || seg.version !== FORMAT_VERSION || (seg.size > SEGMENT_HEADER_BYTES && seg.size + size > this.opts.segmentBytes);
    if (roll) {
      seg = Segment.at(this.opts.dir, this.nextSeq++, expect, SEGMENT_HEADER_BYTES, this.writeThrough);
      this.segments.push(seg);
    }
    const target = seg!;
    const base = target.size;
    const buf = encoder.out;
    encoder.index(this.idx, target.seq, base);
    target.size += size;
    if (target.size > target.reserved) target.reserved = target.size;

    let markWritten = noop;
    const pw: PendingWrite = { lo: expect, written: new Promise<void>((r) => (markWritten = r)) };
    this.pending.push(pw);
    const settled = () => {
      const at = this.pending.indexOf(pw);
      if (at >= 0) this.pending.splice(at, 1);
      markWritten();
    };
    const sync = this.opts.sync;
    const afterWrite = (fh: FileHandle, ok: () => void, fail: (err: unknown) => void): void => {
      encoder.release(buf);
      settled();
      if (base + size > target.allocated) target.allocated = base + size;
      if (this.preallocate > 0) this.extend(target, fh);
      if (sync === 'always') {
        if (this.writeThrough) ok();
        else fdatasync(fh.fd, (err) => (err ? fail(err) : ok()));
      } else {
        target.dirty = true;
        if (sync === 'interval') this.scheduleSync();
        ok();
      }
    };
    const slow = async (fh: FileHandle | undefined, done: number): Promise<FileHandle> => {
      if (fh === undefined) {
        if (roll) {
          // The previous segment must be durable before a newer one exists (recovery relies on
          // it), and end with its last frame: only the newest segment may have a zero tail.
          if (prev) await this.trimZeros(prev);
          if (prev?.dirty && sync !== 'never') await this.syncSegment(prev);
          fh = await target.create(encodeSegmentHeader(this.opts.crc32c), sync !== 'never');
          if (sync !== 'never') await fsyncDir(this.opts.dir);
        } else fh = await target.handle();
      }
      await writeAll(fh, buf.subarray(done, size), size - done, base + done);
      return fh;
    };
    return this.enqueueTask(
      'append',
      (ok, fail) => {
        const fh = roll ? undefined : target.openHandle();
        const ext = target.extension;
        if (ext !== undefined && base + size > ext.from) {
          // The write would land on bytes a zero fill is still writing: after it.
          ext.done.then(() => slow(fh, 0)).then((h) => afterWrite(h, ok, fail), fail);
          return;
        }
        if (fh === undefined) {
          slow(undefined, 0).then((h) => afterWrite(h, ok, fail), fail);
          return;
        }
        // The common case: the callback API on the open descriptor, so that this write's
        // completion starts the next call's write without a turn of the event loop (see the
        // module comment). The handle stays open: only queued tasks close segments.
        write(fh.fd, buf, 0, size, base, (err, n) => {
          if (err) fail(err);
          else if (n === size) afterWrite(fh, ok, fail);
          else if (n <= 0) fail(new Error(`write returned ${n}`));
          else slow(fh, n).then(() => afterWrite(fh, ok, fail), fail);
        });
      },
      settled,
    );
  }

  truncateSuffix(from: number): Promise<void> {
    const refused = this.refuse();
    if (refused) return refused;
    if (from < this.idx.first) {
      return Promise.reject(new LogRangeError(`truncateSuffix(${from}) below first index ${this.idx.first} (group ${this.opts.group})`));
    }
    if (from > this.idx.last) return this.enqueue('truncate', async () => {});
    const idx = this.idx;
    const seq = idx.segment(from);
    const frame = idx.frameStart(from);
    const at = this.segments.findIndex((s) => s.seq === seq);
    const seg = this.segments[at]!;
    const later = this.segments.splice(at + 1);
    // At a frame's first entry the file is cut there. Inside a frame (the entry before lives in
    // the same frame) the frame must stay whole (its checksum covers all of it): a truncation frame
    // appended to the segment voids its tail and whatever follows it. Nothing in that segment is
    // cut, so no crash can bring back entries that an earlier truncation frame voided. At the first
    // index the entry before is compacted and its frame unknown: cutting could remove compacted
    // records before the cut and leave a gap, so only a segment's very first entry is cut there.
    const inside = from > idx.first ? idx.segment(from - 1) === seq && idx.frameStart(from - 1) === frame : seg.first < from;
    const cut = inside ? seg.size : frame;
    const marker = inside ? encodeTruncation(from, this.opts.crc32c) : undefined;
    seg.size = cut + (marker ? FRAME_HEADER_BYTES : 0);
    if (seg.size > seg.reserved) seg.reserved = seg.size;
    idx.truncateFrom(from);
    const readers = [...this.reads];
    const sync = this.opts.sync !== 'never';
    return this.enqueue('truncate', async () => {
      await Promise.allSettled(readers);
      // Newest first, so a crash part-way leaves a shorter but gap-free log.
      for (const s of later.reverse()) {
        await s.close();
        await unlink(s.path);
        if (sync) await fsyncDir(this.opts.dir);
      }
      await seg.extension?.done;
      const fh = await seg.handle();
      if (marker) {
        await writeAll(fh, marker, marker.length, cut);
        if (cut + marker.length > seg.allocated) seg.allocated = cut + marker.length;
      } else {
        await fh.truncate(cut);
        seg.allocated = cut;
        seg.reserved = Math.max(cut, seg.size);
      }
      // Always durable, whatever the policy: a later append must never land on top of stale records.
      if (sync) await fh.datasync();
      seg.dirty = false;
    });
  }

  compactPrefix(upTo: number): Promise<void> {
    const refused = this.refuse();
    if (refused) return refused;
    if (upTo < this.idx.first) return this.enqueue('compact', async () => {});
    const first = upTo + 1;
    let drop: Segment[];
    if (upTo >= this.idx.last) {
      drop = this.segments.splice(0);
      this.idx.reset(first);
    } else {
      let n = 0;
      while (n + 1 < this.segments.length && this.segments[n + 1]!.first <= first) n++;
      drop = this.segments.splice(0, n);
      this.idx.dropBefore(first);
    }
    const readers = [...this.reads];
    const sync = this.opts.sync !== 'never';
    return this.enqueue('compact', async () => {
      await Promise.allSettled(readers);
      // The marker first, then deletions oldest first: a crash in between leaves segments that
      // recovery recognises as compacted and deletes.
      await writeFirstIndex(join(this.opts.dir, FIRST_INDEX_FILE), first, sync);
      for (const s of drop) {
        await s.close();
        await unlink(s.path);
      }
      if (drop.length > 0 && sync) await fsyncDir(this.opts.dir);
    });
  }

  entries(lo: number, hi: number, maxBytes?: number): Promise<LogEntry[]> {
    const refused = this.refuse() ?? this.checkRange(lo, hi);
    if (refused) return refused as Promise<never>;
    if (lo === hi) return Promise.resolve([]);
    let end = hi;
    if (maxBytes !== undefined) {
      let bytes = 0;
      for (let i = lo; i < hi; i++) {
        bytes += this.idx.length(i);
        if (bytes >= maxBytes) {
          end = i + 1;
          break;
        }
      }
    }
    const spans = this.plan(lo, end);
    let wait: Promise<void> | undefined;
    for (const p of this.pending) if (p.lo < end) wait = p.written;
    const read = this.readSpans(spans, wait);
    this.reads.add(read);
    const forget = () => this.reads.delete(read);
    read.then(forget, forget);
    return read;
  }

  term(index: number): Promise<number> {
    const refused = this.refuse() ?? this.checkRange(index, index + 1);
    if (refused) return refused as Promise<never>;
    return Promise.resolve(this.idx.term(index));
  }

  /** Waits for queued writes, makes everything durable and releases the files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    await new Promise<void>((resolve) => this.enqueueUnchecked('close', async () => {}, resolve));
    await Promise.allSettled([...this.reads]);
    try {
      if (!this.failure && this.opts.sync !== 'never') for (const s of this.segments) if (s.dirty) await this.syncSegment(s);
    } finally {
      for (const s of this.segments) await s.close();
    }
  }

  // ------------------------------------------------------------------ internals

  private refuse(): Promise<never> | undefined {
    if (this.closed) return Promise.reject(new StorageError(`log of group ${this.opts.group} is closed`));
    if (this.failure) return Promise.reject(new StorageError(`log of group ${this.opts.group} failed earlier: ${this.failure.message}`, { cause: this.failure }));
    return undefined;
  }

  private checkRange(lo: number, hi: number): Promise<never> | undefined {
    const first = this.idx.first;
    const last = this.idx.last;
    if (lo < first) return Promise.reject(new LogCompactedError(lo, first));
    if (hi > last + 1) return Promise.reject(new LogRangeError(`range [${lo}, ${hi}) beyond last index ${last} (group ${this.opts.group})`));
    if (hi < lo) return Promise.reject(new LogRangeError(`range [${lo}, ${hi}) is reversed`));
    return undefined;
  }

  /**
   * Runs `task` after every earlier one. After a failure nothing else runs: the in-memory state no
   * longer matches the files, so every later call fails too. `always` runs whether or not `task` did.
   */
  private enqueue(what: string, run: () => Promise<void>, always?: () => void): Promise<void> {
    return this.enqueueTask(what, fromAsync(run), always);
  }

  /** Like {@link enqueue}, for a task that reports through callbacks (see {@link Task}). */
  private enqueueTask(what: string, run: Task['run'], always?: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => this.push({ what, run, always, resolve, reject }));
  }

  /** Like {@link enqueue}, but `done` is called once every earlier task settled, failed or not. */
  private enqueueUnchecked(what: string, run: () => Promise<void>, done: () => void): void {
    this.push({ what, run: fromAsync(run), always: undefined, resolve: done, reject: () => done() });
  }

  private push(t: Task): void {
    this.queue.push(t);
    if (!this.running) this.next();
  }

  /**
   * Starts the next task. A task's completion starts its successor before settling its own
   * promise: the successor's first I/O (an append's write) is then issued at once, rather than
   * after whatever the settled promise's caller does next on the event loop.
   */
  private next(): void {
    for (;;) {
      const t = this.queue.shift();
      if (t === undefined) {
        this.running = false;
        return;
      }
      this.running = true;
      if (this.failure) {
        t.always?.();
        t.reject(new StorageError(`log of group ${this.opts.group} failed earlier: ${this.failure.message}`, { cause: this.failure }));
        continue;
      }
      let settled = false;
      const ok = (): void => {
        if (settled) return;
        settled = true;
        t.always?.();
        this.next();
        t.resolve();
      };
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        const e = asStorageError(err, `${t.what} failed in group ${this.opts.group}`);
        this.failure ??= e;
        t.always?.();
        this.next();
        t.reject(e);
      };
      try {
        t.run(ok, fail);
      } catch (err) {
        fail(err);
      }
      return;
    }
  }

  /**
   * Keeps the newest segment `preallocate`-ish bytes of durable zeros ahead of its writes (see the
   * `preallocateBytes` option): starts one zero fill after the bytes every queued write will use,
   * unless one is in flight, enough is left, or appends are large. It runs beside the queue; a
   * write that reaches past its start waits for it. A failed fill (a full disk, say) costs nothing
   * but the preallocation, which stops for this log: appends then grow the file as they would
   * without it.
   */
  private extend(seg: Segment, fh: FileHandle): void {
    if (seg.extension !== undefined || this.closed || this.failure || seg !== this.segments[this.segments.length - 1]) return;
    if (this.meanAppend > PREALLOCATE_MAX_MEAN_APPEND) return;
    const chunk = Math.min(this.preallocate, Math.max(MIN_PREALLOCATE, seg.size - SEGMENT_HEADER_BYTES));
    // `reserved` is never below `size` (see Segment): the fill starts above every write made.
    if (seg.allocated - seg.reserved >= chunk / 2) return;
    const from = Math.max(seg.allocated, seg.reserved);
    const to = Math.min(from + chunk, this.opts.segmentBytes);
    if (to <= from) return;
    const iov: Buffer[] = [];
    for (let left = to - from; left > 0; left -= ZEROS.length) iov.push(left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left));
    let finish = noop;
    const ext: Extension = { from, to, done: new Promise<void>((r) => (finish = r)) };
    seg.extension = ext;
    writev(fh.fd, iov, from, (err, n) => {
      seg.extension = undefined;
      if (err) {
        this.preallocate = 0;
        this.opts.logger.warn({ group: this.opts.group, file: seg.path, err: err.message }, 'storage-file: preallocating the log failed; appends grow the file from now on');
      } else if (from + n > seg.allocated) seg.allocated = from + n;
      finish();
    });
  }

  /** Cuts a segment's zero tail (see {@link extend}) durably, so that it ends with its last frame. */
  private async trimZeros(s: Segment): Promise<void> {
    await s.extension?.done;
    if (s.allocated <= s.size) return;
    const fh = await s.handle();
    await fh.truncate(s.size);
    if (this.opts.sync !== 'never') await fh.datasync();
    s.allocated = s.size;
  }

  private async syncSegment(s: Segment): Promise<void> {
    s.dirty = false;
    await (await s.handle()).datasync();
  }

  /** `interval` policy: one fdatasync of every dirty segment `syncIntervalMs` after the first unsynced write. */
  private scheduleSync(): void {
    if (this.syncTimer || this.closed) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.enqueue('sync', async () => {
        for (const s of this.segments) if (s.dirty) await this.syncSegment(s);
      }).catch(noop);
    }, this.opts.syncIntervalMs);
    this.syncTimer.unref();
  }

  /**
   * The frames holding entries `[lo, end)`, captured now so later calls cannot redirect the read.
   * Frames of one segment in file order share one read (a truncation frame between them is read
   * and skipped).
   */
  private plan(lo: number, end: number): Span[] {
    const spans: Span[] = [];
    const idx = this.idx;
    let span: Span | undefined;
    let i = lo;
    while (i < end) {
      const seq = idx.segment(i);
      const start = idx.frameStart(i);
      const length = idx.frameLength(i);
      let j = i + 1;
      while (j < end && idx.frameStart(j) === start && idx.segment(j) === seq) j++;
      const run: FrameRun = { start, length, lo: i, count: j - i };
      if (span !== undefined && span.seg.seq === seq && start >= span.end && start - span.end <= FRAME_HEADER_BYTES) {
        span.runs.push(run);
        span.end = start + length;
      } else {
        span = { seg: this.segments.find((s) => s.seq === seq)!, start, end: start + length, runs: [run] };
        spans.push(span);
      }
      i = j;
    }
    return spans;
  }

  private async readSpans(spans: Span[], wait: Promise<void> | undefined): Promise<LogEntry[]> {
    if (wait) await wait;
    if (this.failure) throw new StorageError(`log of group ${this.opts.group} failed: ${this.failure.message}`, { cause: this.failure });
    const out: LogEntry[] = [];
    const h = newFrameHeader();
    const r = newRecordView();
    const crc = this.opts.crc32c;
    for (const span of spans) {
      const n = span.end - span.start;
      const buf = Buffer.allocUnsafeSlow(n);
      const got = await readFull(await span.seg.handle(), buf, 0, n, span.start);
      const dv = new DataView(buf.buffer, buf.byteOffset, n);
      for (const run of span.runs) {
        const off = run.start - span.start;
        const version = span.seg.version;
        if (!frameValid(buf, dv, off, got, h, crc, version) || h.kind !== KIND_RECORDS || h.length !== run.length || h.first > run.lo || h.first + h.count < run.lo + run.count) {
          throw new CorruptionError(`${span.seg.path}: frame of index ${run.lo} at offset ${run.start} is damaged (group ${this.opts.group})`);
        }
        // Records are consecutive: skip to the first one wanted, then take `count`.
        // (frameValid checked every record, so none runs past the frame.)
        const stop = off + h.length;
        let p = off + FRAME_HEADER_BYTES;
        for (let k = h.first; k < run.lo; k++) p = readRecord(buf, dv, p, stop, h.first, version, r);
        for (let k = 0; k < run.count; k++) {
          p = readRecord(buf, dv, p, stop, h.first, version, r);
          out.push({ index: r.index, term: r.term, type: entryType(r.type), data: new Uint8Array(buf.buffer, buf.byteOffset + r.dataAt, r.length) });
        }
      }
    }
    return out;
  }
}
