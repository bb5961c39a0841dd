/**
 * @tessera/storage-memory: in-memory stores for tests, simulations and ephemeral groups.
 * Data lives as long as the engine object; "restarting" a group on the same engine keeps it.
 */
import type { GroupId, GroupStorage, StorageEngine } from '@tessera/raft';
import { MemoryHardStateStore } from './hard-state-store.js';
import { MemoryLogStore } from './log-store.js';
import { MemorySnapshotStore } from './snapshot-store.js';

export { MemoryLogStore } from './log-store.js';
export { MemoryHardStateStore } from './hard-state-store.js';
export { MemorySnapshotStore } from './snapshot-store.js';

interface GroupData {
  log: MemoryLogStore;
  hardState: MemoryHardStateStore;
  snapshots: MemorySnapshotStore;
  open: boolean;
}

/** Creates an in-memory storage engine. */
export function memoryStorage(): StorageEngine {
  const groups = new Map<GroupId, GroupData>();
  let closed = false;
  return {
    capabilities: { persistent: false, sharedAcrossGroups: true },
    async openGroup(group) {
      if (closed) throw new Error('memory storage is closed');
      let g = groups.get(group);
      if (!g) {
        g = { log: new MemoryLogStore(), hardState: new MemoryHardStateStore(), snapshots: new MemorySnapshotStore(), open: false };
        groups.set(group, g);
      }
      if (g.open) throw new Error(`group ${group} is already open`);
      g.open = true;
      const data = g;
      const gs: GroupStorage = {
        log: data.log,
        hardState: data.hardState,
        snapshots: data.snapshots,
        async close() {
          data.open = false;
        },
      };
      return gs;
    },
    async deleteGroup(group) {
      const g = groups.get(group);
      if (g?.open) throw new Error(`group ${group} is open`);
      groups.delete(group);
    },
    async listGroups() {
      return [...groups.keys()];
    },
    async close() {
      closed = true;
      for (const g of groups.values()) g.open = false;
    },
  };
}
