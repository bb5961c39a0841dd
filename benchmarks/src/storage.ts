/**
 * `pnpm bench storage [--quick] [--seconds 8] [--sliceMs 250] [--batches 1,64,1024] [--backends raw,copy,memory,file,rocksdb]`
 *
 * What it measures: durable append throughput of each storage backend, one group, one append call
 * in flight at a time (as the Raft runtime issues them), with entries of 100 bytes in batches of
 * 1, 64 and 1024 entries per call, every call made durable before it resolves:
 *
 * - `raw`: the disk's ceiling, measured in the same run: one `write` of batch × 100 bytes then one
 *   `fdatasync`, appending to a file in the same temp directory;
 * - `copy`: the floor of any store handed entry objects: builds each call's entries as the engine
 *   rows do, copies every payload into one reused buffer (one `set` each), then the same `write` +
 *   `fdatasync`; no framing, checksum or index. The distance from `raw` to `copy` is the cost of the
 *   interface, the distance from `copy` to `file` the cost of the file log's own work;
 * - `memory`: `@tessera/storage-memory` (no I/O: the cost of the call itself);
 * - `file`: `@tessera/storage-file`, `sync: 'always'` (one write + one fdatasync per call);
 * - `rocksdb`: `@tessera/storage-rocksdb`, `sync: 'always'` (one WriteBatch with sync per call).
 *
 * The backends of one batch size run interleaved, in slices of 250 ms (`--sliceMs`), until each
 * has run `--seconds` (8, or 1.5 with `--quick`): on a shared machine the disk's speed drifts by
 * 2-5x within seconds, and interleaving gives every backend the same disk on average.
 *
 * Rows: `opsPerSec` = entries/s, p50/p99 = latency of one append call, `MBps` = entry payload
 * MB/s (100 bytes per entry; framing not counted), `ratioToRaw` = MBps / raw MBps at the same batch
 * size, `syncsPerSec` = append calls/s.
 */
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

/** One durable append of `batch` entries; returns when durable. */
type Appender = { append(): Promise<void>; close(): Promise<void> };

async function rawAppender(dir: string, batch: number): Promise<Appender> {
  const fh = await open(join(dir, 'raw.bin'), 'w');
  const buf = Buffer.alloc(batch * ENTRY_BYTES, 7);
  let pos = 0;
  return {
    async append() {
      await fh.write(buf, 0, buf.length, pos);
      pos += buf.length;
      await fh.datasync();
    },
    close: () => fh.close(),
  };
}

async function copyAppender(dir: string, batch: number): Promise<Appender> {
  const fh = await open(join(dir, 'copy.bin'), 'w');
  const buf = Buffer.alloc(batch * ENTRY_BYTES);
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  let next = 1;
  let pos = 0;
  return {
    async append() {
      const entries: LogEntry[] = new Array(batch);
      for (let i = 0; i < batch; i++) entries[i] = { index: next + i, term: 1, type: 0, data };
      next += batch;
      let off = 0;
      for (let i = 0; i < batch; i++) {
        const d = entries[i]!.data;
        buf.set(d, off);
        off += d.byteLength;
      }
      await fh.write(buf, 0, off, pos);
      pos += off;
      await fh.datasync();
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
  copy: copyAppender,
  memory: async (_dir, batch) => engineAppender(memoryStorage(), batch, 64),
  file: async (dir, batch) => engineAppender(await fileStorage({ dir, sync: 'always' }), batch),
  // The file engine with its portable JavaScript CRC32C (what runs where the native one does not load).
  'file-js': async (dir, batch) => engineAppender(await fileStorage({ dir, sync: 'always', checksum: 'js' }), batch),
  rocksdb: async (dir, batch) => engineAppender(await rocksdbStorage({ dir, sync: 'always' }), batch),
};

interface Tally {
  calls: number;
  ms: number;
  lat: Latencies;
}

/**
 * Runs every backend's appender in turn, in slices of `sliceMs`, until each has run `seconds`:
 * the disk of a shared machine changes speed from one second to the next, and interleaving makes
 * every backend see the same disk on average.
 */
async function measureInterleaved(makers: [string, (dir: string, batch: number) => Promise<Appender>][], batch: number, seconds: number, sliceMs: number) {
  const dirs: string[] = [];
  const apps: Appender[] = [];
  try {
    for (const [, make] of makers) {
      const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-storage-'));
      dirs.push(dir);
      apps.push(await make(dir, batch));
    }
    // Warm up (JIT, file creation).
    for (const a of apps) {
      const warm = performance.now() + Math.min(200, seconds * 100);
      while (performance.now() < warm) await a.append();
    }
    const tallies: Tally[] = apps.map(() => ({ calls: 0, ms: 0, lat: new Latencies() }));
    const rounds = Math.max(1, Math.round((seconds * 1000) / sliceMs));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < apps.length; i++) {
        const a = apps[i]!;
        const t = tallies[i]!;
        const t0 = performance.now();
        const end = t0 + sliceMs;
        for (;;) {
          const s = performance.now();
          if (s >= end) break;
          await a.append();
          t.lat.add(performance.now() - s);
          t.calls++;
        }
        t.ms += performance.now() - t0;
      }
    }
    return tallies.map((t) => ({
      entriesPerSec: (t.calls * batch * 1000) / t.ms,
      callsPerSec: (t.calls * 1000) / t.ms,
      p50: t.lat.percentile(50),
      p99: t.lat.percentile(99),
    }));
  } finally {
    for (const a of apps) await a.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

function list(v: string | boolean | undefined, fallback: string): string[] {
  return (typeof v === 'string' ? v : fallback).split(',').filter((s) => s !== '');
}

const storage: Benchmark = async (ctx: BenchContext) => {
  const seconds = Number(ctx.flags.seconds ?? (ctx.quick ? 1.5 : 8));
  const sliceMs = Number(ctx.flags.sliceMs ?? 250);
  const batches = list(ctx.flags.batches, '1,64,1024').map(Number);
  const backends = list(ctx.flags.backends, 'raw,copy,memory,file,rocksdb');
  for (const b of backends) if (!BACKENDS[b]) throw new Error(`unknown backend ${b} (have ${Object.keys(BACKENDS).join(', ')})`);
  for (const batch of batches) {
    ctx.log(`storage: batch ${batch}: ${backends.join(', ')} interleaved, ${seconds} s each`);
    const results = await measureInterleaved(
      backends.map((b) => [b, BACKENDS[b]!]),
      batch,
      seconds,
      sliceMs,
    );
    const rawAt = backends.indexOf('raw');
    const rawMBps = rawAt >= 0 ? (results[rawAt]!.entriesPerSec * ENTRY_BYTES) / 1e6 : undefined;
    backends.forEach((backend, i) => {
      const r = results[i]!;
      const MBps = (r.entriesPerSec * ENTRY_BYTES) / 1e6;
      ctx.report({
        benchmark: 'storage',
        params: { backend, batch, entryBytes: ENTRY_BYTES, sync: backend === 'memory' ? 'n/a' : 'always', ...(backend === 'file' ? { checksum: fileChecksum } : backend === 'file-js' ? { checksum: 'js' } : {}) },
        opsPerSec: r.entriesPerSec,
        p50Ms: r.p50,
        p99Ms: r.p99,
        extra: { MBps, ratioToRaw: rawMBps ? MBps / rawMBps : 0, syncsPerSec: r.callsPerSec },
      });
    });
  }
};

export default storage;
