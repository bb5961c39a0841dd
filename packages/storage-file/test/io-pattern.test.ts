/**
 * The I/O an append costs: with `sync: 'always'` one write per call on a segment opened with
 * `O_DSYNC` (durable when it returns: write + fdatasync in one system call), whatever the batch
 * size (group commit happens above the store, so this is what makes it pay off); with
 * `sync: 'interval'` no fdatasync on the call, one within `syncIntervalMs`. Appends made before
 * the previous one resolved never overlap it on disk, and the next write is issued before the
 * previous call's caller resumes.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdtemp, open, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { entries } from '@tessera/testing/log-store';
import { fileStorage } from '../src/index.js';

interface Counts {
  write: number;
  datasync: number;
}

type Fn = (...a: unknown[]) => unknown;

let dir: string;
let counts: Counts;
let restore: () => void;
/** Writes and resolutions, in order, for the pipelining test. */
let events: string[];
let writesInFlight = 0;
let maxWritesInFlight = 0;

function wroteStart(): () => void {
  counts.write++;
  events.push('write');
  maxWritesInFlight = Math.max(maxWritesInFlight, ++writesInFlight);
  return () => void writesInFlight--;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-io-'));
  counts = { write: 0, datasync: 0 };
  events = [];
  writesInFlight = 0;
  maxWritesInFlight = 0;
  // Count writes and fdatasyncs through both APIs the store may use: FileHandle methods (they
  // share one prototype) and the callback functions of node:fs (patched on the module object,
  // then synced into the ES module bindings the store imported).
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: Fn; datasync: Fn };
  await probe.close();
  const fs = createRequire(import.meta.url)('node:fs') as { write: Fn; fdatasync: Fn; fsync: Fn };
  const saved = { write: proto.write, datasync: proto.datasync, fsWrite: fs.write, fsFdatasync: fs.fdatasync };
  proto.write = function (this: unknown, ...a: unknown[]) {
    const done = wroteStart();
    const p = saved.write.apply(this, a) as Promise<unknown>;
    p.then(done, done);
    return p;
  };
  proto.datasync = function (this: unknown) {
    counts.datasync++;
    return saved.datasync.apply(this);
  };
  fs.write = function (this: unknown, ...a: unknown[]) {
    const done = wroteStart();
    const cb = a[a.length - 1] as Fn;
    a[a.length - 1] = (...r: unknown[]) => {
      done();
      return cb(...r);
    };
    return saved.fsWrite.apply(this, a);
  };
  fs.fdatasync = function (this: unknown, ...a: unknown[]) {
    counts.datasync++;
    return saved.fsFdatasync.apply(this, a);
  };
  syncBuiltinESMExports();
  restore = () => {
    proto.write = saved.write;
    proto.datasync = saved.datasync;
    fs.write = saved.fsWrite;
    fs.fdatasync = saved.fsFdatasync;
    syncBuiltinESMExports();
  };
});

afterEach(async () => {
  restore();
  await rm(dir, { recursive: true, force: true });
});

/** Open-file flags of this process's descriptors on `path` (Linux: /proc/self/fdinfo), octal-decoded. */
async function openFlags(path: string): Promise<number[]> {
  const out: number[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target !== path) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    const m = /^flags:\s+([0-7]+)$/m.exec(info);
    if (m) out.push(parseInt(m[1]!, 8));
  }
  return out;
}

const linux = process.platform === 'linux';

it('sync always: one O_DSYNC write and no separate fdatasync per append call, at any batch size', async () => {
  const engine = await fileStorage({ dir: join(dir, 'store') });
  const { log } = await engine.openGroup('g');
  await log.append(entries(1, 1, 1)); // creates the first segment
  let next = 2;
  for (const batch of [1, 64, 1024, 5000]) {
    const before = { ...counts };
    await log.append(entries(next, next + batch - 1, 1, 100));
    next += batch;
    expect({ write: counts.write - before.write, datasync: counts.datasync - before.datasync }, `batch ${batch}`).toEqual({ write: 1, datasync: 0 });
  }
  if (linux) {
    const logDir = join(dir, 'store', 'groups', 'g', 'log');
    const [seg] = (await readdir(logDir)).filter((n) => n.endsWith('.seg'));
    const flags = await openFlags(join(logDir, seg!));
    expect(flags.length).toBeGreaterThan(0);
    for (const f of flags) expect(f & constants.O_DSYNC, `flags ${f.toString(8)}`).toBe(constants.O_DSYNC);
  }
  await engine.close();
});

it('sync always, reopened: appends to a recovered segment are O_DSYNC writes too', async () => {
  const first = await fileStorage({ dir: join(dir, 'store') });
  await (await first.openGroup('g')).log.append(entries(1, 10, 1));
  await first.close();
  const engine = await fileStorage({ dir: join(dir, 'store') });
  const { log } = await engine.openGroup('g');
  const before = { ...counts };
  await log.append(entries(11, 20, 1));
  expect({ write: counts.write - before.write, datasync: counts.datasync - before.datasync }).toEqual({ write: 1, datasync: 0 });
  if (linux) {
    const logDir = join(dir, 'store', 'groups', 'g', 'log');
    const [seg] = (await readdir(logDir)).filter((n) => n.endsWith('.seg'));
    for (const f of await openFlags(join(logDir, seg!))) expect(f & constants.O_DSYNC).toBe(constants.O_DSYNC);
  }
  await engine.close();
});

it('pipelined appends: writes never overlap, and the next write starts before the previous caller resumes', async () => {
  const engine = await fileStorage({ dir: join(dir, 'store') });
  const { log } = await engine.openGroup('g');
  await log.append(entries(1, 1, 1));
  events.length = 0;
  const calls: Promise<void>[] = [];
  for (let k = 0; k < 4; k++) {
    const lo = 2 + k * 100;
    const p = log.append(entries(lo, lo + 99, 1, 100));
    calls.push(p.then(() => void events.push(`resolved ${k}`)));
  }
  await Promise.all(calls);
  expect(maxWritesInFlight).toBe(1);
  expect(events).toEqual(['write', 'write', 'resolved 0', 'write', 'resolved 1', 'write', 'resolved 2', 'resolved 3']);
  expect(log.lastIndex()).toBe(401);
  const back = await log.entries(2, 402);
  expect(back.map((e) => e.index)).toEqual(Array.from({ length: 400 }, (_, i) => i + 2));
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

// With preallocation the append after the first may wait for the zero fill the first started and
// then write through its FileHandle; without it, it writes with fs.write. Both fail here.
it.each([{ preallocateBytes: 0 }, {}])('a failed write rejects its append and every later call, and a call queued behind it never writes (%o)', async (extra) => {
  const engine = await fileStorage({ dir: join(dir, 'store'), ...extra });
  const { log } = await engine.openGroup('g');
  await log.append(entries(1, 1, 1));
  const fs = createRequire(import.meta.url)('node:fs') as { write: Fn };
  const real = fs.write;
  let attempts = 0;
  const eio = () => {
    attempts++;
    return Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  };
  fs.write = (...a: unknown[]) => {
    const cb = a[a.length - 1] as Fn;
    process.nextTick(() => cb(eio()));
  };
  const probe = await open(join(dir, 'probe2'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: Fn };
  await probe.close();
  const realHandleWrite = proto.write;
  proto.write = () => Promise.reject(eio());
  syncBuiltinESMExports();
  const before = counts.write;
  try {
    const [failed, queued] = await Promise.allSettled([log.append(entries(2, 2, 1)), log.append(entries(3, 3, 1))]);
    expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE', message: expect.stringContaining('EIO') } });
    expect(queued).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE', message: expect.stringContaining('failed earlier') } });
    await expect(log.append(entries(4, 4, 1))).rejects.toMatchObject({ code: 'STORAGE' });
    expect(counts.write).toBe(before);
    expect(attempts, 'write attempts: the failed one only').toBe(1);
  } finally {
    fs.write = real;
    proto.write = realHandleWrite;
    syncBuiltinESMExports();
  }
  await engine.close();
});
