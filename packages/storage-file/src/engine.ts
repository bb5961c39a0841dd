/**
 * The file storage engine: one directory per node, one subdirectory per group.
 *
 * ```
 * <dir>/LOCK                          pid of the process that has the engine open
 * <dir>/groups/<group>/log/*.seg      log segments (segment.ts, record.ts)
 * <dir>/groups/<group>/log/first-index  compaction marker (first-index.ts)
 * <dir>/groups/<group>/hard-state     term, vote, commit (hard-state.ts)
 * <dir>/groups/<group>/snapshots/     committed snapshots (snapshot-file.ts)
 * <dir>/trash/                        groups being deleted
 * ```
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StorageError, silentLogger, type GroupId, type GroupStorage, type StorageCapabilities, type StorageEngine } from '@tessera/raft';
import { FileSnapshotStore, fsyncDir, groupStorage, selectCrc32c, type Crc32cImpl } from '@tessera/snapshot-files';
import { decodeGroupDirName, GROUP_ID_FILE, groupDirName, isHashedName } from './group-dir.js';
import { FileHardStateStore, HARD_STATE_FILE } from './hard-state.js';
import { FileLogStore } from './log-store.js';
import type { ResolvedFileStorageOptions } from './options.js';

const LOCK_FILE = 'LOCK';

export class FileStorageEngine implements StorageEngine {
  readonly capabilities: StorageCapabilities = { persistent: true, sharedAcrossGroups: false };
  private readonly dir: string;
  private readonly groupsDir: string;
  private readonly trashDir: string;
  /** Open (or opening) groups; the promise settles when the group is usable. */
  private readonly open = new Map<GroupId, Promise<GroupStorage>>();
  private closed = false;
  /** The CRC32C implementation of the log (`checksum` option); both write the same bytes. */
  readonly checksum: Crc32cImpl;

  constructor(private readonly opts: ResolvedFileStorageOptions) {
    this.dir = resolve(opts.dir);
    try {
      this.checksum = selectCrc32c(opts.checksum);
    } catch (err) {
      throw new StorageError(`fileStorage.checksum: ${(err as Error).message}`, { cause: err });
    }
    this.groupsDir = join(this.dir, 'groups');
    this.trashDir = join(this.dir, 'trash');
  }

  private get durable(): boolean {
    return this.opts.sync !== 'never';
  }

  /** Creates the layout, takes the lock and finishes deletions interrupted by a crash. */
  async init(): Promise<void> {
    await mkdir(this.groupsDir, { recursive: true });
    await mkdir(this.trashDir, { recursive: true });
    if (this.durable) await fsyncDir(this.dir);
    await this.lock();
    for (const name of await readdir(this.trashDir)) await rm(join(this.trashDir, name), { recursive: true, force: true });
  }

  openGroup(group: GroupId): Promise<GroupStorage> {
    if (this.closed) return Promise.reject(new StorageError(`file storage ${this.dir} is closed`));
    if (typeof group !== 'string') return Promise.reject(new StorageError(`group id must be a string, got ${typeof group}`));
    if (this.open.has(group)) return Promise.reject(new StorageError(`group ${JSON.stringify(group)} is already open`));
    const opening = this.openNow(group);
    this.open.set(group, opening);
    opening.catch(() => this.open.delete(group));
    return opening;
  }

  async deleteGroup(group: GroupId): Promise<void> {
    if (this.closed) throw new StorageError(`file storage ${this.dir} is closed`);
    if (this.open.has(group)) throw new StorageError(`group ${JSON.stringify(group)} is open; close it before deleting it`);
    const name = groupDirName(group);
    const from = join(this.groupsDir, name);
    if (!(await exists(from))) return;
    // Rename first: the group disappears atomically, and a crash mid-removal leaves only trash.
    const to = join(this.trashDir, `${name}.${randomBytes(4).toString('hex')}`);
    await rename(from, to);
    if (this.durable) {
      await fsyncDir(this.groupsDir);
      await fsyncDir(this.trashDir);
    }
    await rm(to, { recursive: true, force: true });
  }

  async listGroups(): Promise<GroupId[]> {
    if (this.closed) throw new StorageError(`file storage ${this.dir} is closed`);
    const out: GroupId[] = [];
    for (const name of await readdir(this.groupsDir)) {
      if (isHashedName(name)) {
        const id = await readFile(join(this.groupsDir, name, GROUP_ID_FILE), 'utf8').catch(() => undefined);
        if (id !== undefined) out.push(id);
      } else {
        const id = decodeGroupDirName(name);
        if (id !== undefined) out.push(id);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const groups = await Promise.allSettled([...this.open.values()]);
    for (const g of groups) if (g.status === 'fulfilled') await g.value.close();
    this.open.clear();
    await unlink(join(this.dir, LOCK_FILE)).catch(() => {});
  }

  private async openNow(group: GroupId): Promise<GroupStorage> {
    const name = groupDirName(group);
    const gdir = join(this.groupsDir, name);
    const logDir = join(gdir, 'log');
    const snapDir = join(gdir, 'snapshots');
    if (!(await exists(gdir))) {
      // Build the group under a temporary name and rename it in, so a half-created group never shows.
      const tmp = join(this.trashDir, `${name}.${randomBytes(4).toString('hex')}`);
      await mkdir(join(tmp, 'log'), { recursive: true });
      await mkdir(join(tmp, 'snapshots'));
      if (isHashedName(name)) await writeFile(join(tmp, GROUP_ID_FILE), group, 'utf8');
      if (this.durable) {
        await fsyncDir(join(tmp, 'log'));
        await fsyncDir(tmp);
      }
      await rename(tmp, gdir);
      if (this.durable) await fsyncDir(this.groupsDir);
    }
    const logger = this.opts.logger ?? silentLogger;
    const log = await FileLogStore.open({
      dir: logDir,
      group,
      sync: this.opts.sync,
      syncIntervalMs: this.opts.syncIntervalMs,
      segmentBytes: this.opts.segmentBytes,
      preallocateBytes: this.opts.preallocateBytes,
      crc32c: this.checksum.crc32c,
      logger,
    });
    let snapshots: FileSnapshotStore;
    try {
      snapshots = await FileSnapshotStore.open(snapDir, this.durable);
    } catch (err) {
      await log.close();
      throw err;
    }
    const hardState = new FileHardStateStore(join(gdir, HARD_STATE_FILE), this.durable);
    return groupStorage({ log, hardState, snapshots }, () => this.open.delete(group));
  }

  /**
   * Takes `<dir>/LOCK`, holding this process's pid. A lock whose process is gone (killed) is
   * taken over; one held by a live process, this one included, is refused.
   */
  private async lock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(path, 'wx');
        try {
          await fh.writeFile(String(process.pid));
          if (this.durable) await fh.datasync();
        } finally {
          await fh.close();
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new StorageError(`file storage ${this.dir} is already open in process ${pid}${pid === process.pid ? ' (this one)' : ''}`);
      }
      await unlink(path).catch(() => {});
    }
    throw new StorageError(`could not take the lock ${path}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
