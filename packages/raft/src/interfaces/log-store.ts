import type { HardState, LogEntry } from '../types.js';

/**
 * The durable Raft log of one group.
 *
 * Ordering: calls that change the log (`append`, `truncateSuffix`, `compactPrefix`) take effect in
 * the order they are made, even when the caller does not wait for one before making the next.
 * Reads observe every change whose call was made before them.
 *
 * Durability: a change is durable (survives a process crash or power loss, per the backend's sync
 * policy) when its promise resolves. After a crash, the log is a prefix-closed sequence: some
 * prefix of the calls made, never a later call without an earlier one.
 *
 * Errors: a rejected promise means the change may or may not be durable; the runtime treats that
 * as fatal for the group. Argument errors are thrown as {@link LogRangeError} without side effects.
 */
export interface LogStore {
  /**
   * Index of the first entry held. `1` for a new log; `n + 1` after `compactPrefix(n)`.
   * Synchronous: backends keep it in memory.
   */
  firstIndex(): number;

  /** Index of the last entry held, or `firstIndex() - 1` when the log is empty. Synchronous. */
  lastIndex(): number;

  /**
   * Appends entries. `entries[0].index` must be `lastIndex() + 1` and indices must be consecutive;
   * otherwise it throws {@link LogRangeError} (overwriting needs an explicit `truncateSuffix`).
   * Resolves when the entries are durable. An empty array resolves at once.
   */
  append(entries: readonly LogEntry[]): Promise<void>;

  /** Removes every entry with index >= `from` (`from` >= `firstIndex()`). Resolves when durable. */
  truncateSuffix(from: number): Promise<void>;

  /**
   * Removes every entry with index <= `upTo`, because a durable snapshot covers them. `upTo` may lie
   * beyond `lastIndex()` (a follower installing a newer snapshot): the log becomes empty with
   * `firstIndex() === upTo + 1`. Compacting below `firstIndex()` is a no-op.
   */
  compactPrefix(upTo: number): Promise<void>;

  /**
   * Entries with `lo <= index < hi`, in order. Throws {@link LogCompactedError} when `lo < firstIndex()`
   * and {@link LogRangeError} when `hi > lastIndex() + 1`. If `maxBytes` is given, stops once the
   * data returned reaches it, but always returns at least one entry when the range is non-empty.
   */
  entries(lo: number, hi: number, maxBytes?: number): Promise<LogEntry[]>;

  /** Term of the entry at `index` (`firstIndex() <= index <= lastIndex()`); otherwise throws like `entries`. */
  term(index: number): Promise<number>;
}

/** Term, vote and commit of one group. */
export interface HardStateStore {
  /** The last saved state, or {@link EMPTY_HARD_STATE} if none was ever saved. */
  load(): Promise<HardState>;
  /** Replaces the state atomically: after a crash, `load` returns either the old or the new value, whole. Resolves when durable. */
  save(state: HardState): Promise<void>;
}
