/**
 * The few file-system steps every durable write here is built from. POSIX makes a new or renamed
 * name durable only once its directory is fsync'ed, and makes file contents durable only on
 * fsync/fdatasync; these helpers do those steps in the right order.
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsyncs a directory so that names created, renamed or removed in it survive power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes all of `buf[0, length)` at `position`, looping over short writes. */
export async function writeAll(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    done += bytesWritten;
  }
}

/** Reads `length` bytes at `position` into `buf` from `at`; returns how many were there (fewer only at end of file). */
export async function readFull(fh: FileHandle, buf: Uint8Array, at: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, at + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Suffix of temporary files; anything ending in it is a leftover of an interrupted write and removable. */
export const TMP_SUFFIX = '.tmp';

/** A unique temporary name beside `path`. */
export function tmpName(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
}

/**
 * Replaces `path` with `data` atomically and durably: write a temporary file, fdatasync it, rename
 * it over `path`, fsync the directory. After a crash `path` holds the old or the new bytes, whole.
 * With `sync` false the steps are the same but nothing is fsync'ed (for `sync: 'never'`).
 */
export async function writeFileAtomic(path: string, data: Uint8Array, sync: boolean): Promise<void> {
  const tmp = tmpName(path);
  const fh = await open(tmp, 'wx');
  try {
    await writeAll(fh, data, data.byteLength, 0);
    if (sync) await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (sync) await fsyncDir(dirname(path));
}
