/**
 * Preallocation (`preallocateBytes`, `sync: 'always'` only): the newest segment is kept ahead of its
 * writes with durable zeros, so small appends overwrite blocks instead of growing the file. What must
 * hold: a zero tail is read as the end of the log (no warning, nothing lost, appends continue over
 * it); only the newest segment ever has one; damage inside it is a torn tail like any other;
 * truncations and large appends leave no stale bytes and no zero tail where none belongs.
 */
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEntry, LogStore, Logger } from '@tessera/raft';
import { entries, expectSameEntries, readAll } from '@tessera/testing/log-store';
import type { FileStorageOptions } from '../src/index.js';
import { framesEnd, layoutOf, logDir, openLog as openShared, segments, useTempDirs } from './log-files.js';
import { SEGMENT_HEADER_BYTES } from '../src/frame.js';

const tempDir = useTempDirs('tessera-prealloc-');

/** A logger keeping its warnings, to check that a clean reopen reports nothing. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (_fields: unknown, msg?: string) => void warnings.push(String(msg ?? _fields)) } as Logger & { warnings: string[] };
}

/** Preallocation serves `sync: 'always'` logs only. */
const openLog = (dir: string, opts: Omit<FileStorageOptions, 'dir'> = {}) => openShared(dir, { sync: 'always', ...opts });

const isZero = (b: Buffer) => b.every((x) => x === 0);

/** Appends `[lo, hi]` one entry per call (small appends, the case preallocation serves). */
async function appendEach(log: LogStore, lo: number, hi: number, term = 1, size = 100): Promise<LogEntry[]> {
  const all = entries(lo, hi, term, size);
  for (const e of all) await log.append([e]);
  return all;
}

describe('preallocation', () => {
  it('keeps durable zeros ahead of small appends; a reopen reads the zeros as the end, silently, and appends over them', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    const written = await appendEach(log, 1, 200);
    await engine.close();
    const [name] = await segments(dir);
    const file = await readFile(join(logDir(dir), name!));
    const end = framesEnd(file);
    expect(file.length, 'the file holds zeros beyond its frames').toBeGreaterThanOrEqual(64 * 1024);
    expect(end).toBeLessThan(file.length);
    expect(isZero(file.subarray(end))).toBe(true);

    const logger = recordingLogger();
    const again = await openLog(dir, { logger });
    expect(logger.warnings).toEqual([]);
    expect([again.log.firstIndex(), again.log.lastIndex()]).toEqual([1, 200]);
    expectSameEntries(await readAll(again.log), written, 'after reopen');
    const more = await appendEach(again.log, 201, 260, 2);
    await again.engine.close();
    const grown = await readFile(join(logDir(dir), name!));
    // The new frames landed on the zeros the file already had (it may hold more zeros by now).
    expect(framesEnd(grown)).toBeGreaterThan(end);
    expect(framesEnd(grown)).toBeLessThanOrEqual(file.length);
    expect(isZero(grown.subarray(framesEnd(grown)))).toBe(true);

    const third = await openLog(dir, { logger });
    expect(logger.warnings).toEqual([]);
    expectSameEntries(await readAll(third.log), [...written, ...more], 'after the second reopen');
    await third.engine.close();
  });

  it('cuts a segment\'s zero tail before the next segment starts: only the newest one has zeros', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir, { segmentBytes: 64 * 1024 });
    const written = await appendEach(log, 1, 1500);
    await engine.close();
    const names = await segments(dir);
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const n of names.slice(0, -1)) {
      const b = await readFile(join(logDir(dir), n));
      expect(framesEnd(b), `${n} ends with its last frame`).toBe(b.length);
    }
    const again = await openLog(dir, { segmentBytes: 64 * 1024 });
    expectSameEntries(await readAll(again.log), written, 'after reopen');
    await again.engine.close();
  });

  it('reports zeros at the end of an older segment as corruption (they never belong there)', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir, { segmentBytes: 64 * 1024 });
    await appendEach(log, 1, 1500);
    await engine.close();
    const names = await segments(dir);
    await appendFile(join(logDir(dir), names[0]!), Buffer.alloc(4096));
    await expect(openLog(dir, { segmentBytes: 64 * 1024 })).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining('followed by a newer one') });
  });

  it.each([
    { what: 'the first half of a frame', damage: (b: Buffer, end: number, last: Buffer) => last.copy(b, end, 0, last.length >> 1) },
    { what: 'one stray byte deep in the zeros', damage: (b: Buffer, end: number) => void (b[end + 5000] = 7) },
  ])('truncates a torn write inside the zeros ($what), keeping every intact entry', async ({ damage }) => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    const written = await appendEach(log, 1, 100);
    await engine.close();
    const [name] = await segments(dir);
    const path = join(logDir(dir), name!);
    const b = await readFile(path);
    const end = framesEnd(b);
    // The last frame, whose bytes stand in for a later write torn part-way.
    const last = layoutOf(b).at(-1)!;
    damage(b, end, Buffer.from(b.subarray(last.off, end)));
    await writeFile(path, b);

    const logger = recordingLogger();
    const again = await openLog(dir, { logger });
    expect(logger.warnings.some((w) => w.includes('torn write'))).toBe(true);
    expectSameEntries(await readAll(again.log), written, 'after recovery');
    expect((await stat(path)).size, 'the damaged tail is cut').toBe(end);
    const more = await appendEach(again.log, 101, 150, 2);
    await again.engine.close();
    const third = await openLog(dir);
    expectSameEntries(await readAll(third.log), [...written, ...more], 'after appending past the cut');
    await third.engine.close();
  });

  it('a truncation at a frame start cuts the file there (no stale frames ahead of new appends)', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    const written = await appendEach(log, 1, 100);
    await log.truncateSuffix(61);
    const [name] = await segments(dir);
    const cut = await readFile(join(logDir(dir), name!));
    expect(framesEnd(cut), 'the file ends at the cut: its zeros went with the cut frames').toBe(cut.length);
    const redo = await appendEach(log, 61, 80, 2);
    await engine.close();
    const again = await openLog(dir);
    expect(again.log.lastIndex()).toBe(80);
    expectSameEntries(await readAll(again.log), [...written.slice(0, 60), ...redo], 'after truncation and reopen');
    await again.engine.close();
  });

  it('a truncation inside a frame writes its marker over the zeros, and recovery honours it', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    const first = entries(1, 50, 1, 100);
    await log.append(first); // one call, one frame: a cut at 31 falls inside it
    await appendEach(log, 51, 60);
    await log.truncateSuffix(31);
    const redo = await appendEach(log, 31, 40, 3);
    await engine.close();
    const logger = recordingLogger();
    const again = await openLog(dir, { logger });
    expect(logger.warnings).toEqual([]);
    expectSameEntries(await readAll(again.log), [...first.slice(0, 30), ...redo], 'after the marker and reopen');
    await again.engine.close();
  });

  it('large appends grow the file without zeros (preallocation would write every byte twice)', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    for (let i = 0; i < 20; i++) await log.append(entries(1 + i * 10, 10 + i * 10, 1, 10_000));
    await engine.close();
    const [name] = await segments(dir);
    const b = await readFile(join(logDir(dir), name!));
    expect(framesEnd(b)).toBe(b.length);
  });

  it.each([
    { what: 'preallocateBytes: 0', opts: { preallocateBytes: 0 } },
    { what: "sync: 'never'", opts: { sync: 'never' as const } },
  ])('is off with $what', async ({ opts }) => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir, opts);
    await appendEach(log, 1, 100);
    await engine.close();
    const [name] = await segments(dir);
    const b = await readFile(join(logDir(dir), name!));
    expect(framesEnd(b)).toBe(b.length);
  });

  it('a log with a zero tail opened without preallocation appends over the zeros and still cuts them before the next segment', async () => {
    const dir = await tempDir();
    const a = await openLog(dir, { segmentBytes: 64 * 1024 });
    const written = await appendEach(a.log, 1, 100);
    await a.engine.close();
    const b = await openLog(dir, { segmentBytes: 64 * 1024, preallocateBytes: 0 });
    const more = await appendEach(b.log, 101, 1200);
    await b.engine.close();
    const names = await segments(dir);
    expect(names.length).toBeGreaterThanOrEqual(2);
    const oldest = await readFile(join(logDir(dir), names[0]!));
    expect(framesEnd(oldest)).toBe(oldest.length);
    const c = await openLog(dir, { segmentBytes: 64 * 1024 });
    expectSameEntries(await readAll(c.log), [...written, ...more], 'after reopen');
    await c.engine.close();
  });

  it('keeps little ahead for an idle group: the first fill is 64 KiB, not preallocateBytes', async () => {
    const dir = await tempDir();
    const { engine, log } = await openLog(dir);
    await appendEach(log, 1, 3);
    await engine.close();
    const [name] = await segments(dir);
    expect((await stat(join(logDir(dir), name!))).size).toBeLessThanOrEqual(SEGMENT_HEADER_BYTES + 1024 + 64 * 1024);
  });
});
