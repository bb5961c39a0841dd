/**
 * The {@link GroupStorage} a durable engine hands out: its three stores plus a `close` that closes
 * each once, in order (log, hard state, snapshots), and tells the engine the group is free again
 * whatever happened.
 */
import type { GroupStorage, HardStateStore, LogStore, SnapshotStore } from '@tessera/raft';

interface Closable {
  close(): Promise<void>;
}

export interface GroupStores {
  readonly log: LogStore & Closable;
  readonly hardState: HardStateStore & Closable;
  readonly snapshots: SnapshotStore & Closable;
}

export function groupStorage(parts: GroupStores, released: () => void): GroupStorage {
  const { log, hardState, snapshots } = parts;
  let closing: Promise<void> | undefined;
  return {
    log,
    hardState,
    snapshots,
    close: () => {
      closing ??= (async () => {
        try {
          await log.close();
          await hardState.close();
          await snapshots.close();
        } finally {
          released();
        }
      })();
      return closing;
    },
  };
}
