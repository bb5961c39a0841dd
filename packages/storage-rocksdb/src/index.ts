/**
 * @tessera/storage-rocksdb: one RocksDB database per node, shared by every group (many groups,
 * few files, one WAL fsync for many groups' appends). Snapshot images are files beside it.
 *
 * ```ts
 * import { rocksdbStorage } from '@tessera/storage-rocksdb';
 * const storage = await rocksdbStorage({ dir: '/var/lib/tessera/node-1' });
 * const group = await storage.openGroup('orders-0');
 * ```
 */
import type { StorageEngine } from '@tessera/raft';
import { RocksStorageEngine } from './engine.js';
import { parseRocksdbStorageOptions, type RocksdbStorageOptions } from './options.js';

export { rocksdbStorageOptionsSchema, type RocksdbStorageOptions } from './options.js';

/**
 * Opens (creating if needed) the RocksDB storage engine in `options.dir`.
 *
 * With `sync: 'always'` (default) every append, truncation, compaction and hard-state save is a
 * write batch committed with `sync: true` before its promise resolves. Writes run on a dedicated
 * thread, so fsyncs never block the event loop; writes of many groups queued together share one
 * WAL fsync.
 *
 * @throws ConfigError naming the offending option; StorageError if the database cannot be opened
 * (for instance because another process has it open).
 */
export async function rocksdbStorage(options: RocksdbStorageOptions): Promise<StorageEngine> {
  return RocksStorageEngine.start(parseRocksdbStorageOptions(options));
}
