/**
 * One segment file of a group's log: `<seq>.seg`, a header and frames back to back (see frame.ts). The newest
 * segment takes appends; older ones are read-only and deleted whole once compaction passes them.
 * File handles of read-only segments are opened on first read, so an idle group holds one fd.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll } from '@tessera/snapshot-files';
import { FORMAT_VERSION } from './frame.js';

const NAME = /^(\d{20})\.seg$/;

/**
 * `O_DSYNC` where the platform has it (Linux, macOS), else undefined: a write on a handle opened with
 * it returns once its data (and the metadata needed to read it back, such as the file size) is
 * durable, which is the guarantee of a `write` followed by `fdatasync`, in one system call and one
 * trip to the thread pool.
 */
export const O_DSYNC: number | undefined = typeof constants.O_DSYNC === 'number' && constants.O_DSYNC !== 0 ? constants.O_DSYNC : undefined;

/** File name of segment `seq`: fixed width, so names sort in sequence order. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.seg`;
}

/** The sequence number of a segment file name, or undefined for other files. */
export function parseSegmentName(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** A zero fill of a segment's bytes `[from, to)` (preallocation), in flight. */
export interface Extension {
  readonly from: number;
  readonly to: number;
  /** Settles when the fill ended; never rejects (a failed fill only leaves the file shorter). */
  readonly done: Promise<void>;
}

export class Segment {
  /** Written (or about to be written) bytes, header included: the offset of the next frame. */
  size: number;
  /**
   * Bytes the file is known to hold durably: frames, then zeros written ahead of them (see the
   * `preallocateBytes` option). An append that ends at or below this overwrites existing blocks.
   */
  allocated: number;
  /**
   * End of the furthest write ever handed to this segment, queued or done (a truncation call
   * lowers `size` at once, while writes queued before it still land): a zero fill starts above it.
   * Never below `size`.
   */
  reserved: number;
  /** The zero fill in flight, if any: writes reaching past its `from` wait for it. */
  extension: Extension | undefined;
  /** Written since the last fdatasync (interval and never policies). */
  dirty = false;
  private fh: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;

  constructor(
    readonly seq: number,
    readonly path: string,
    /** Index of the first record in the file (it may lie below the log's first index after compaction). */
    readonly first: number,
    size: number,
    /** Open the file with {@link O_DSYNC} (it must be defined): every write is durable when it returns. */
    readonly writeThrough = false,
    /** Format version of the file's records (see frame.ts); only the current one takes appends. */
    readonly version = FORMAT_VERSION,
  ) {
    this.size = size;
    this.allocated = size;
    this.reserved = size;
  }

  static at(dir: string, seq: number, first: number, size: number, writeThrough = false, version = FORMAT_VERSION): Segment {
    return new Segment(seq, join(dir, segmentName(seq)), first, size, writeThrough, version);
  }

  /**
   * Creates the file (it must not exist) with its `header`, made durable before any frame is
   * written when `sync` (so a damaged header is never a torn write), and keeps it open.
   */
  async create(header: Uint8Array, sync: boolean): Promise<FileHandle> {
    const fh = await open(this.path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | this.extraFlags());
    this.fh = fh;
    await writeAll(fh, header, header.byteLength, 0);
    if (sync && !this.writeThrough) await fh.datasync();
    return fh;
  }

  /** The open handle, opening the existing file read-write on first use. */
  handle(): Promise<FileHandle> {
    if (this.fh) return Promise.resolve(this.fh);
    this.opening ??= open(this.path, constants.O_RDWR | this.extraFlags()).then((fh) => (this.fh = fh));
    return this.opening;
  }

  /** The handle if it is open already (so a write can start without waiting a turn), else undefined. */
  openHandle(): FileHandle | undefined {
    return this.fh;
  }

  private extraFlags(): number {
    if (!this.writeThrough) return 0;
    if (O_DSYNC === undefined) throw new Error('O_DSYNC is not available on this platform');
    return O_DSYNC;
  }

  async close(): Promise<void> {
    // A zero fill still writing through the descriptor must end before it is closed (and its
    // number perhaps reused by another file).
    await this.extension?.done;
    const fh = this.fh ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.fh = undefined;
    this.opening = undefined;
    await fh?.close();
  }
}
