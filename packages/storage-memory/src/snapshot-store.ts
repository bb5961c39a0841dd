import { LogRangeError, StorageError, type SnapshotMeta, type SnapshotReader, type SnapshotStore, type SnapshotWriter } from '@tessera/raft';

interface Stored {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** An in-memory {@link SnapshotStore}: chunks are concatenated on commit. */
export class MemorySnapshotStore implements SnapshotStore {
  private snaps: Stored[] = [];

  async create(meta: SnapshotMeta): Promise<SnapshotWriter> {
    const chunks: Uint8Array[] = [];
    let state: 'open' | 'committed' | 'aborted' = 'open';
    const store = this;
    return {
      meta,
      async write(chunk) {
        if (state !== 'open') throw new StorageError(`snapshot writer is ${state}`);
        chunks.push(chunk.slice());
      },
      async commit() {
        if (state !== 'open') throw new StorageError(`snapshot writer is ${state}`);
        state = 'committed';
        const size = chunks.reduce((n, c) => n + c.byteLength, 0);
        const data = new Uint8Array(size);
        let off = 0;
        for (const c of chunks) {
          data.set(c, off);
          off += c.byteLength;
        }
        store.snaps = store.snaps.filter((s) => s.meta.index !== meta.index);
        store.snaps.push({ meta, data });
        store.snaps.sort((a, b) => a.meta.index - b.meta.index);
        return size;
      },
      async abort() {
        state = 'aborted';
        chunks.length = 0;
      },
    };
  }

  async latest(): Promise<SnapshotReader | undefined> {
    const s = this.snaps[this.snaps.length - 1];
    return s ? reader(s) : undefined;
  }

  async list(): Promise<SnapshotMeta[]> {
    return this.snaps.map((s) => s.meta);
  }

  async prune(keep: number): Promise<void> {
    if (keep < 1) throw new LogRangeError('prune: keep must be >= 1');
    if (this.snaps.length > keep) this.snaps = this.snaps.slice(this.snaps.length - keep);
  }
}

function reader(s: Stored): SnapshotReader {
  return {
    meta: s.meta,
    size: s.data.byteLength,
    async read(offset, length) {
      return s.data.subarray(offset, Math.min(offset + length, s.data.byteLength));
    },
    async close() {},
  };
}
