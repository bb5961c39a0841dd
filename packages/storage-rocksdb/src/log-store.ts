/**
 * One group's log in the shared RocksDB database: entry `i` is key (group id, i), big-endian, so
 * the log is one ordered key range.
 *
 * `firstIndex`/`lastIndex` live in memory and change when a call is made; writes are sent to the
 * writer thread in call order. An append is one WriteBatch committed with `sync: true`. A suffix
 * truncation deletes its (uncommitted, so few) keys in one synced WriteBatch: atomic. A prefix
 * compaction writes the new first index, then drops the range with one range tombstone, then
 * rewrites the first index with `sync: true`, which makes all three durable (the WAL is
 * sequential); a crash in between leaves keys below the first index, removed on the next open.
 *
 * Reads use RocksDB iterators on the main thread (the binding runs them on its thread pool). A read
 * waits only for queued appends it needs; calls that remove keys wait for reads made before them.
 */
import { CorruptionError, LogCompactedError, LogRangeError, StorageError, type EntryType, type LogEntry, type LogStore } from '@tessera/raft';
import { asStorageError } from '@tessera/snapshot-files';
import { decodeU64, encodeU64, FIRST, groupKey, LOG_KEY_BYTES, logEnd, logKey, logKeyIndex, VALUE_HEADER_BYTES, writeLogKey } from './keys.js';
import type { RocksDb } from './rocks.js';
import type { RocksWriter } from './writer.js';
import type { BatchStep, Step } from './write-protocol.js';

const TWO_32 = 2 ** 32;
/** Entries fetched per iterator step. */
const READ_CHUNK = 256;

interface PendingWrite {
  readonly lo: number;
  readonly done: Promise<void>;
}

export interface RocksLogStoreOptions {
  readonly db: RocksDb;
  readonly writer: RocksWriter;
  readonly gid: number;
  readonly group: string;
  readonly sync: boolean;
}

export class RocksLogStore implements LogStore {
  private first = 1;
  private last = 0;
  /** Resolves when the previous call's request was handed to the writer (keeps requests in call order). */
  private sent: Promise<void> = Promise.resolve();
  private readonly pending: PendingWrite[] = [];
  private readonly reads = new Set<Promise<unknown>>();
  private failure: Error | undefined;
  private closed = false;

  private constructor(private readonly o: RocksLogStoreOptions) {}

  /**
   * Loads the bounds of the group's log: the first index from the compaction marker (else 1), the
   * last from the highest key. Keys below the first index (a compaction cut short by a crash) are
   * removed; a first key above it means entries are missing.
   */
  static async open(o: RocksLogStoreOptions): Promise<RocksLogStore> {
    const s = new RocksLogStore(o);
    const marker = await o.db.getOne(groupKey(FIRST, o.gid));
    s.first = marker ? decodeU64(marker) : 1;
    const lo = await o.db.firstKey(logKey(o.gid, 0), logEnd(o.gid));
    const hi = await o.db.lastKey(logKey(o.gid, 0), logEnd(o.gid));
    s.last = s.first - 1;
    if (lo !== undefined && hi !== undefined) {
      const loIdx = logKeyIndex(lo);
      const hiIdx = logKeyIndex(hi);
      if (loIdx > s.first) throw new CorruptionError(`rocksdb group ${o.group}: log starts at index ${loIdx}, but its first index is ${s.first}`);
      if (hiIdx >= s.first) s.last = hiIdx;
      if (loIdx < s.first) {
        await o.writer.write([
          { kind: 'clear', gte: logKey(o.gid, 0), lt: logKey(o.gid, s.first) },
          firstMarker(o.gid, s.first, o.sync),
        ]);
      }
    }
    return s;
  }

  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    return this.last;
  }

  append(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const refused = this.refuse();
    if (refused) return refused;
    const expect = this.last + 1;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.index !== expect + i) {
        return Promise.reject(new LogRangeError(`append: expected index ${expect + i}, got ${entries[i]!.index} (group ${this.o.group})`));
      }
    }
    // Keys and values of the whole call in one buffer, transferred to the writer thread uncopied.
    let size = 0;
    for (const e of entries) size += LOG_KEY_BYTES + VALUE_HEADER_BYTES + e.data.byteLength;
    const data = new Uint8Array(size);
    const lens = new Uint32Array(entries.length * 2);
    const dv = new DataView(data.buffer);
    let at = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      writeLogKey(data, at, this.o.gid, e.index);
      at += LOG_KEY_BYTES;
      dv.setUint32(at, Math.floor(e.term / TWO_32));
      dv.setUint32(at + 4, e.term % TWO_32);
      dv.setUint8(at + 8, e.type);
      data.set(e.data, at + VALUE_HEADER_BYTES);
      at += VALUE_HEADER_BYTES + e.data.byteLength;
      lens[i * 2] = LOG_KEY_BYTES;
      lens[i * 2 + 1] = VALUE_HEADER_BYTES + e.data.byteLength;
    }
    this.last += entries.length;
    const step: BatchStep = { kind: 'batch', data, lens, delCount: 0, putCount: entries.length, sync: this.o.sync };
    const done = this.submit([step], []);
    const pw: PendingWrite = { lo: expect, done: done.catch(() => {}) };
    this.pending.push(pw);
    const forget = () => {
      const i = this.pending.indexOf(pw);
      if (i >= 0) this.pending.splice(i, 1);
    };
    done.then(forget, forget);
    return done;
  }

  truncateSuffix(from: number): Promise<void> {
    const refused = this.refuse();
    if (refused) return refused;
    if (from < this.first) return Promise.reject(new LogRangeError(`truncateSuffix(${from}) below first index ${this.first} (group ${this.o.group})`));
    if (from > this.last) return this.submit([], []);
    const dels: Uint8Array[] = [];
    for (let i = from; i <= this.last; i++) dels.push(logKey(this.o.gid, i));
    this.last = from - 1;
    const step = deletes(dels, this.o.sync);
    return this.submit([step], [...this.reads]);
  }

  compactPrefix(upTo: number): Promise<void> {
    const refused = this.refuse();
    if (refused) return refused;
    if (upTo < this.first) return this.submit([], []);
    this.first = upTo + 1;
    if (this.last < upTo) this.last = upTo;
    const gid = this.o.gid;
    const steps: Step[] = [firstMarker(gid, upTo + 1, false), { kind: 'clear', gte: logKey(gid, 0), lt: logKey(gid, upTo + 1) }, firstMarker(gid, upTo + 1, this.o.sync)];
    return this.submit(steps, [...this.reads]);
  }

  entries(lo: number, hi: number, maxBytes?: number): Promise<LogEntry[]> {
    const refused = this.refuse() ?? this.checkRange(lo, hi);
    if (refused) return refused as Promise<never>;
    if (lo === hi) return Promise.resolve([]);
    let wait: Promise<void> | undefined;
    for (const p of this.pending) if (p.lo < hi) wait = p.done;
    const read = this.read(lo, hi, maxBytes, wait);
    this.reads.add(read);
    const forget = () => this.reads.delete(read);
    read.then(forget, forget);
    return read;
  }

  async term(index: number): Promise<number> {
    const refused = this.refuse() ?? this.checkRange(index, index + 1);
    if (refused) return refused as Promise<never>;
    const [e] = await this.entries(index, index + 1);
    return e!.term;
  }

  /** Waits for this log's queued writes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sent;
    await Promise.allSettled([...this.pending.map((p) => p.done), ...this.reads]);
  }

  // ------------------------------------------------------------------ internals

  private refuse(): Promise<never> | undefined {
    if (this.closed) return Promise.reject(new StorageError(`log of group ${this.o.group} is closed`));
    if (this.failure) return Promise.reject(new StorageError(`log of group ${this.o.group} failed earlier: ${this.failure.message}`, { cause: this.failure }));
    return undefined;
  }

  private checkRange(lo: number, hi: number): Promise<never> | undefined {
    if (lo < this.first) return Promise.reject(new LogCompactedError(lo, this.first));
    if (hi > this.last + 1) return Promise.reject(new LogRangeError(`range [${lo}, ${hi}) beyond last index ${this.last} (group ${this.o.group})`));
    if (hi < lo) return Promise.reject(new LogRangeError(`range [${lo}, ${hi}) is reversed`));
    return undefined;
  }

  /**
   * Hands `steps` to the writer after every earlier call's request (and after `after`, the reads a
   * removal must not overtake). Resolves when the writer has executed them.
   */
  private submit(steps: Step[], after: Promise<unknown>[]): Promise<void> {
    let resolveDone!: () => void;
    let rejectDone!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    this.sent = this.sent.then(async () => {
      if (after.length > 0) await Promise.allSettled(after);
      if (this.failure) {
        rejectDone(new StorageError(`log of group ${this.o.group} failed earlier: ${this.failure.message}`, { cause: this.failure }));
        return;
      }
      if (steps.length === 0) {
        // Nothing to write, but still resolve after every earlier write.
        this.o.writer.write([]).then(resolveDone, rejectDone);
        return;
      }
      this.o.writer.write(steps).then(resolveDone, (err: unknown) => {
        const e = asStorageError(err, `write in group ${this.o.group}`);
        this.failure ??= e;
        rejectDone(e);
      });
    });
    return done;
  }

  private async read(lo: number, hi: number, maxBytes: number | undefined, wait: Promise<void> | undefined): Promise<LogEntry[]> {
    if (wait) await wait;
    if (this.failure) throw new StorageError(`log of group ${this.o.group} failed: ${this.failure.message}`, { cause: this.failure });
    const out: LogEntry[] = [];
    let bytes = 0;
    const it = this.o.db.iterate(logKey(this.o.gid, lo), logKey(this.o.gid, hi));
    try {
      let next = lo;
      for (;;) {
        const rows = await it.nextv(READ_CHUNK);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          const index = logKeyIndex(k);
          if (index !== next || v.byteLength < VALUE_HEADER_BYTES) {
            throw new CorruptionError(`rocksdb group ${this.o.group}: expected entry ${next}, found ${index === next ? 'a damaged value' : `entry ${index}`}`);
          }
          const vd = new DataView(v.buffer, v.byteOffset, v.byteLength);
          const len = v.byteLength - VALUE_HEADER_BYTES;
          out.push({
            index,
            term: vd.getUint32(0) * TWO_32 + vd.getUint32(4),
            type: vd.getUint8(8) as EntryType,
            data: new Uint8Array(v.buffer, v.byteOffset + VALUE_HEADER_BYTES, len),
          });
          next++;
          bytes += len;
          if (maxBytes !== undefined && bytes >= maxBytes) return out;
        }
      }
      if (next !== hi) throw new CorruptionError(`rocksdb group ${this.o.group}: entries ${next}..${hi - 1} are missing`);
      return out;
    } finally {
      await it.close();
    }
  }
}

function deletes(keys: Uint8Array[], sync: boolean): BatchStep {
  let size = 0;
  for (const k of keys) size += k.byteLength;
  const data = new Uint8Array(size);
  const lens = new Uint32Array(keys.length);
  let at = 0;
  keys.forEach((k, i) => {
    data.set(k, at);
    at += k.byteLength;
    lens[i] = k.byteLength;
  });
  return { kind: 'batch', data, lens, delCount: keys.length, putCount: 0, sync };
}

function firstMarker(gid: number, first: number, sync: boolean): BatchStep {
  const k = groupKey(FIRST, gid);
  const v = encodeU64(first);
  const data = new Uint8Array(k.length + v.length);
  data.set(k, 0);
  data.set(v, k.length);
  return { kind: 'batch', data, lens: Uint32Array.of(k.length, v.length), delCount: 0, putCount: 1, sync };
}
