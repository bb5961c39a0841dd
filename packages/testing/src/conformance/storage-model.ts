/**
 * A reference log for the randomized conformance test (the contract of `LogStore` written as plainly
 * as possible, so any divergence of a backend is a backend bug). No vitest import: the crash-test
 * child process loads this.
 */
import type { LogEntry } from '@tessera/raft';

export class ModelLog {
  first = 1;
  ents: LogEntry[] = [];

  lastIndex(): number {
    return this.first + this.ents.length - 1;
  }

  append(es: readonly LogEntry[]): void {
    for (const e of es) this.ents.push(e);
  }

  truncateSuffix(from: number): void {
    if (from <= this.lastIndex()) this.ents.length = from - this.first;
  }

  compactPrefix(upTo: number): void {
    if (upTo < this.first) return;
    this.ents = upTo >= this.lastIndex() ? [] : this.ents.slice(upTo + 1 - this.first);
    this.first = upTo + 1;
  }

  slice(lo: number, hi: number): LogEntry[] {
    return this.ents.slice(lo - this.first, hi - this.first);
  }
}
