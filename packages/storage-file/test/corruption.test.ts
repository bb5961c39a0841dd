/**
 * Damage injected into the files of a closed store, then a reopen: a torn tail must be truncated to
 * the last intact frame, damage anywhere else must fail with a CorruptionError naming the file and
 * offset, and nothing damaged may ever be returned. The randomized cases predict the outcome from the
 * frame layout; `TESSERA_CORRUPTION_CASES` raises their number (default 60).
 */
import { appendFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEntry, StorageEngine } from '@tessera/raft';
import { entries, expectSameEntries, readAll } from '@tessera/testing/log-store';
import { fileStorage } from '../src/index.js';
import { groupDirName } from '../src/group-dir.js';
import { layout, logDir, openLog as openShared, segments, useTempDirs } from './log-files.js';
import { FRAME_HEADER_BYTES, recordHeaderBytes, SEGMENT_HEADER_BYTES } from '../src/frame.js';

const CASES = Number(process.env.TESSERA_CORRUPTION_CASES ?? 60);
const tempDir = useTempDirs('tessera-corrupt-');

/** A seeded PRNG, so a failing case can be replayed from its printed seed. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Small segments, so that cases span several. */
const openLog = (dir: string, opts: { sync?: 'always' | 'never' } = {}) => openShared(dir, { segmentBytes: 64 * 1024, ...opts });

/** Writes `batches` as separate append calls and closes the store. */
async function build(dir: string, batches: LogEntry[][], sync: 'always' | 'never' = 'never'): Promise<void> {
  const { engine, log } = await openLog(dir, { sync });
  for (const b of batches) await log.append(b);
  await engine.close();
}

function randomBatches(r: (n: number) => number): LogEntry[][] {
  const out: LogEntry[][] = [];
  let next = 1;
  const count = 1 + r(25);
  for (let b = 0; b < count; b++) {
    const n = 1 + r(40);
    const size = r(4) === 0 ? r(9000) : r(400);
    out.push(entries(next, next + n - 1, 1 + (b >> 2), size));
    next += n;
  }
  return out;
}

type Outcome = { kind: 'corrupt'; file: string } | { kind: 'ok'; last: number };

describe('file log: injected damage', () => {
  // With sync 'always' small appends leave the newest segment a preallocated zero tail: damage
  // there, or a cut into it, must read as the end of the log, nothing lost.
  it.each(['never', 'always'] as const)(`detects every random byte flip and truncation with the right outcome (${CASES} cases, written with sync %s)`, async (sync) => {
    for (let c = 0; c < CASES; c++) {
      const seed = (sync === 'never' ? 1000 : 5000) + c;
      const r = rng(seed);
      const dir = await tempDir();
      const batches = randomBatches(r);
      const all = batches.flat();
      await build(dir, batches, sync);
      const segs = await segments(dir);
      const s = r(segs.length);
      const isLast = s === segs.length - 1;
      const path = join(logDir(dir), segs[s]!);
      const frames = await layout(path);
      const size = (await stat(path)).size;
      /** Where the frames end: the file's size, or the start of a zero tail (newest segment only). */
      const end = frames.length > 0 ? frames.at(-1)!.off + frames.at(-1)!.size : SEGMENT_HEADER_BYTES;
      if (!isLast) expect(end, `older segment ${segs[s]} has no zero tail`).toBe(size);
      const prevLast = s === 0 ? 0 : (await layout(join(logDir(dir), segs[s - 1]!))).at(-1)!.last;
      let outcome: Outcome;
      let what: string;
      const mode = r(3);
      if (mode === 0) {
        const o = r(size);
        const b = await readFile(path);
        b[o] ^= 1 << r(8);
        await writeFile(path, b);
        if (o < SEGMENT_HEADER_BYTES) {
          outcome = { kind: 'corrupt', file: segs[s]! };
          what = `flip at ${segs[s]}:${o} (segment header)`;
        } else if (o >= end) {
          // A stray byte in the zero tail: a torn write after the last frame, cut off.
          outcome = { kind: 'ok', last: all.length };
          what = `flip at ${segs[s]}:${o} (zero tail from ${end})`;
        } else {
          // The damaged frame is the torn end only if no later call's frame follows it.
          const hit = frames.find((x) => x.off <= o && o < x.off + x.size)!;
          const laterWrite = frames.some((x) => x.off > hit.off && x.callFirst > hit.first);
          outcome = !isLast || laterWrite ? { kind: 'corrupt', file: segs[s]! } : { kind: 'ok', last: hit.first - 1 };
          what = `flip at ${segs[s]}:${o} (frame of ${hit.first}..${hit.last})`;
        }
      } else if (mode === 1) {
        const o = r(size);
        await truncate(path, o);
        const kept = frames.filter((x) => x.off + x.size <= o);
        if (o < SEGMENT_HEADER_BYTES) {
          // A segment cut inside its header: the last one is taken for a creation a crash interrupted.
          outcome = isLast ? { kind: 'ok', last: prevLast } : { kind: 'corrupt', file: segs[s]! };
        } else if (o >= end) {
          outcome = { kind: 'ok', last: all.length }; // a shorter zero tail
        } else {
          // Cut inside a frame: that segment is damaged; cut between frames: the next one no longer continues it.
          const between = o === SEGMENT_HEADER_BYTES || frames.some((x) => x.off === o);
          outcome = isLast ? { kind: 'ok', last: kept.at(-1)?.last ?? prevLast } : { kind: 'corrupt', file: between ? segs[s + 1]! : segs[s]! };
        }
        what = `truncate ${segs[s]} at ${o} of ${size}`;
      } else {
        const last = join(logDir(dir), segs.at(-1)!);
        const junk = r(2) === 0 ? Buffer.alloc(1 + r(5000)) : Buffer.from(Array.from({ length: 1 + r(5000) }, () => r(256)));
        await appendFile(last, junk);
        outcome = { kind: 'ok', last: all.length };
        what = `${junk.length} junk bytes after ${segs.at(-1)}`;
      }
      const label = `case ${c} (seed ${seed}): ${what}`;
      let opened: Awaited<ReturnType<typeof openLog>> | undefined;
      let err: { code?: string; message: string } | undefined;
      try {
        opened = await openLog(dir);
      } catch (e) {
        err = e as { code?: string; message: string };
      }
      if (outcome.kind === 'corrupt') {
        expect(err?.code, `${label}: expected CorruptionError, got ${err?.message ?? 'a clean open'}`).toBe('CORRUPTION');
        expect(err!.message, label).toContain(outcome.file);
        expect(err!.message, label).toMatch(/offset \d+/);
        // Still reported on a second open: nothing was "repaired" away.
        await expect(openLog(dir), label).rejects.toMatchObject({ code: 'CORRUPTION' });
      } else {
        expect(err, `${label}: ${err?.message}`).toBeUndefined();
        const { engine, log } = opened!;
        expect(log.lastIndex(), label).toBe(outcome.last);
        expectSameEntries(await readAll(log), all.slice(0, outcome.last), label);
        // The repaired log takes appends and reopens cleanly.
        const more = entries(outcome.last + 1, outcome.last + 3, 99, 50);
        await log.append(more);
        await engine.close();
        const again = await openLog(dir);
        expectSameEntries(await readAll(again.log), [...all.slice(0, outcome.last), ...more], `${label}, after reopen`);
        await again.engine.close();
      }
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('reports a damaged record followed by a later write, naming file and offset', async () => {
    const dir = await tempDir();
    await build(dir, [entries(1, 5, 1, 100), entries(6, 10, 1, 100)]);
    const [seg] = await segments(dir);
    const path = join(logDir(dir), seg!);
    const b = await readFile(path);
    const off = SEGMENT_HEADER_BYTES;
    // Records of 100 bytes, term 1, offsets below 128: a 4-byte header each.
    b[off + FRAME_HEADER_BYTES + 2 * (recordHeaderBytes(100, 0, 1) + 100) + recordHeaderBytes(100, 2, 1) + 7] ^= 0x10; // data byte of index 3
    await writeFile(path, b);
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining(`${seg}: damaged frame at offset ${off}`) });
  });

  it('truncates a torn final write and keeps every earlier write', async () => {
    const dir = await tempDir();
    await build(dir, [entries(1, 5, 1, 100), entries(6, 10, 2, 100)]);
    const [seg] = await segments(dir);
    const path = join(logDir(dir), seg!);
    await truncate(path, (await stat(path)).size - 40);
    const { engine, log } = await openLog(dir);
    // The whole interrupted call goes: its frame is checksummed as one (it was never acknowledged).
    expect(log.lastIndex()).toBe(5);
    expectSameEntries(await readAll(log), entries(1, 5, 1, 100));
    await engine.close();
    expect((await stat(path)).size).toBe(SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 5 * (recordHeaderBytes(100, 0, 1) + 100));
  });

  it('reports a missing middle segment', async () => {
    const dir = await tempDir();
    const batches = Array.from({ length: 12 }, (_, i) => entries(i * 50 + 1, i * 50 + 50, 1, 400));
    await build(dir, batches);
    const segs = await segments(dir);
    expect(segs.length).toBeGreaterThanOrEqual(3);
    await rm(join(logDir(dir), segs[1]!));
    await expect(openLog(dir)).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining(segs[2]!) });
  });

  it('deletes segments left behind by an interrupted compaction, and keeps the rest', async () => {
    const dir = await tempDir();
    const batches = Array.from({ length: 12 }, (_, i) => entries(i * 50 + 1, i * 50 + 50, 1, 400));
    await build(dir, batches);
    const before = await segments(dir);
    const { engine, log } = await openLog(dir);
    await log.compactPrefix(400);
    await engine.close();
    const after = await segments(dir);
    expect(after.length).toBeLessThan(before.length);
    // Put the deleted segments back, as if the crash came between the marker and the deletions.
    const saved = new Map<string, Buffer>();
    const dir2 = await tempDir();
    await build(dir2, batches);
    for (const name of before) saved.set(name, await readFile(join(logDir(dir2), name)));
    for (const name of before) if (!after.includes(name)) await writeFile(join(logDir(dir), name), saved.get(name)!);
    const reopened = await openLog(dir);
    expect([reopened.log.firstIndex(), reopened.log.lastIndex()]).toEqual([401, 600]);
    expectSameEntries(await readAll(reopened.log), batches.flat().slice(400));
    await reopened.engine.close();
    expect(await segments(dir)).toEqual(after);
  });

  it('reports damaged hard state, compaction marker and snapshot image', async () => {
    const dir = await tempDir();
    let engine = await fileStorage({ dir });
    let g = await engine.openGroup('g');
    await g.hardState.save({ term: 3, vote: 'n1', commit: 2 });
    await g.log.append(entries(1, 10, 1));
    await g.log.compactPrefix(4);
    const w = await g.snapshots.create({ index: 4, term: 1, membership: { voters: ['n1'], learners: [] } });
    await w.write(new Uint8Array(5000).fill(7));
    await w.commit();
    await engine.close();
    const gdir = join(dir, 'groups', groupDirName('g'));

    const flip = async (path: string, at: number) => {
      const b = await readFile(path);
      b[at] ^= 0x01;
      await writeFile(path, b);
    };
    await flip(join(gdir, 'hard-state'), 10);
    engine = await fileStorage({ dir });
    g = await engine.openGroup('g');
    await expect(g.hardState.load()).rejects.toMatchObject({ code: 'CORRUPTION' });
    const snap = join(gdir, 'snapshots', (await readdir(join(gdir, 'snapshots')))[0]!);
    await g.close();
    await flip(snap, 200);
    g = await engine.openGroup('g');
    await expect(g.snapshots.latest()).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining(snap) });
    await g.close();
    await flip(join(gdir, 'log', 'first-index'), 9);
    await expect(engine.openGroup('g')).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining('first-index') });
    await engine.close();
  });

  it('refuses a directory that a live process has open, and takes over one left by a dead process', async () => {
    const dir = await tempDir();
    const a = await fileStorage({ dir, sync: 'never' });
    await expect(fileStorage({ dir })).rejects.toMatchObject({ code: 'STORAGE', message: expect.stringContaining('already open') });
    await a.close();
    await writeFile(join(dir, 'LOCK'), '2147483646');
    const b = await fileStorage({ dir, sync: 'never' });
    await b.close();
  });
});
