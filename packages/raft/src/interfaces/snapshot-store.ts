import type { SnapshotMeta } from '../types.js';

/**
 * Snapshots of one group's state machine. A snapshot is written as a stream of chunks and becomes
 * visible only when committed; a crash before `commit` resolves leaves no trace that `latest` or
 * `list` would return.
 */
export interface SnapshotStore {
  /** Starts a new snapshot. Nothing is visible until the writer's `commit` resolves. */
  create(meta: SnapshotMeta): Promise<SnapshotWriter>;
  /** Opens the committed snapshot with the highest index, or `undefined` if there is none. */
  latest(): Promise<SnapshotReader | undefined>;
  /** Metadata of every committed snapshot, oldest first. */
  list(): Promise<SnapshotMeta[]>;
  /** Deletes all but the newest `keep` committed snapshots (`keep` >= 1). Open readers stay valid. */
  prune(keep: number): Promise<void>;
}

/** Writes one snapshot. Chunks are appended in call order. */
export interface SnapshotWriter {
  readonly meta: SnapshotMeta;
  /** Appends bytes to the image. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the snapshot durable and visible, atomically. Returns its size in bytes. */
  commit(): Promise<number>;
  /** Discards everything written. Safe to call after a failed write. */
  abort(): Promise<void>;
}

/** Reads one committed snapshot, with random access so an interrupted transfer can resume at an offset. */
export interface SnapshotReader {
  readonly meta: SnapshotMeta;
  /** Total size of the image in bytes. */
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer only at the end of the image). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the reader. */
  close(): Promise<void>;
}
