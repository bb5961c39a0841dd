/**
 * The compaction marker `first-index`: the log's first index once a prefix was compacted. Whole
 * segments below it are deleted; the first remaining segment may still hold compacted records,
 * which the marker hides. 16 bytes: magic `TSFI`, crc32c of the next 8 bytes, first index (u64 LE).
 * Replaced atomically (temp file, fdatasync, rename, fsync dir).
 */
import { readFile } from 'node:fs/promises';
import { CorruptionError } from '@tessera/raft';
import { crc32c, writeFileAtomic } from '@tessera/snapshot-files';

export const FIRST_INDEX_FILE = 'first-index';
const MAGIC = 0x49465354; // "TSFI" little-endian
const TWO_32 = 2 ** 32;

export function encodeFirstIndex(first: number): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(first % TWO_32, 8);
  b.writeUInt32LE(Math.floor(first / TWO_32), 12);
  b.writeUInt32LE(crc32c(b, 8, 16), 4);
  return b;
}

/** The recorded first index, or undefined when the log was never compacted. */
export async function readFirstIndex(path: string): Promise<number | undefined> {
  let b: Buffer;
  try {
    b = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (b.length !== 16 || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== crc32c(b, 8, 16)) {
    throw new CorruptionError(`${path}: compaction marker is damaged (${b.length} bytes)`);
  }
  return b.readUInt32LE(8) + b.readUInt32LE(12) * TWO_32;
}

export function writeFirstIndex(path: string, first: number, sync: boolean): Promise<void> {
  return writeFileAtomic(path, encodeFirstIndex(first), sync);
}
