import { LogCompactedError, LogRangeError, type LogEntry, type LogStore } from '@tessera/raft';

const DONE = Promise.resolve();

/**
 * An in-memory {@link LogStore}. Every change is "durable" as soon as it is made (there is nothing
 * to crash but the process). Entries are kept by reference: callers must not mutate them.
 */
export class MemoryLogStore implements LogStore {
  private ents: LogEntry[] = [];
  /** Index of `ents[0]`. */
  private first = 1;

  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    return this.first + this.ents.length - 1;
  }

  append(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return DONE;
    const expect = this.lastIndex() + 1;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.index !== expect + i) {
        return Promise.reject(new LogRangeError(`append: expected index ${expect + i}, got ${entries[i]!.index}`));
      }
    }
    for (let i = 0; i < entries.length; i++) this.ents.push(entries[i]!);
    return DONE;
  }

  truncateSuffix(from: number): Promise<void> {
    if (from < this.first) return Promise.reject(new LogRangeError(`truncateSuffix(${from}) below first index ${this.first}`));
    if (from <= this.lastIndex()) this.ents.length = from - this.first;
    return DONE;
  }

  compactPrefix(upTo: number): Promise<void> {
    if (upTo < this.first) return DONE;
    if (upTo >= this.lastIndex()) this.ents = [];
    else this.ents = this.ents.slice(upTo + 1 - this.first);
    this.first = upTo + 1;
    return DONE;
  }

  entries(lo: number, hi: number, maxBytes = Infinity): Promise<LogEntry[]> {
    try {
      this.checkRange(lo, hi);
    } catch (err) {
      return Promise.reject(err);
    }
    if (lo >= hi) return Promise.resolve([]);
    let end = hi;
    if (maxBytes !== Infinity) {
      let bytes = 0;
      for (let i = lo; i < hi; i++) {
        bytes += this.ents[i - this.first]!.data.byteLength;
        if (bytes >= maxBytes) {
          end = i + 1;
          break;
        }
      }
    }
    return Promise.resolve(this.ents.slice(lo - this.first, end - this.first));
  }

  term(index: number): Promise<number> {
    try {
      this.checkRange(index, index + 1);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(this.ents[index - this.first]!.term);
  }

  private checkRange(lo: number, hi: number): void {
    if (lo < this.first) throw new LogCompactedError(lo, this.first);
    if (hi > this.lastIndex() + 1) throw new LogRangeError(`range [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    if (hi < lo) throw new LogRangeError(`range [${lo}, ${hi}) is reversed`);
  }
}
