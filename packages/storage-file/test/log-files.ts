/** Helpers of the tests that damage or inspect a file log's files: temp dirs and where things are. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import type { LogStore, StorageEngine } from '@tessera/raft';
import { fileStorage, type FileStorageOptions } from '../src/index.js';
import { FRAME_HEADER_BYTES, FRAME_MAGIC, SEGMENT_HEADER_BYTES } from '../src/frame.js';
import { groupDirName } from '../src/group-dir.js';

/** A temp dir factory whose dirs are removed after each test. */
export function useTempDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

export function logDir(dir: string, group = 'g'): string {
  return join(dir, 'groups', groupDirName(group), 'log');
}

/** Segment file names of group `g`, oldest first. */
export async function segments(dir: string): Promise<string[]> {
  return (await readdir(logDir(dir))).filter((n) => n.endsWith('.seg')).sort();
}

/** Opens group `g` of a store in `dir` (`sync: 'never'` unless `opts` says otherwise). */
export async function openLog(dir: string, opts: Omit<FileStorageOptions, 'dir'> = {}): Promise<{ engine: StorageEngine; log: LogStore }> {
  const engine = await fileStorage({ dir, sync: 'never', ...opts });
  try {
    return { engine, log: (await engine.openGroup('g')).log };
  } catch (err) {
    await engine.close();
    throw err;
  }
}

export interface Frame {
  /** First and last index held. */
  first: number;
  last: number;
  callFirst: number;
  off: number;
  size: number;
}

/**
 * Parses the frames of an intact segment file (the tests' own reading of the format), up to a
 * preallocated zero tail if it has one.
 */
export function layoutOf(b: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let off = SEGMENT_HEADER_BYTES; off + FRAME_HEADER_BYTES <= b.length; ) {
    if (b.subarray(off).every((x) => x === 0)) break;
    expect(b.readUInt32LE(off)).toBe(FRAME_MAGIC);
    const size = b.readUInt32LE(off + 8);
    const first = b.readUInt32LE(off + 16) + b.readUInt32LE(off + 20) * 2 ** 32;
    out.push({ first, last: first + b.readUInt32LE(off + 12) - 1, callFirst: first - b.readUInt32LE(off + 24), off, size });
    off += size;
  }
  return out;
}

export async function layout(path: string): Promise<Frame[]> {
  return layoutOf(await readFile(path));
}

/** Where a segment file's frames end: its size, or the start of its zero tail. */
export function framesEnd(b: Buffer): number {
  const last = layoutOf(b).at(-1);
  return last ? last.off + last.size : SEGMENT_HEADER_BYTES;
}
