import type { LogEntry, Membership } from '../types.js';
import { EntryType } from '../types.js';

/**
 * Membership as the log defines it: the newest config entry in the log wins, committed or not
 * (Raft thesis 4.1), so it must follow every change to the log: appends add configs, truncations
 * revert them, compaction folds them into the base, and a snapshot replaces the base.
 */
export class MembershipLog {
  /** Membership as of the first entry kept in memory (the snapshot's, or the initial one). */
  private base: Membership;
  /** Config entries still in the in-memory log, ascending by index. */
  private configs: { index: number; membership: Membership }[] = [];

  constructor(
    base: Membership,
    private readonly decode: (data: Uint8Array) => Membership,
  ) {
    this.base = base;
  }

  current(): Membership {
    return this.configs.length ? this.configs[this.configs.length - 1]!.membership : this.base;
  }

  /** Index of the newest config entry in the log, or 0. */
  latestIndex(): number {
    return this.configs.length ? this.configs[this.configs.length - 1]!.index : 0;
  }

  /** Scans appended entries; returns whether membership changed. */
  appended(entries: readonly LogEntry[]): boolean {
    let changed = false;
    for (const e of entries) {
      if (e.type !== EntryType.Config) continue;
      this.configs.push({ index: e.index, membership: this.decode(e.data) });
      changed = true;
    }
    return changed;
  }

  /** Entries from `from` on were removed; returns whether membership changed. */
  truncated(from: number): boolean {
    const n = this.configs.length;
    while (this.configs.length && this.configs[this.configs.length - 1]!.index >= from) this.configs.pop();
    return this.configs.length !== n;
  }

  /** Entries up to `upTo` were compacted away. */
  compacted(upTo: number): void {
    while (this.configs.length && this.configs[0]!.index <= upTo) this.base = this.configs.shift()!.membership;
  }

  /** The log was replaced by (or now starts after) a snapshot at `index` with `membership`. */
  restored(index: number, membership: Membership): void {
    this.base = membership;
    this.configs = this.configs.filter((c) => c.index > index);
  }
}
