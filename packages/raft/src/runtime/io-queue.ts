import type { GroupStorage } from '../interfaces/storage-engine.js';
import type { HardState, LogEntry } from '../types.js';

type Op =
  | { kind: 'hs'; state: HardState; done: () => void }
  | { kind: 'truncate'; from: number }
  | { kind: 'compact'; upTo: number; done: () => void }
  | { kind: 'reset'; index: number }
  | { kind: 'append'; entries: LogEntry[]; done: (index: number, term: number) => void };

/**
 * Serializes a group's storage writes. Appends queued while an earlier write is in flight are
 * merged into one call, so the number of syncs adapts to load (group commit). Completions are
 * reported in order; an append followed by a truncation reports only what the truncation keeps,
 * so the core never counts an entry as durable that storage is about to remove.
 */
export class IoQueue {
  private readonly ops: Op[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private broken = false;

  constructor(
    private readonly storage: GroupStorage,
    private readonly onError: (err: Error) => void,
    /** Reports each durable append (entries, bytes, ms), for metrics. */
    private readonly onPersist?: (entries: number, bytes: number, ms: number) => void,
    private readonly clock?: { now(): number },
  ) {}

  saveHardState(state: HardState, done: () => void): void {
    this.push({ kind: 'hs', state, done });
  }

  truncate(from: number): void {
    // Entries queued but not yet written at or after `from` are dropped instead of written and removed.
    for (const op of this.ops) {
      if (op.kind === 'append' && op.entries.length > 0 && op.entries[op.entries.length - 1]!.index >= from) {
        const keep = op.entries.filter((e) => e.index < from);
        op.entries = keep;
      }
    }
    this.push({ kind: 'truncate', from });
  }

  append(entries: LogEntry[], done: (index: number, term: number) => void): void {
    const last = this.ops[this.ops.length - 1];
    if (last && last.kind === 'append' && last.done === done) {
      for (const e of entries) last.entries.push(e);
      return;
    }
    this.push({ kind: 'append', entries: entries.slice(), done });
  }

  /**
   * Discards the whole log: it continues after a snapshot at `index` that replaced it. Queued but
   * unwritten appends belong to the discarded log and are dropped.
   */
  reset(index: number): void {
    for (let i = this.ops.length - 1; i >= 0; i--) if (this.ops[i]!.kind === 'append') this.ops.splice(i, 1);
    this.push({ kind: 'reset', index });
  }

  compact(upTo: number, done: () => void): void {
    this.push({ kind: 'compact', upTo, done });
  }

  /** Resolves when every queued write has settled. */
  idle(): Promise<void> {
    if (!this.running && this.ops.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private push(op: Op): void {
    if (this.broken) return;
    this.ops.push(op);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    const { log, hardState } = this.storage;
    try {
      while (this.ops.length > 0) {
        const op = this.ops.shift()!;
        switch (op.kind) {
          case 'hs':
            await hardState.save(op.state);
            op.done();
            break;
          case 'truncate':
            if (op.from <= log.lastIndex()) await log.truncateSuffix(op.from);
            break;
          case 'compact':
            await log.compactPrefix(op.upTo);
            op.done();
            break;
          case 'reset':
            if (log.lastIndex() >= log.firstIndex()) await log.truncateSuffix(log.firstIndex());
            await log.compactPrefix(op.index);
            break;
          case 'append': {
            if (op.entries.length === 0) break;
            const t0 = this.onPersist ? this.clock!.now() : 0;
            await log.append(op.entries);
            if (this.onPersist) {
              let bytes = 0;
              for (const e of op.entries) bytes += e.data.byteLength;
              this.onPersist(op.entries.length, bytes, this.clock!.now() - t0);
            }
            let safe = op.entries[op.entries.length - 1]!.index;
            for (const later of this.ops) {
              if (later.kind === 'truncate' && later.from - 1 < safe) safe = later.from - 1;
              if (later.kind === 'reset') safe = -1;
            }
            const first = op.entries[0]!.index;
            if (safe >= first) op.done(safe, op.entries[safe - first]!.term);
            break;
          }
        }
      }
    } catch (err) {
      this.broken = true;
      this.ops.length = 0;
      this.onError(err as Error);
    } finally {
      this.running = false;
      const ws = this.idleWaiters.splice(0);
      for (const w of ws) w();
    }
  }
}
