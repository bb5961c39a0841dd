/**
 * The format specifics: truncation frames (cuts inside a frame), calls split into several frames,
 * the segment header (version check, interrupted creation), the two CRC32C implementations
 * writing the same bytes, format 3's variable-length record headers, and reading a log written in
 * format 2.
 */
import { cp, mkdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEntry, LogStore, StorageEngine } from '@tessera/raft';
import { crc32cJs } from '@tessera/snapshot-files';
import { entries, expectSameEntries, readAll } from '@tessera/testing/log-store';
import { fileStorage, type FileStorageOptions } from '../src/index.js';
import { logDir, openLog, segments, useTempDirs } from './log-files.js';
import { FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_TARGET_BYTES, KIND_TRUNCATION, recordHeaderBytes, SEGMENT_HEADER_BYTES } from '../src/frame.js';

const tempDir = useTempDirs('tessera-format-');

/** Kinds and first indices of the frames of a segment file, in file order (up to a preallocated zero tail). */
async function frames(path: string): Promise<string[]> {
  const b = await readFile(path);
  const out: string[] = [];
  for (let off = SEGMENT_HEADER_BYTES; off + FRAME_HEADER_BYTES <= b.length; off += b.readUInt32LE(off + 8)) {
    if (b.subarray(off).every((x) => x === 0)) break;
    expect(b.readUInt32LE(off)).toBe(FRAME_MAGIC);
    const first = b.readUInt32LE(off + 16);
    out.push(b[off + 28] === KIND_TRUNCATION ? `cut ${first}` : `${first}..${first + b.readUInt32LE(off + 12) - 1}`);
  }
  return out;
}

async function reopenAndCheck(dir: string, expected: LogEntry[], what: string): Promise<void> {
  const { engine, log } = await openLog(dir);
  expect([log.firstIndex(), log.lastIndex()], what).toEqual([1, expected.length]);
  expectSameEntries(await readAll(log), expected, what);
  await engine.close();
}

describe('truncation inside a frame', () => {
  it('keeps the frame whole, voids its tail with a truncation frame, and reopens to the same log', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 10, 1, 50));
    await log.truncateSuffix(6);
    const second = entries(6, 8, 2, 70);
    await log.append(second);
    // Back inside the first frame again: the first truncation frame must survive.
    await log.truncateSuffix(4);
    const third = entries(4, 5, 3, 30);
    await log.append(third);
    const expected = [...entries(1, 3, 1, 50), ...third];
    expectSameEntries(await readAll(log), expected, 'before reopen');
    await engine.close();
    const [seg] = await segments(dir);
    expect(await frames(join(logDir(dir), seg!))).toEqual(['1..10', 'cut 6', '6..8', 'cut 4', '4..5']);
    await reopenAndCheck(dir, expected, 'after reopen');
  });

  it('a torn truncation frame leaves the log as it was before that truncation', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 10, 1, 50));
    await log.truncateSuffix(6);
    await log.append(entries(6, 8, 2, 70));
    await log.truncateSuffix(4);
    await engine.close();
    const path = join(logDir(dir), (await segments(dir))[0]!);
    await truncate(path, (await stat(path)).size - 5);
    await reopenAndCheck(dir, [...entries(1, 5, 1, 50), ...entries(6, 8, 2, 70)], 'torn second truncation');
  });

  it('a truncation at a frame boundary cuts the file there', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 5, 1, 50));
    await log.append(entries(6, 10, 1, 50));
    await log.truncateSuffix(6);
    await log.append(entries(6, 7, 2, 50));
    await engine.close();
    expect(await frames(join(logDir(dir), (await segments(dir))[0]!))).toEqual(['1..5', '6..7']);
    await reopenAndCheck(dir, [...entries(1, 5, 1, 50), ...entries(6, 7, 2, 50)], 'boundary cut');
  });

  it('reports a truncation frame that follows damage (a later write), and one pointing outside its records', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 10, 1, 50));
    await log.truncateSuffix(6);
    await engine.close();
    const path = join(logDir(dir), (await segments(dir))[0]!);
    const good = await readFile(path);
    const b = Buffer.from(good);
    b[SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 30] ^= 1;
    await writeFile(path, b);
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining('followed by an intact frame of a later write') });
    // A well-formed truncation frame claiming an index beyond the records before it.
    const bad = Buffer.from(good);
    const at = bad.length - FRAME_HEADER_BYTES;
    bad.writeUInt32LE(11, at + 16);
    bad.writeUInt32LE(crc32cJs(bad, at + 8, bad.length), at + 4);
    await writeFile(path, bad);
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining('truncation frame at offset') });
  });
});

describe('calls larger than one frame', () => {
  const big = (lo: number, hi: number, term: number) => entries(lo, hi, term, 400 * 1024);

  it('are split into frames; a torn frame drops the rest of its call only', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 3, 1, 10));
    await log.append(big(4, 9, 1));
    await engine.close();
    const path = join(logDir(dir), (await segments(dir))[0]!);
    const layout = await frames(path);
    expect(layout.length).toBeGreaterThan(2);
    expect(layout[0]).toBe('1..3');
    // Damage the second frame of the big call: the frames after it belong to the same call.
    const b = await readFile(path);
    let off = SEGMENT_HEADER_BYTES + b.readUInt32LE(SEGMENT_HEADER_BYTES + 8);
    const firstOfCall = b.readUInt32LE(off + 16) + b.readUInt32LE(off + 12) - 1;
    off += b.readUInt32LE(off + 8);
    expect(b.readUInt32LE(off + 8)).toBeLessThanOrEqual(FRAME_TARGET_BYTES);
    b[off + FRAME_HEADER_BYTES + 100] ^= 0x40;
    await writeFile(path, b);
    const all = [...entries(1, 3, 1, 10), ...big(4, 9, 1)];
    await reopenAndCheck(dir, all.slice(0, firstOfCall), 'torn middle frame of the last call');
  });

  it('a damaged frame of a big call followed by a later call is reported', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(big(1, 6, 1));
    await log.append(entries(7, 8, 1, 10));
    await engine.close();
    const path = join(logDir(dir), (await segments(dir))[0]!);
    const b = await readFile(path);
    b[SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 100] ^= 0x40;
    await writeFile(path, b);
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining(`damaged frame at offset ${SEGMENT_HEADER_BYTES}`) });
  });
});

describe('segment header', () => {
  it('refuses format 1 segments with a clear error', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 2, 1, 10));
    await engine.close();
    // A format-1 file starts straight with a record: crc32c, length, index, ...
    const v1 = Buffer.alloc(42);
    v1.writeUInt32LE(10, 4);
    v1.writeUInt32LE(1, 8);
    v1.writeUInt32LE(1, 16);
    v1.writeUInt32LE(crc32cJs(v1, 4, 42), 0);
    await writeFile(join(logDir(dir), (await segments(dir))[0]!), v1);
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringMatching(/bad segment header at offset 0: .*format 1/) });
  });

  it('refuses an unknown format version', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 2, 1, 10));
    await engine.close();
    const path = join(logDir(dir), (await segments(dir))[0]!);
    const b = await readFile(path);
    b.writeUInt32LE(4, 4);
    b.writeUInt32LE(crc32cJs(b, 0, 12), 12);
    await writeFile(path, b);
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining('format version 4, this version reads 2 to 3') });
  });

  it('deletes a newest segment whose creation a crash interrupted, and keeps appending', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await log.append(entries(1, 4, 1, 10));
    await engine.close();
    const [seg] = await segments(dir);
    const next = seg!.replace(/\d+/, (n) => String(Number(n) + 1).padStart(n.length, '0'));
    await writeFile(join(logDir(dir), next), Buffer.from([0x54, 0x53, 0x4c]));
    const reopened = await openLog(dir);
    expect(await segments(dir)).toEqual([seg]);
    await reopened.log.append(entries(5, 6, 1, 10));
    await reopened.engine.close();
    await reopenAndCheck(dir, entries(1, 6, 1, 10), 'after the interrupted creation');
  });
});

describe('CRC32C implementations', () => {
  it('write identical files and read each other', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const batches = [entries(1, 40, 1, 300), entries(41, 41, 2, 5000), entries(42, 60, 2, 3)];
    for (const [dir, checksum] of [
      [a, 'js'],
      [b, 'native'],
    ] as const) {
      const { engine, log } = await openLog(dir, { checksum });
      for (const batch of batches) await log.append(batch);
      await log.truncateSuffix(50);
      await engine.close();
    }
    const [sa] = await segments(a);
    expect(await readFile(join(logDir(a), sa!))).toEqual(await readFile(join(logDir(b), (await segments(b))[0]!)));
    for (const [dir, checksum] of [
      [a, 'native'],
      [b, 'js'],
    ] as const) {
      const { engine, log } = await openLog(dir, { checksum });
      expectSameEntries(await readAll(log), batches.flat().slice(0, 49), `read with ${checksum}`);
      await engine.close();
    }
  });
});

describe('format 3 records', () => {
  it('round-trip lengths, offsets and terms on both sides of every varint byte boundary', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    const lengths = [0, 1, 127, 128, 16383, 16384, 70_000];
    const terms = [1, 127, 128, 16384, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER];
    // 300 entries in one call: record offsets in the frame pass 127 (two-byte offsets).
    const first: LogEntry[] = entries(1, 300, 1, 20).map((e, i) => ({ ...e, term: i < 200 ? 126 : 127 }));
    const batches: LogEntry[][] = [first];
    let next = 301;
    for (const term of terms.filter((t) => t >= 127)) {
      batches.push(lengths.map((len, i) => ({ index: next + i, term, type: first[0]!.type, data: Uint8Array.from({ length: len }, (_, j) => (j * 31 + i) & 255) })));
      next += lengths.length;
    }
    for (const b of batches) await log.append(b);
    const all = batches.flat();
    expectSameEntries(await readAll(log), all, 'before reopen');
    await engine.close();
    await reopenAndCheck(dir, all, 'after reopen');
    // A 100-byte entry of a low term near the start of its frame takes 4 bytes of header.
    expect(recordHeaderBytes(100, 0, 1)).toBe(4);
    expect(recordHeaderBytes(200, 300, 2 ** 40)).toBe(2 + 1 + 2 + 6);
  });
});

describe('a log written in format 2', () => {
  // Made by the format-2 code (commit 4557353) with sync 'always' and 64 KiB segments: entries 1..300 (term 1, 100-106 bytes,
  // type 1 on multiples of 3), 301..320 (term 2, 300-306 bytes), truncateSuffix(310) (a truncation
  // frame), 310..700 (term 200, 150-156 bytes), compactPrefix(50), hard state {200, n2, 650}.
  const fixture = fileURLToPath(new URL('./fixtures/format-2', import.meta.url));
  const fixtureEntry = (index: number, term: number, size: number): LogEntry => ({
    index,
    term,
    type: (index % 3 === 0 ? 1 : 0) as LogEntry['type'],
    data: Uint8Array.from({ length: size + (index % 7) }, (_, j) => (index + j) & 255),
  });
  const expected: LogEntry[] = [];
  for (let i = 51; i <= 300; i++) expected.push(fixtureEntry(i, 1, 100));
  for (let i = 301; i <= 309; i++) expected.push(fixtureEntry(i, 2, 300));
  for (let i = 310; i <= 700; i++) expected.push(fixtureEntry(i, 200, 150));

  it('is read as it was written, and new appends go to a new format-3 segment', async () => {
    const dir = await tempDir();
    await cp(fixture, dir, { recursive: true });
    // Git keeps no empty directories: recreate the two the engine had made (both empty then).
    await mkdir(join(dir, 'groups', 'g', 'snapshots'), { recursive: true });
    await mkdir(join(dir, 'trash'), { recursive: true });
    const before = await segments(dir);
    expect(before.map((n) => n.slice(-6))).toEqual(['01.seg', '02.seg']);
    const engine = await fileStorage({ dir, sync: 'always' });
    const g = await engine.openGroup('g');
    expect(await g.hardState.load()).toEqual({ term: 200, vote: 'n2', commit: 650 });
    expect([g.log.firstIndex(), g.log.lastIndex()]).toEqual([51, 700]);
    expectSameEntries(await readAll(g.log), expected, 'format 2');
    expect(await g.log.term(310)).toBe(200);
    // Cut inside the newest format-2 segment (a truncation frame in format 2's segment), then append.
    await g.log.truncateSuffix(650);
    const more = entries(650, 900, 201, 100);
    await g.log.append(more);
    await g.close();
    await engine.close();
    const after = await segments(dir);
    expect(after.length).toBe(3);
    const newest = await readFile(join(logDir(dir), after[2]!));
    expect(newest.readUInt32LE(4)).toBe(3);
    expect(await frames(join(logDir(dir), after[2]!))).toEqual(['650..900']);
    const again = await openLog(dir);
    expectSameEntries(await readAll(again.log), [...expected.slice(0, 650 - 51), ...more], 'after reopen');
    await again.engine.close();
  });
});
