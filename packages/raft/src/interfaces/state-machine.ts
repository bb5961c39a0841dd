/**
 * The replicated state a group maintains. Every replica applies the same commands in the same order,
 * so `apply` must be deterministic: its effect may depend only on the current state, the command and
 * the index (no clocks, no randomness, no I/O whose result can differ between replicas).
 */
export interface StateMachine<Result = unknown> {
  /**
   * Applies one committed command. Called exactly once per index, in index order, never concurrently.
   * The returned value (or the promise's value) resolves the proposer's promise on the replica where
   * the proposal was made. Throwing is treated as a deterministic result: the error is returned to the
   * proposer and the state must be unchanged, on every replica alike.
   */
  apply(command: Uint8Array, index: number): Result | Promise<Result>;

  /**
   * Captures the state as of the last applied index for a snapshot. Optional: a group whose state
   * machine lacks `snapshot` and `restore` never compacts its log.
   */
  snapshot?(): SnapshotSource | Promise<SnapshotSource>;

  /** Replaces the whole state with a snapshot's image, read from `chunks` in order. */
  restore?(chunks: AsyncIterable<Uint8Array>): Promise<void>;
}

/**
 * A captured state image. `chunks` may be read after `snapshot()` returned while later commands are
 * already being applied, so the capture must be a consistent copy (or copy-on-write view) of the state
 * at the time of the call.
 */
export interface SnapshotSource {
  chunks(): AsyncIterable<Uint8Array>;
  /** Releases the capture (e.g. ends copy-on-write tracking). Called once, after reading or on failure. */
  release?(): void;
}
