/**
 * A group's hard state as one key, written with `sync: true`: a single-key write is atomic, so a
 * crash leaves the old or the new state. Value: term (u64), commit (u64), vote (UTF-8).
 */
import { CorruptionError, EMPTY_HARD_STATE, StorageError, type HardState, type HardStateStore } from '@tessera/raft';
import { decodeU64, encodeU64, groupKey, HARD } from './keys.js';
import type { RocksDb } from './rocks.js';
import { batchStep } from './write-protocol.js';
import type { RocksWriter } from './writer.js';

export class RocksHardStateStore implements HardStateStore {
  private current: HardState | undefined;
  private closed = false;
  private tail: Promise<void> = Promise.resolve();
  private readonly key: Buffer;

  constructor(
    private readonly db: RocksDb,
    private readonly writer: RocksWriter,
    gid: number,
    private readonly sync: boolean,
  ) {
    this.key = groupKey(HARD, gid);
  }

  async load(): Promise<HardState> {
    if (this.closed) throw new StorageError('hard state store is closed');
    await this.tail;
    if (this.current) return this.current;
    const v = await this.db.getOne(this.key);
    if (!v) return EMPTY_HARD_STATE;
    if (v.length < 16) throw new CorruptionError(`rocksdb hard state of group ${this.key.readUInt32BE(1)} is damaged (${v.length} bytes)`);
    this.current = { term: decodeU64(v.subarray(0, 8)), commit: decodeU64(v.subarray(8, 16)), vote: v.toString('utf8', 16) };
    return this.current;
  }

  save(state: HardState): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('hard state store is closed'));
    const copy: HardState = { term: state.term, vote: state.vote, commit: state.commit };
    const value = Buffer.concat([encodeU64(copy.term), encodeU64(copy.commit), Buffer.from(copy.vote, 'utf8')]);
    const write = this.writer.write([batchStep([], [[this.key, value]], this.sync)]);
    const p = this.tail.then(() => write).then(() => {
      this.current = copy;
    });
    this.tail = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }
}
