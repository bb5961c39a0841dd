/**
 * Options of {@link fileStorage}, validated with zod; an invalid option fails with a ConfigError
 * naming the field (e.g. `fileStorage.segmentBytes: Too small: expected number to be >=65536`).
 */
import { z } from 'zod';
import { parseConfig, type Logger } from '@tessera/raft';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * When an append is made durable:
 * - `always` (default): the append resolves once its data is durable: segments are opened with
 *   `O_DSYNC`, so the write itself returns only then (write + fdatasync where the platform has no
 *   `O_DSYNC`). A crash of the process, the OS or the machine loses nothing that was acknowledged.
 * - `interval`: the append resolves once written to the OS; every dirty segment is fdatasync'ed
 *   `syncIntervalMs` after its first unsynced write. A process crash loses nothing acknowledged;
 *   an OS crash or power loss may lose appends acknowledged in the last `syncIntervalMs` (plus
 *   the time of queued I/O). Truncations, compactions, hard state and snapshots stay synchronous.
 * - `never`: no fsync at all. For tests and throwaway data only.
 */
export type SyncPolicy = 'always' | 'interval' | 'never';

export const fileStorageOptionsSchema = z
  .object({
    /** Directory holding every group of this node (created if missing). One engine per directory. */
    dir: z.string().min(1),
    sync: z.enum(['always', 'interval', 'never']).default('always'),
    /** `interval` policy only: the longest an acknowledged append stays unsynced. */
    syncIntervalMs: z.number().int().min(1).max(60_000).default(100),
    /** A new segment is started when the current one would grow past this (a single larger append gets its own segment). */
    segmentBytes: z
      .number()
      .int()
      .min(64 * KiB)
      .max(1024 * MiB)
      .default(64 * MiB),
    /**
     * `sync: 'always'` only: how far ahead of its last write the newest segment is kept filled
     * with zeros, written and made durable in advance (0 turns this off). An append then
     * overwrites blocks the file already has instead of growing it, so its `O_DSYNC` write needs
     * no file-system journal commit for the new size and blocks: on ext4 that halves the CPU and
     * the latency of a small durable append. The amount grows with the segment (64 KiB, then as
     * much as the segment holds) up to this, so idle groups keep little ahead; a segment's zero
     * tail is cut off when the next segment starts, and recovery reads a zero tail as the log's end.
     */
    preallocateBytes: z
      .number()
      .int()
      .min(0)
      .max(256 * MiB)
      .default(4 * MiB),
    /**
     * CRC32C implementation for the log: `auto` (default) uses the native one from `@node-rs/crc32`
     * when it loads on this platform and the portable JavaScript one otherwise; `native` fails to
     * open without it; `js` never loads it. All three read and write the same bytes.
     */
    checksum: z.enum(['auto', 'native', 'js']).default('auto'),
    /** Receives recovery notes (torn tails truncated). Silent by default. */
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).warn === 'function', { message: 'expected a Logger (object with debug/info/warn/error)' })
      .optional(),
  })
  .strict();

export type FileStorageOptions = z.input<typeof fileStorageOptionsSchema>;
export type ResolvedFileStorageOptions = z.output<typeof fileStorageOptionsSchema>;

export function parseFileStorageOptions(input: unknown): ResolvedFileStorageOptions {
  return parseConfig(fileStorageOptionsSchema, input, 'fileStorage');
}
