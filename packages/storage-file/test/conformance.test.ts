import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageEngineSuite, type StorageHarness } from '@tessera/testing/log-store';
import { snapshotStoreSuite } from '@tessera/testing/snapshot-store';
import { fileStorage, type FileStorageOptions } from '../src/index.js';

function harness(options: Omit<FileStorageOptions, 'dir'>): () => Promise<StorageHarness> {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-file-'));
    return {
      open: () => fileStorage({ dir, ...options }),
      destroy: () => rm(dir, { recursive: true, force: true }),
    };
  };
}

// Default options: fdatasync on every append, 64 MiB segments.
storageEngineSuite('file (sync always)', harness({}));
snapshotStoreSuite('file (sync always)', harness({}));
// The smallest segments, so that appends roll, truncations cross and compactions delete segments;
// with sync 'always', also with zero-filled (preallocated) tails throughout.
storageEngineSuite('file (sync always, 64 KiB segments)', harness({ segmentBytes: 64 * 1024 }));
storageEngineSuite('file (sync interval, 64 KiB segments)', harness({ sync: 'interval', syncIntervalMs: 5, segmentBytes: 64 * 1024 }));
// The portable JavaScript CRC32C, used where the native one does not load.
storageEngineSuite('file (JavaScript CRC32C, 64 KiB segments)', harness({ checksum: 'js', sync: 'never', segmentBytes: 64 * 1024 }));
