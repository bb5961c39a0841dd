#!/usr/bin/env node
// Compares the two RocksDB bindings on what the log store needs: a write batch of N 100-byte
// values committed with { sync: true }, and whether the event loop stays free during the write.
// Run: node scripts/compare-bindings.mjs. Only @nxtedition/rocksdb is a dependency now; to repeat
// the comparison, add the other one first: pnpm --filter @tessera/storage-rocksdb add -D rocksdb@5.2.1
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const seconds = Number(process.env.SECONDS_PER_CASE ?? 2);

function key(i) {
  const k = Buffer.alloc(8);
  k.writeBigUInt64BE(BigInt(i));
  return k;
}

async function bench(name, open, writeBatch, close) {
  for (const batch of [1, 64, 1024]) {
    const dir = mkdtempSync(join(tmpdir(), 'rocks-cmp-'));
    const db = await open(dir);
    const value = Buffer.alloc(100, 7);
    // Time spent inside the call before it returns a promise: the event loop is blocked for it.
    let blockedMs = 0;
    let n = 0;
    let calls = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const ops = [];
      for (let i = 0; i < batch; i++) ops.push({ type: 'put', key: key(n++), value });
      const b0 = performance.now();
      const p = writeBatch(db, ops);
      blockedMs += performance.now() - b0;
      await p;
      calls++;
    }
    const s = (performance.now() - t0) / 1000;
    await close(db);
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `${name.padEnd(20)} batch ${String(batch).padStart(4)}: ${Math.round(n / s).toString().padStart(8)} entries/s, ${(calls / s).toFixed(0).padStart(6)} syncs/s, ${((n * 100) / s / 1e6).toFixed(1).padStart(5)} MB/s, event loop blocked ${((blockedMs / (s * 1000)) * 100).toFixed(0).padStart(3)}% of the time`,
    );
  }
}

function load(name) {
  try {
    return require(name);
  } catch {
    console.log(`${name}: not installed, skipped`);
    return undefined;
  }
}

const nxt = load('@nxtedition/rocksdb');
if (nxt) {
  const { RocksLevel } = nxt;
  await bench(
    '@nxtedition/rocksdb',
    async (dir) => {
      const db = new RocksLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
      return db;
    },
    (db, ops) => db.batch(ops, { sync: true }),
    (db) => db.close(),
  );
}
const rocksdb = load('rocksdb');
if (rocksdb) {
  const { promisify } = require('node:util');
  await bench(
    'rocksdb (Level)',
    async (dir) => {
      const db = rocksdb(dir);
      await promisify(db.open.bind(db))({ createIfMissing: true });
      return db;
    },
    (db, ops) => new Promise((res, rej) => db.batch(ops, { sync: true }, (err) => (err ? rej(err) : res()))),
    (db) => new Promise((res) => db.close(res)),
  );
}
