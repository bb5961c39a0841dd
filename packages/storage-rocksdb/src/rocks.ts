/**
 * The few reads the stores need from @nxtedition/rocksdb, typed, on the main thread (the binding
 * runs reads on its own thread pool). All writes go through the writer thread (writer.ts).
 */
import { createRequire } from 'node:module';
import { StorageError } from '@tessera/raft';

const require = createRequire(import.meta.url);

interface Level {
  open(options?: object): Promise<void>;
  close(): Promise<void>;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  iterator(options: object): LevelIterator;
  readonly handle: bigint;
}

interface LevelIterator {
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  close(): Promise<void>;
}

export interface RowIterator {
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  close(): Promise<void>;
}

export class RocksDb {
  private constructor(private readonly level: Level) {}

  static async open(location: string, cacheBytes: number): Promise<RocksDb> {
    const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: new (location: string, options: object) => Level };
    const level = new RocksLevel(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await level.open({ createIfMissing: true, cacheSize: cacheBytes });
    } catch (err) {
      throw new StorageError(`opening rocksdb at ${location}: ${(err as Error).message}`, { cause: err });
    }
    return new RocksDb(level);
  }

  /** Native handle for the writer thread to borrow the open database. */
  get handle(): bigint {
    return this.level.handle;
  }

  async getOne(key: Buffer): Promise<Buffer | undefined> {
    // getMany answers a missing key with undefined; get() would throw LEVEL_NOT_FOUND.
    const [v] = await this.level.getMany([key]);
    return v ?? undefined;
  }

  iterate(gte: Buffer, lt: Buffer, reverse = false, limit = -1): RowIterator {
    return this.level.iterator({ gte, lt, reverse, limit, keyEncoding: 'buffer', valueEncoding: 'buffer' });
  }

  async firstKey(gte: Buffer, lt: Buffer): Promise<Buffer | undefined> {
    return this.edgeKey(gte, lt, false);
  }

  async lastKey(gte: Buffer, lt: Buffer): Promise<Buffer | undefined> {
    return this.edgeKey(gte, lt, true);
  }

  /** Every row in [gte, lt). For small ranges (registry). */
  async all(gte: Buffer, lt: Buffer): Promise<[Buffer, Buffer][]> {
    const it = this.iterate(gte, lt);
    const out: [Buffer, Buffer][] = [];
    try {
      for (;;) {
        const rows = await it.nextv(1000);
        if (rows.length === 0) return out;
        out.push(...rows);
      }
    } finally {
      await it.close();
    }
  }

  close(): Promise<void> {
    return this.level.close();
  }

  private async edgeKey(gte: Buffer, lt: Buffer, reverse: boolean): Promise<Buffer | undefined> {
    const it = this.iterate(gte, lt, reverse, 1);
    try {
      const rows = await it.nextv(1);
      return rows[0]?.[0];
    } finally {
      await it.close();
    }
  }
}
