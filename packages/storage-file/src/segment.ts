/**
 * One segment file of a group's log: `<seq>.seg`, records back to back (see record.ts). The newest
 * segment takes appends; older ones are read-only and deleted whole once compaction passes them.
 * File handles of read-only segments are opened on first read, so an idle group holds one fd.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

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
  /** Written (or about to be written) bytes: the offset of the next record. */
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

  /** Creates the file (it must not exist) and keeps it open for writing. */
  async create(): Promise<FileHandle> {
    this.fh = await open(this.path, 'wx+');
    return this.fh;
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
