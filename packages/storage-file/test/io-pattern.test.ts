/**
 * The I/O an append costs: with `sync: 'always'` one write and one fdatasync per call, whatever the
 * batch size (group commit happens above the store, so this is what makes it pay off); with
 * `sync: 'interval'` no fdatasync on the call, one within `syncIntervalMs`.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { entries } from '@tessera/testing/log-store';
import { fileStorage } from '../src/index.js';

interface Counts {
  write: number;
  datasync: number;
}

let dir: string;
let counts: Counts;
let restore: () => void;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-io-'));
  // Count calls on every FileHandle (they share one prototype).
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => unknown; datasync: () => unknown };
  await probe.close();
  counts = { write: 0, datasync: 0 };
  const { write, datasync } = proto;
  proto.write = function (this: unknown, ...a: unknown[]) {
    counts.write++;
    return write.apply(this, a);
  };
  proto.datasync = function (this: unknown) {
    counts.datasync++;
    return datasync.apply(this);
  };
  restore = () => {
    proto.write = write;
    proto.datasync = datasync;
  };
});

afterEach(async () => {
  restore();
  await rm(dir, { recursive: true, force: true });
});

it('sync always: one write and one fdatasync per append call, at any batch size', async () => {
  const engine = await fileStorage({ dir: join(dir, 'store') });
  const { log } = await engine.openGroup('g');
  await log.append(entries(1, 1, 1)); // creates the first segment
  let next = 2;
  for (const batch of [1, 64, 1024, 5000]) {
    const before = { ...counts };
    await log.append(entries(next, next + batch - 1, 1, 100));
    next += batch;
    expect({ write: counts.write - before.write, datasync: counts.datasync - before.datasync }, `batch ${batch}`).toEqual({ write: 1, datasync: 1 });
  }
  await engine.close();
});

it('sync interval: the append resolves without fdatasync; one follows within syncIntervalMs', async () => {
  const engine = await fileStorage({ dir: join(dir, 'store'), sync: 'interval', syncIntervalMs: 500 });
  const { log } = await engine.openGroup('g');
  await log.append(entries(1, 1, 1));
  const before = counts.datasync;
  const t0 = Date.now();
  await log.append(entries(2, 100, 1));
  await log.append(entries(101, 200, 1));
  expect(counts.datasync).toBe(before);
  while (counts.datasync === before) {
    if (Date.now() - t0 > 5_000) throw new Error('no fdatasync within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  // Both appends were covered by one sync.
  expect(counts.datasync).toBe(before + 1);
  await engine.close();
});
