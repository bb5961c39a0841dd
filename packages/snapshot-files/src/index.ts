/**
 * @tessera/snapshot-files: what the durable storage backends share. Internal: its API follows
 * theirs, not semver promises of its own.
 *
 * - {@link FileSnapshotStore}: a group's snapshots as files, committed atomically (temp file,
 *   fdatasync, rename, fsync of the directory), checksummed, pruned while readers stay valid;
 * - {@link groupStorage}: a group's three stores with a close that closes each once;
 * - the durable-file steps it is built from ({@link writeFileAtomic}, {@link fsyncDir}, ...);
 * - CRC-32C, native when `@node-rs/crc32` loads, portable JavaScript otherwise ({@link crc32c}).
 *
 * ```ts
 * import { FileSnapshotStore } from '@tessera/snapshot-files';
 * const snapshots = await FileSnapshotStore.open('/var/lib/tessera/node-1/snapshots/g1', true);
 * ```
 */
export { FileSnapshotStore } from './snapshot-store.js';
export { groupStorage, type GroupStores } from './group-storage.js';
export { snapshotFileName, parseSnapshotFileName, FOOTER_BYTES } from './snapshot-file.js';
export { fsyncDir, writeAll, readFull, writeFileAtomic, tmpName, TMP_SUFFIX } from './durable-fs.js';
export { asStorageError } from './storage-error.js';
export {
  crc32c,
  crc32cJs,
  defaultCrc32c,
  jsCrc32c,
  loadNativeCrc32c,
  nativeCrc32c,
  selectCrc32c,
  type Crc32cChoice,
  type Crc32cFn,
  type Crc32cImpl,
  type NativeCrc32c,
} from './crc32c.js';
