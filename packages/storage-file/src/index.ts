/**
 * @tessera/storage-file: the embedded default storage. Each group's log is a set of append-only
 * segment files with a CRC32C per record; hard state and snapshots are files replaced atomically.
 *
 * ```ts
 * import { fileStorage } from '@tessera/storage-file';
 * const storage = await fileStorage({ dir: '/var/lib/tessera/node-1' });
 * const group = await storage.openGroup('orders-0');
 * ```
 */
import type { StorageEngine } from '@tessera/raft';
import { defaultCrc32c } from '@tessera/snapshot-files';
import { FileStorageEngine } from './engine.js';
import { parseFileStorageOptions, type FileStorageOptions } from './options.js';

export { fileStorageOptionsSchema, type FileStorageOptions, type SyncPolicy } from './options.js';

/**
 * The CRC32C implementation `checksum: 'auto'` (the default) uses in this process: `native` when
 * `@node-rs/crc32` loaded, `js` where it did not (both write and read the same bytes).
 */
export const autoChecksum: 'native' | 'js' = defaultCrc32c.name;

/**
 * Opens (creating if needed) the file storage engine in `options.dir`.
 *
 * Durability per `options.sync` (see {@link SyncPolicy}); `always` by default. On open, each
 * group's log is scanned: a torn write at its end is truncated, damage anywhere else fails the
 * group's `openGroup` with a `CorruptionError` naming the file and offset.
 *
 * @throws ConfigError naming the offending option; StorageError if another live process has the directory open.
 */
export async function fileStorage(options: FileStorageOptions): Promise<StorageEngine> {
  const engine = new FileStorageEngine(parseFileStorageOptions(options));
  await engine.init();
  return engine;
}
