import type { GroupId } from '../types.js';
import type { HardStateStore, LogStore } from './log-store.js';
import type { SnapshotStore } from './snapshot-store.js';

/** The stores of one group, opened together. */
export interface GroupStorage {
  readonly log: LogStore;
  readonly hardState: HardStateStore;
  readonly snapshots: SnapshotStore;
  /** Flushes and releases this group's resources. The engine stays open. */
  close(): Promise<void>;
}

/** What a storage backend can do beyond the required contract; conformance suites use it to pick optional tests. */
export interface StorageCapabilities {
  /** Data survives `close` and reopening the engine on the same location. */
  readonly persistent: boolean;
  /** Many groups share one underlying database (e.g. RocksDB column of keys). */
  readonly sharedAcrossGroups: boolean;
}

/**
 * A node's storage: opens the stores of any number of groups. One engine per node process;
 * implementations live in their own packages (`@tessera/storage-memory`, `-file`, `-rocksdb`).
 */
export interface StorageEngine {
  readonly capabilities: StorageCapabilities;
  /** Opens (creating if needed) the stores of `group`. Opening a group twice without closing is an error. */
  openGroup(group: GroupId): Promise<GroupStorage>;
  /** Deletes every trace of `group` (it must not be open). */
  deleteGroup(group: GroupId): Promise<void>;
  /** Groups that have data in this engine. */
  listGroups(): Promise<GroupId[]>;
  /** Closes every open group and the engine. */
  close(): Promise<void>;
}
