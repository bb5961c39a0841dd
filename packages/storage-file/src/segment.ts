/**
 * One segment file of a group's log: `<seq>.seg`, a header and frames back to back (see frame.ts). The newest
 * segment takes appends; older ones are read-only and deleted whole once compaction passes them.
 * File handles of read-only segments are opened on first read, so an idle group holds one fd.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll } from '@tessera/snapshot-files';

const NAME = /^(\d{20})\.seg$/;

/** File name of segment `seq`: fixed width, so names sort in sequence order. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.seg`;
}

/** The sequence number of a segment file name, or undefined for other files. */
export function parseSegmentName(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

export class Segment {
  /** Written (or about to be written) bytes, header included: the offset of the next frame. */
  size: number;
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
  ) {
    this.size = size;
  }

  static at(dir: string, seq: number, first: number, size: number): Segment {
    return new Segment(seq, join(dir, segmentName(seq)), first, size);
  }

  /**
   * Creates the file (it must not exist) with its `header`, made durable before any frame is
   * written when `sync` (so a damaged header is never a torn write), and keeps it open.
   */
  async create(header: Uint8Array, sync: boolean): Promise<FileHandle> {
    const fh = await open(this.path, 'wx+');
    this.fh = fh;
    await writeAll(fh, header, header.byteLength, 0);
    if (sync) await fh.datasync();
    return fh;
  }

  /** The open handle, opening the existing file read-write on first use. */
  handle(): Promise<FileHandle> {
    if (this.fh) return Promise.resolve(this.fh);
    this.opening ??= open(this.path, 'r+').then((fh) => (this.fh = fh));
    return this.opening;
  }

  async close(): Promise<void> {
    const fh = this.fh ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.fh = undefined;
    this.opening = undefined;
    await fh?.close();
  }
}
