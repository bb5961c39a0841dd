/**
 * Snapshots of one group as files in its `snapshots/` directory (format in snapshot-file.ts).
 *
 * A writer streams chunks into `<name>.<random>.tmp`; `commit` appends the footer, fdatasyncs,
 * renames the file into place and fsyncs the directory, so a snapshot appears whole or not at all.
 * Temporary files left by a crash are deleted on open. Readers hold their file open, so a pruned
 * snapshot stays readable until its reader is closed.
 */
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, LogRangeError, StorageError, type SnapshotMeta, type SnapshotReader, type SnapshotStore, type SnapshotWriter } from '@tessera/raft';
import { crc32c } from './crc32c.js';
import { fsyncDir, readFull, tmpName, TMP_SUFFIX, writeAll } from './durable-fs.js';
import { asStorageError } from './storage-error.js';
import { decodeFooter, decodeHeader, encodeFooter, encodeHeader, FOOTER_BYTES, headerLength, parseSnapshotFileName, snapshotFileName } from './snapshot-file.js';

interface Committed {
  readonly meta: SnapshotMeta;
  readonly path: string;
}

/** Image bytes checked per read while verifying a snapshot's checksum. */
const VERIFY_CHUNK = 1024 * 1024;

export class FileSnapshotStore implements SnapshotStore {
  /** Committed snapshots, ascending by index. */
  private committed: Committed[] = [];
  /** Paths whose image checksum was verified by this instance. */
  private readonly verified = new Set<string>();
  private readonly writers = new Set<{ abort(): Promise<void> }>();
  private readonly readers = new Set<SnapshotReader>();
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly sync: boolean,
  ) {}

  /** Opens the store in `dir` (which exists): deletes crash leftovers and reads every snapshot's metadata. */
  static async open(dir: string, sync: boolean): Promise<FileSnapshotStore> {
    const store = new FileSnapshotStore(dir, sync);
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (name.endsWith(TMP_SUFFIX)) {
        await unlink(path);
        continue;
      }
      if (!parseSnapshotFileName(name)) continue;
      const fh = await open(path, 'r');
      try {
        const { meta } = await readLayout(fh, path);
        store.committed.push({ meta, path });
      } finally {
        await fh.close();
      }
    }
    store.committed.sort((a, b) => a.meta.index - b.meta.index);
    return store;
  }

  async create(meta: SnapshotMeta): Promise<SnapshotWriter> {
    this.checkOpen();
    const final = join(this.dir, snapshotFileName(meta));
    const tmp = tmpName(final);
    const fh = await open(tmp, 'wx');
    const header = encodeHeader(meta);
    let state: 'open' | 'committed' | 'aborted' | 'failed' = 'open';
    let pos = 0;
    let crc = 0;
    let size = 0;
    // Writes are chained so that chunks land in call order even when not awaited.
    let chain: Promise<void> = writeAll(fh, header, header.length, 0).then(() => {
      pos = header.length;
    });
    const store = this;
    const fail = (err: unknown): never => {
      state = 'failed';
      throw asStorageError(err, `writing snapshot ${tmp}`);
    };
    const writer: SnapshotWriter = {
      meta,
      write(chunk) {
        if (state !== 'open') return Promise.reject(new StorageError(`snapshot writer for index ${meta.index} is ${state}`));
        // Copy now: the caller may reuse its buffer as soon as this call returns.
        const copy = Buffer.from(chunk);
        crc = crc32c(copy, 0, copy.length, crc);
        size += copy.length;
        const p = chain.then(async () => {
          await writeAll(fh, copy, copy.length, pos);
          pos += copy.length;
        });
        chain = p.catch(() => {});
        return p.catch(fail);
      },
      async commit() {
        if (state !== 'open') throw new StorageError(`snapshot writer for index ${meta.index} is ${state}`);
        state = 'committed';
        store.writers.delete(writer);
        try {
          await chain;
          await writeAll(fh, encodeFooter(size, crc), FOOTER_BYTES, pos);
          if (store.sync) await fh.datasync();
          await fh.close();
          await rename(tmp, final);
          if (store.sync) await fsyncDir(store.dir);
        } catch (err) {
          await fh.close().catch(() => {});
          await unlink(tmp).catch(() => {});
          state = 'failed';
          throw asStorageError(err, `committing snapshot ${final}`);
        }
        store.verified.add(final);
        // Another snapshot at the same index (older term) is superseded.
        const others = store.committed.filter((c) => c.meta.index === meta.index && c.path !== final);
        store.committed = store.committed.filter((c) => c.meta.index !== meta.index);
        store.committed.push({ meta, path: final });
        store.committed.sort((a, b) => a.meta.index - b.meta.index);
        for (const o of others) await unlink(o.path).catch(() => {});
        return size;
      },
      async abort() {
        if (state === 'committed' || state === 'aborted') return;
        state = 'aborted';
        store.writers.delete(writer);
        await chain;
        await fh.close().catch(() => {});
        await unlink(tmp).catch(() => {});
      },
    };
    this.writers.add(writer);
    return writer;
  }

  async latest(): Promise<SnapshotReader | undefined> {
    this.checkOpen();
    const c = this.committed[this.committed.length - 1];
    if (!c) return undefined;
    const fh = await open(c.path, 'r');
    try {
      const { headerLen, size, crc } = await readLayout(fh, c.path);
      if (!this.verified.has(c.path)) {
        await verifyImage(fh, c.path, headerLen, size, crc);
        this.verified.add(c.path);
      }
      const readers = this.readers;
      const reader: SnapshotReader = {
        meta: c.meta,
        size,
        async read(offset, length) {
          if (offset < 0 || length < 0) throw new LogRangeError(`snapshot read(${offset}, ${length}): negative`);
          const n = Math.max(0, Math.min(length, size - offset));
          const buf = new Uint8Array(n);
          if (n === 0) return buf;
          const got = await readFull(fh, buf, 0, n, headerLen + offset);
          if (got !== n) throw new CorruptionError(`${c.path}: short read at image offset ${offset}`);
          return buf;
        },
        async close() {
          if (!readers.delete(reader)) return;
          await fh.close();
        },
      };
      readers.add(reader);
      return reader;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async list(): Promise<SnapshotMeta[]> {
    this.checkOpen();
    return this.committed.map((c) => c.meta);
  }

  async prune(keep: number): Promise<void> {
    this.checkOpen();
    if (!Number.isInteger(keep) || keep < 1) throw new LogRangeError(`prune: keep must be an integer >= 1, got ${keep}`);
    if (this.committed.length <= keep) return;
    const gone = this.committed.slice(0, this.committed.length - keep);
    this.committed = this.committed.slice(this.committed.length - keep);
    for (const g of gone) {
      await unlink(g.path);
      this.verified.delete(g.path);
    }
    if (this.sync) await fsyncDir(this.dir);
  }

  /** Aborts unfinished writers and closes readers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.writers]) await w.abort();
    for (const r of [...this.readers]) await r.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError(`snapshot store ${this.dir} is closed`);
  }
}

/** Reads and checks the header and footer of an open snapshot file. */
async function readLayout(fh: FileHandle, path: string): Promise<{ meta: SnapshotMeta; headerLen: number; size: number; crc: number }> {
  const { size: fileSize } = await fh.stat();
  const first = Buffer.alloc(12);
  await readFull(fh, first, 0, 12, 0);
  const headerLen = headerLength(first, path);
  if (headerLen + FOOTER_BYTES > fileSize) throw new CorruptionError(`${path}: snapshot file is truncated (${fileSize} bytes)`);
  const header = Buffer.alloc(headerLen);
  await readFull(fh, header, 0, headerLen, 0);
  const meta = decodeHeader(header, path);
  const footer = Buffer.alloc(FOOTER_BYTES);
  await readFull(fh, footer, 0, FOOTER_BYTES, fileSize - FOOTER_BYTES);
  const { size, crc } = decodeFooter(footer, path);
  if (headerLen + size + FOOTER_BYTES !== fileSize) throw new CorruptionError(`${path}: snapshot size ${size} does not match the file (${fileSize} bytes)`);
  return { meta, headerLen, size, crc };
}

async function verifyImage(fh: FileHandle, path: string, headerLen: number, size: number, expected: number): Promise<void> {
  const buf = Buffer.allocUnsafeSlow(Math.min(VERIFY_CHUNK, Math.max(size, 1)));
  let crc = 0;
  for (let off = 0; off < size; ) {
    const n = Math.min(buf.length, size - off);
    const got = await readFull(fh, buf, 0, n, headerLen + off);
    if (got !== n) throw new CorruptionError(`${path}: short read at image offset ${off}`);
    crc = crc32c(buf, 0, n, crc);
    off += n;
  }
  if (crc !== expected) throw new CorruptionError(`${path}: snapshot image checksum mismatch`);
}
