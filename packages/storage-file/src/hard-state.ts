/**
 * A group's hard state in one small file, `hard-state`, replaced atomically on every save (temp
 * file, fdatasync, rename, fsync dir): after a crash it holds the old or the new state, whole.
 * Saves happen on term and vote changes, so the two fsyncs per save are rare.
 *
 * Format (little-endian): magic `TSHS`, crc32c of the rest, term (u64), commit (u64), vote length
 * (u32), vote (UTF-8).
 */
import { readFile } from 'node:fs/promises';
import { CorruptionError, EMPTY_HARD_STATE, StorageError, type HardState, type HardStateStore } from '@tessera/raft';
import { crc32c, writeFileAtomic } from '@tessera/snapshot-files';

export const HARD_STATE_FILE = 'hard-state';
const MAGIC = 0x53485354; // "TSHS" little-endian
const TWO_32 = 2 ** 32;

export function encodeHardState(s: HardState): Buffer {
  const vote = Buffer.from(s.vote, 'utf8');
  const b = Buffer.alloc(28 + vote.length);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(s.term % TWO_32, 8);
  b.writeUInt32LE(Math.floor(s.term / TWO_32), 12);
  b.writeUInt32LE(s.commit % TWO_32, 16);
  b.writeUInt32LE(Math.floor(s.commit / TWO_32), 20);
  b.writeUInt32LE(vote.length, 24);
  vote.copy(b, 28);
  b.writeUInt32LE(crc32c(b, 8), 4);
  return b;
}

export function decodeHardState(b: Buffer, path: string): HardState {
  if (b.length < 28 || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== crc32c(b, 8) || b.readUInt32LE(24) !== b.length - 28) {
    throw new CorruptionError(`${path}: hard state is damaged (${b.length} bytes)`);
  }
  return {
    term: b.readUInt32LE(8) + b.readUInt32LE(12) * TWO_32,
    commit: b.readUInt32LE(16) + b.readUInt32LE(20) * TWO_32,
    vote: b.toString('utf8', 28),
  };
}

export class FileHardStateStore implements HardStateStore {
  private current: HardState | undefined;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly sync: boolean,
  ) {}

  async load(): Promise<HardState> {
    if (this.closed) throw new StorageError(`hard state ${this.path} is closed`);
    await this.tail;
    if (this.current) return this.current;
    let b: Buffer;
    try {
      b = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_HARD_STATE;
      throw new StorageError(`reading ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    this.current = decodeHardState(b, this.path);
    return this.current;
  }

  save(state: HardState): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError(`hard state ${this.path} is closed`));
    const copy: HardState = { term: state.term, vote: state.vote, commit: state.commit };
    const bytes = encodeHardState(copy);
    // Saves are chained so that two in flight cannot finish out of order.
    const p = this.tail.then(async () => {
      try {
        await writeFileAtomic(this.path, bytes, this.sync);
      } catch (err) {
        throw new StorageError(`saving ${this.path}: ${(err as Error).message}`, { cause: err });
      }
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
