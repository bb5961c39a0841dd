import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageEngineSuite, type StorageHarness } from '@tessera/testing/log-store';
import { snapshotStoreSuite } from '@tessera/testing/snapshot-store';
import { rocksdbStorage } from '../dist/index.js'; // built package: the writer thread runs dist/writer-worker.js

async function harness(): Promise<StorageHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-rocksdb-'));
  return {
    open: () => rocksdbStorage({ dir, cacheBytes: 8 * 1024 * 1024 }),
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
}

storageEngineSuite('rocksdb', harness);
snapshotStoreSuite('rocksdb', harness);
