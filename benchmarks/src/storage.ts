/**
 * `pnpm bench storage [--quick] [--seconds 8] [--sliceMs 250] [--batches 1,64,1024] [--depth 2]
 *  [--backends raw,raw-dsync,copy,memory,file,file-noprealloc,rocksdb]`
 *
 * What it measures: durable append throughput of each storage backend, one group, with entries of
 * 100 bytes in batches of 1, 64 and 1024 entries per call, every call durable before it resolves.
 * The caller keeps `--depth` calls in flight (2, as the Raft runtime's I/O queue does: the next
 * batch is handed over while the previous one is being written, so its encoding overlaps that
 * write; `--depth 1` waits for each call before making the next). Every backend's disk I/O stays
 * serial: a call's write starts only after the previous call is durable.
 *
 * - `raw`: the disk's ceiling, measured in the same run: one `write` of batch × 100 bytes then one
 *   `fdatasync`, appending to a file in the same temp directory, the next write issued the moment
 *   the previous `fdatasync` returned (it has no CPU work to overlap, so depth changes nothing);
 * - `raw-dsync`: the same bytes as one `write` on a file opened with `O_DSYNC` (durable when it
 *   returns: the file log's mechanism with `sync: 'always'`), to show what that alone changes;
 * - `copy`: the floor of any store handed entry objects: builds each call's entries as the engine
 *   rows do, copies every payload into one buffer (one `set` each), then the same `write` +
 *   `fdatasync` as `raw`; no framing, checksum or index. The distance from `raw` to `copy` is the
 *   cost of the interface, the distance from `copy` to `file` the cost of the file log's own work;
 * - `memory`: `@tessera/storage-memory` (no I/O: the cost of the call itself);
 * - `file`: `@tessera/storage-file`, `sync: 'always'` (one `O_DSYNC` write per call; small calls
 *   overwrite zeros the log wrote ahead, see its `preallocateBytes` option);
 * - `file-noprealloc`: the same with `preallocateBytes: 0` (every call grows the file), to compare;
 * - `rocksdb`: `@tessera/storage-rocksdb`, `sync: 'always'` (one WriteBatch with sync per call).
 *
 * The backends of one batch size run interleaved, in slices of 250 ms (`--sliceMs`), until each
 * has run `--seconds` (8, or 1.2 with `--quick`, which then takes about 28 s): on a shared machine
 * the disk's speed drifts by 2-5x within seconds, and interleaving gives every backend the same
 * disk on average. A slice ends by waiting for its calls in flight.
 *
 * Rows: `opsPerSec` = entries/s, p50/p99 = latency of one append call (from the call to its
 * resolution, so with depth 2 it includes waiting for the call before it), `MBps` = entry payload
 * MB/s (100 bytes per entry; framing not counted), `ratioToRaw` = MBps / raw MBps at the same batch
 * size, `syncsPerSec` = append calls/s, `cpuUsPerCall` = CPU time of the process (every thread:
 * event loop, thread pool, GC; user + system) per append call, which depends less than throughput
 * on what else the machine runs (it still grows when the cores are contended).
 */
import { constants, fdatasync, write } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry, StorageEngine } from '@tessera/raft';
import { autoChecksum, fileStorage } from '@tessera/storage-file';
import { memoryStorage } from '@tessera/storage-memory';
import { rocksdbStorage } from '@tessera/storage-rocksdb';
import { Latencies, type BenchContext, type Benchmark } from './harness.js';

const ENTRY_BYTES = 100;
/** Which CRC32C the `file` rows used (`native` unless `@node-rs/crc32` failed to load). */
const fileChecksum = autoChecksum;

/** One durable append of `batch` entries; resolves when durable. Calls may overlap (`--depth`). */
type Appender = { append(): Promise<void>; close(): Promise<void> };

/** A disk operation in callback style: calls `done` once, with an error or without. */
type Io = (done: (err?: Error | null) => void) => void;

/**
 * Runs `io` tasks one at a time in call order, starting each one from the completion callback of
 * the one before it, before that one's caller resumes: the discipline of the file log's queue
 * (which also writes through the callback API), so the raw rows pay no scheduling the file log
 * does not pay.
 */
function serialIo(): (io: Io) => Promise<void> {
  const queue: { io: Io; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let running = false;
  const next = (): void => {
    const t = queue.shift();
    running = t !== undefined;
    if (!t) return;
    t.io((err) => {
      next();
      if (err) t.reject(err);
      else t.resolve();
    });
  };
  return (io) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ io, resolve, reject });
      if (!running) next();
    });
}

/** One `write` of `buf[0, length)` at `at`, then one `fdatasync` unless the file is `O_DSYNC`. */
function writeSync(fd: number, buf: Buffer, length: number, at: number, dsync: boolean): Io {
  return (done) =>
    write(fd, buf, 0, length, at, (err, n) => {
      if (err || n !== length) done(err ?? new Error(`short write: ${n} of ${length}`));
      else if (dsync) done();
      else fdatasync(fd, done);
    });
}

async function rawAppender(dir: string, batch: number, dsync = false): Promise<Appender> {
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | (dsync ? constants.O_DSYNC : 0);
  const fh = await open(join(dir, dsync ? 'raw-dsync.bin' : 'raw.bin'), flags);
  const buf = Buffer.alloc(batch * ENTRY_BYTES, 7);
  const serial = serialIo();
  let pos = 0;
  return {
    append() {
      const at = pos;
      pos += buf.length;
      return serial(writeSync(fh.fd, buf, buf.length, at, dsync));
    },
    close: () => fh.close(),
  };
}

async function copyAppender(dir: string, batch: number): Promise<Appender> {
  const fh = await open(join(dir, 'copy.bin'), 'w');
  // One buffer per call in flight, reused (as the file log reuses its write buffers).
  const free: Buffer[] = [];
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  const serial = serialIo();
  let next = 1;
  let pos = 0;
  return {
    append() {
      const entries: LogEntry[] = new Array(batch);
      for (let i = 0; i < batch; i++) entries[i] = { index: next + i, term: 1, type: 0, data };
      next += batch;
      const buf = free.pop() ?? Buffer.alloc(batch * ENTRY_BYTES);
      let off = 0;
      for (let i = 0; i < batch; i++) {
        const d = entries[i]!.data;
        buf.set(d, off);
        off += d.length;
      }
      const at = pos;
      pos += off;
      const io = writeSync(fh.fd, buf, off, at, false);
      return serial((done) =>
        io((err) => {
          free.push(buf);
          done(err);
        }),
      );
    },
    close: () => fh.close(),
  };
}

/**
 * `compactEvery`: compact the log every that many calls (memory only): otherwise the memory
 * backend keeps tens of millions of entry objects alive, and the garbage collector it triggers
 * slows down whichever backend runs next in this process.
 */
async function engineAppender(engine: StorageEngine, batch: number, compactEvery = 0): Promise<Appender> {
  const g = await engine.openGroup('bench');
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  let next = 1;
  let calls = 0;
  return {
    async append() {
      const entries: LogEntry[] = new Array(batch);
      for (let i = 0; i < batch; i++) entries[i] = { index: next + i, term: 1, type: 0, data };
      next += batch;
      await g.log.append(entries);
      if (compactEvery > 0 && ++calls % compactEvery === 0) await g.log.compactPrefix(next - 1);
    },
    async close() {
      await g.close();
      await engine.close();
    },
  };
}

const BACKENDS: Record<string, (dir: string, batch: number) => Promise<Appender>> = {
  raw: rawAppender,
  'raw-dsync': (dir, batch) => rawAppender(dir, batch, true),
  copy: copyAppender,
  memory: async (_dir, batch) => engineAppender(memoryStorage(), batch, 64),
  file: async (dir, batch) => engineAppender(await fileStorage({ dir, sync: 'always' }), batch),
  // The file engine without preallocation (every append grows the file), to compare.
  'file-noprealloc': async (dir, batch) => engineAppender(await fileStorage({ dir, sync: 'always', preallocateBytes: 0 }), batch),
  // The file engine with its portable JavaScript CRC32C (what runs where the native one does not load).
  'file-js': async (dir, batch) => engineAppender(await fileStorage({ dir, sync: 'always', checksum: 'js' }), batch),
  rocksdb: async (dir, batch) => engineAppender(await rocksdbStorage({ dir, sync: 'always' }), batch),
};

interface Tally {
  calls: number;
  ms: number;
  /** CPU time of this process (every thread: event loop, thread pool, GC) during the slices, µs. */
  cpuUs: number;
  lat: Latencies;
}

/**
 * Runs every backend's appender in turn, in slices of `sliceMs`, until each has run `seconds`:
 * the disk of a shared machine changes speed from one second to the next, and interleaving makes
 * every backend see the same disk on average.
 */
async function measureInterleaved(makers: [string, (dir: string, batch: number) => Promise<Appender>][], batch: number, seconds: number, sliceMs: number, depth: number) {
  const dirs: string[] = [];
  const apps: Appender[] = [];
  try {
    for (const [, make] of makers) {
      const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-storage-'));
      dirs.push(dir);
      apps.push(await make(dir, batch));
    }
    // Warm up (JIT, file creation).
    for (const a of apps) await drive(a, Math.min(200, seconds * 100), depth);
    const tallies: Tally[] = apps.map(() => ({ calls: 0, ms: 0, cpuUs: 0, lat: new Latencies() }));
    const rounds = Math.max(1, Math.round((seconds * 1000) / sliceMs));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < apps.length; i++) await drive(apps[i]!, sliceMs, depth, tallies[i]!);
    }
    return tallies.map((t) => ({
      entriesPerSec: (t.calls * batch * 1000) / t.ms,
      callsPerSec: (t.calls * 1000) / t.ms,
      cpuUsPerCall: t.cpuUs / t.calls,
      p50: t.lat.percentile(50),
      p99: t.lat.percentile(99),
    }));
  } finally {
    for (const a of apps) await a.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

/**
 * Keeps `depth` calls of `a` in flight for `ms`, then waits for the last ones; adds calls, time
 * and per-call latency to `t`. A new call is made as soon as the oldest one resolved.
 */
async function drive(a: Appender, ms: number, depth: number, t?: Tally): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  const flight: { p: Promise<void>; at: number }[] = [];
  for (;;) {
    while (flight.length < depth && performance.now() < end) {
      const at = performance.now();
      flight.push({ p: a.append(), at });
    }
    const f = flight.shift();
    if (f === undefined) break;
    await f.p;
    if (t) {
      t.lat.add(performance.now() - f.at);
      t.calls++;
    }
  }
  if (t) {
    t.ms += performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    t.cpuUs += cpu.user + cpu.system;
  }
}

function list(v: string | boolean | undefined, fallback: string): string[] {
  return (typeof v === 'string' ? v : fallback).split(',').filter((s) => s !== '');
}

const storage: Benchmark = async (ctx: BenchContext) => {
  const seconds = Number(ctx.flags.seconds ?? (ctx.quick ? 1.2 : 8));
  const sliceMs = Number(ctx.flags.sliceMs ?? 250);
  const batches = list(ctx.flags.batches, '1,64,1024').map(Number);
  const depth = Number(ctx.flags.depth ?? 2);
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`--depth must be a positive integer, got ${String(ctx.flags.depth)}`);
  const backends = list(ctx.flags.backends, 'raw,raw-dsync,copy,memory,file,file-noprealloc,rocksdb');
  for (const b of backends) if (!BACKENDS[b]) throw new Error(`unknown backend ${b} (have ${Object.keys(BACKENDS).join(', ')})`);
  for (const batch of batches) {
    ctx.log(`storage: batch ${batch}: ${backends.join(', ')} interleaved, ${seconds} s each, ${depth} in flight`);
    const results = await measureInterleaved(
      backends.map((b) => [b, BACKENDS[b]!]),
      batch,
      seconds,
      sliceMs,
      depth,
    );
    const rawAt = backends.indexOf('raw');
    const rawMBps = rawAt >= 0 ? (results[rawAt]!.entriesPerSec * ENTRY_BYTES) / 1e6 : undefined;
    backends.forEach((backend, i) => {
      const r = results[i]!;
      const MBps = (r.entriesPerSec * ENTRY_BYTES) / 1e6;
      ctx.report({
        benchmark: 'storage',
        params: { backend, batch, depth, entryBytes: ENTRY_BYTES, sync: backend === 'memory' ? 'n/a' : 'always', ...(backend === 'file' ? { checksum: fileChecksum } : backend === 'file-noprealloc' ? { checksum: fileChecksum, preallocateBytes: 0 } : backend === 'file-js' ? { checksum: 'js' } : {}) },
        opsPerSec: r.entriesPerSec,
        p50Ms: r.p50,
        p99Ms: r.p99,
        extra: { MBps, ratioToRaw: rawMBps ? MBps / rawMBps : 0, syncsPerSec: r.callsPerSec, cpuUsPerCall: r.cpuUsPerCall },
      });
    });
  }
};

export default storage;
