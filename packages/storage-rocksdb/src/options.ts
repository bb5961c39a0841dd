/**
 * Options of {@link rocksdbStorage}, validated with zod; an invalid option fails with a ConfigError
 * naming the field (e.g. `rocksdbStorage.sync: Invalid option`).
 */
import { z } from 'zod';
import { parseConfig } from '@tessera/raft';

export const rocksdbStorageOptionsSchema = z
  .object({
    /** Directory of the node's storage: the database in `db/`, snapshot files in `snapshots/`. Created if missing. */
    dir: z.string().min(1),
    /**
     * `always` (default): every write batch is committed with `sync: true` (WAL fsync'ed) before
     * its promise resolves. `never`: no fsync (tests and throwaway data only).
     */
    sync: z.enum(['always', 'never']).default('always'),
    /** RocksDB block cache in bytes. */
    cacheBytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
  })
  .strict();

export type RocksdbStorageOptions = z.input<typeof rocksdbStorageOptionsSchema>;
export type ResolvedRocksdbStorageOptions = z.output<typeof rocksdbStorageOptionsSchema>;

export function parseRocksdbStorageOptions(input: unknown): ResolvedRocksdbStorageOptions {
  return parseConfig(rocksdbStorageOptionsSchema, input, 'rocksdbStorage');
}
