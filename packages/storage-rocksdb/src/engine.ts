/**
 * The RocksDB storage engine: one database per node shared by every group (`<dir>/db`), snapshot
 * images as files (`<dir>/snapshots/<group id>/`), and one writer thread doing all writes.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StorageError, type GroupId, type GroupStorage, type StorageCapabilities, type StorageEngine } from '@tessera/raft';
import { FileSnapshotStore, fsyncDir, groupStorage } from '@tessera/snapshot-files';
import { RocksHardStateStore } from './hard-state.js';
import { DELETING, FIRST, groupKey, HARD, logEnd, logKey, nameKey, REG_ID, REG_NAME } from './keys.js';
import { RocksLogStore } from './log-store.js';
import type { ResolvedRocksdbStorageOptions } from './options.js';
import { RocksDb } from './rocks.js';
import { batchStep, type Step } from './write-protocol.js';
import { RocksWriter } from './writer.js';

export class RocksStorageEngine implements StorageEngine {
  readonly capabilities: StorageCapabilities = { persistent: true, sharedAcrossGroups: true };
  private readonly open = new Map<GroupId, Promise<GroupStorage>>();
  /** Registered groups: name -> numeric id. */
  private readonly ids = new Map<GroupId, number>();
  private nextId = 1;
  private closed = false;
  private readonly snapDir: string;

  private constructor(
    private readonly opts: ResolvedRocksdbStorageOptions,
    private readonly db: RocksDb,
    private readonly writer: RocksWriter,
    dir: string,
  ) {
    this.snapDir = join(dir, 'snapshots');
  }

  private get sync(): boolean {
    return this.opts.sync === 'always';
  }

  static async start(opts: ResolvedRocksdbStorageOptions): Promise<RocksStorageEngine> {
    const dir = resolve(opts.dir);
    await mkdir(join(dir, 'snapshots'), { recursive: true });
    const db = await RocksDb.open(join(dir, 'db'), opts.cacheBytes);
    let writer: RocksWriter;
    try {
      writer = await RocksWriter.start(db.handle);
    } catch (err) {
      await db.close();
      throw err;
    }
    const engine = new RocksStorageEngine(opts, db, writer, dir);
    try {
      await engine.load();
    } catch (err) {
      await writer.close();
      await db.close();
      throw err;
    }
    return engine;
  }

  /** Reads the group registry and finishes deletions a crash interrupted. */
  private async load(): Promise<void> {
    for (const [k, v] of await this.db.all(Buffer.of(REG_ID), Buffer.of(REG_ID + 1))) {
      const id = k.readUInt32BE(1);
      this.ids.set(v.toString('utf8'), id);
      this.nextId = Math.max(this.nextId, id + 1);
    }
    for (const [k] of await this.db.all(Buffer.of(DELETING), Buffer.of(DELETING + 1))) {
      const id = k.readUInt32BE(1);
      this.nextId = Math.max(this.nextId, id + 1);
      await this.purge(id);
    }
  }

  openGroup(group: GroupId): Promise<GroupStorage> {
    if (this.closed) return Promise.reject(new StorageError('rocksdb storage is closed'));
    if (typeof group !== 'string') return Promise.reject(new StorageError(`group id must be a string, got ${typeof group}`));
    if (this.open.has(group)) return Promise.reject(new StorageError(`group ${JSON.stringify(group)} is already open`));
    const opening = this.openNow(group);
    this.open.set(group, opening);
    opening.catch(() => this.open.delete(group));
    return opening;
  }

  async deleteGroup(group: GroupId): Promise<void> {
    if (this.closed) throw new StorageError('rocksdb storage is closed');
    if (this.open.has(group)) throw new StorageError(`group ${JSON.stringify(group)} is open; close it before deleting it`);
    const id = this.ids.get(group);
    if (id === undefined) return;
    // Unregister and mark in one synced batch: the group is gone at once; the data goes next.
    await this.writer.write([batchStep([nameKey(group), groupKey(REG_ID, id)], [[groupKey(DELETING, id), new Uint8Array(0)]], this.sync)]);
    this.ids.delete(group);
    await this.purge(id);
  }

  async listGroups(): Promise<GroupId[]> {
    if (this.closed) throw new StorageError('rocksdb storage is closed');
    return [...this.ids.keys()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const groups = await Promise.allSettled([...this.open.values()]);
    for (const g of groups) if (g.status === 'fulfilled') await g.value.close();
    this.open.clear();
    await this.writer.close();
    await this.db.close();
  }

  /** Removes every key and file of group `id` (already unregistered). */
  private async purge(id: number): Promise<void> {
    const steps: Step[] = [
      { kind: 'clear', gte: logKey(id, 0), lt: logEnd(id) },
      batchStep([groupKey(FIRST, id), groupKey(HARD, id), groupKey(DELETING, id)], [], this.sync),
    ];
    await rm(join(this.snapDir, String(id)), { recursive: true, force: true });
    await this.writer.write(steps);
  }

  private async openNow(group: GroupId): Promise<GroupStorage> {
    let id = this.ids.get(group);
    if (id === undefined) {
      id = this.nextId++;
      await this.writer.write([batchStep([], [[nameKey(group), groupKey(REG_NAME, id).subarray(1)], [groupKey(REG_ID, id), Buffer.from(group, 'utf8')]], this.sync)]);
      this.ids.set(group, id);
    }
    const snapDir = join(this.snapDir, String(id));
    await mkdir(snapDir, { recursive: true });
    if (this.sync) await fsyncDir(this.snapDir);
    const log = await RocksLogStore.open({ db: this.db, writer: this.writer, gid: id, group, sync: this.sync });
    const snapshots = await FileSnapshotStore.open(snapDir, this.sync);
    const hardState = new RocksHardStateStore(this.db, this.writer, id, this.sync);
    return groupStorage({ log, hardState, snapshots }, () => this.open.delete(group));
  }
}
