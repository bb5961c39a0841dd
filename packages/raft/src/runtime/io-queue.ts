import type { LogStore } from '../interfaces/log-store.js';
import type { GroupStorage } from '../interfaces/storage-engine.js';
import type { HardState, LogEntry } from '../types.js';

/** Replaces the whole log by a snapshot at `index`: every entry goes, the log restarts after it. */
export async function resetLog(log: LogStore, index: number): Promise<void> {
  if (log.lastIndex() >= log.firstIndex()) await log.truncateSuffix(log.firstIndex());
  await log.compactPrefix(index);
}

type Op =
  | { kind: 'hs'; state: HardState; done: () => void }
  | { kind: 'truncate'; from: number }
  | { kind: 'compact'; upTo: number; done: () => void }
  | { kind: 'reset'; index: number }
  | { kind: 'append'; entries: LogEntry[]; done: (index: number, term: number) => void };

/** Append calls handed to the log store before the oldest one resolved. */
const MAX_APPENDS_IN_FLIGHT = 2;

type AppendOp = Extract<Op, { kind: 'append' }>;

/** An append call made to the log store, not yet reported. */
interface Flight {
  readonly op: AppendOp;
  /** Clock time of the call (for `onPersist`). */
  readonly at: number;
  /** Settles with the call; never rejects (a failure is kept in `error`). */
  settled: Promise<void>;
  done: boolean;
  error: Error | undefined;
}

/**
 * Serializes a group's storage writes. Appends queued while earlier ones are in flight are merged
 * into one call, so the number of syncs adapts to load (group commit). Up to two appends are
 * handed to the log store at once (its contract orders them): the store encodes the second while
 * the first is being written, instead of the CPU and the disk taking turns. Any other write waits
 * until every append before it resolved, and appends after it wait for it. Completions are
 * reported in order, each once its own append resolved; an append followed by a truncation
 * reports only what the truncation keeps, so the core never counts an entry as durable that
 * storage is about to remove.
 */
export class IoQueue {
  private readonly ops: Op[] = [];
  private readonly flights: Flight[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private broken = false;
  /** Wakes {@link run} while it waits for the oldest append, so it can hand over the next one. */
  private wake: (() => void) | undefined;

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
    else if (op.kind === 'append' && this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    const { log, hardState } = this.storage;
    try {
      for (;;) {
        const op = this.ops[0];
        if (op?.kind === 'append' && this.flights.length < MAX_APPENDS_IN_FLIGHT) {
          this.ops.shift();
          if (op.entries.length > 0) this.startAppend(op);
          continue;
        }
        const oldest = this.flights[0];
        if (oldest !== undefined) {
          if (!oldest.done) {
            if (op === undefined && this.flights.length < MAX_APPENDS_IN_FLIGHT) {
              // Room for one more: also wake when an append arrives, to hand it over at once.
              await Promise.race([oldest.settled, new Promise<void>((r) => (this.wake = r))]);
              this.wake = undefined;
            } else await oldest.settled;
            continue;
          }
          this.flights.shift();
          if (oldest.error !== undefined) throw oldest.error;
          this.finishAppend(oldest);
          continue;
        }
        if (op === undefined) break;
        this.ops.shift();
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
            await resetLog(log, op.index);
            break;
        }
      }
    } catch (err) {
      this.broken = true;
      this.ops.length = 0;
      this.flights.length = 0;
      this.onError(err as Error);
    } finally {
      this.running = false;
      this.wake = undefined;
      const ws = this.idleWaiters.splice(0);
      for (const w of ws) w();
    }
  }

  /** Hands `op` to the log store without waiting for it (see {@link MAX_APPENDS_IN_FLIGHT}). */
  private startAppend(op: AppendOp): void {
    const f: Flight = { op, at: this.onPersist ? this.clock!.now() : 0, settled: Promise.resolve(), done: false, error: undefined };
    let call: Promise<void>;
    try {
      call = this.storage.log.append(op.entries);
    } catch (err) {
      call = Promise.reject(err);
    }
    f.settled = call.then(
      () => {
        f.done = true;
      },
      (err: unknown) => {
        f.done = true;
        f.error = err instanceof Error ? err : new Error(String(err));
      },
    );
    this.flights.push(f);
  }

  /** Reports a resolved append: what of it is durable and will stay (see the class comment). */
  private finishAppend(f: Flight): void {
    const op = f.op;
    if (this.onPersist) {
      let bytes = 0;
      for (const e of op.entries) bytes += e.data.length; // not byteLength: V8 11 does not inline that getter
      this.onPersist(op.entries.length, bytes, this.clock!.now() - f.at);
    }
    let safe = op.entries[op.entries.length - 1]!.index;
    for (const later of this.ops) {
      if (later.kind === 'truncate' && later.from - 1 < safe) safe = later.from - 1;
      if (later.kind === 'reset') safe = -1;
    }
    const first = op.entries[0]!.index;
    if (safe >= first) op.done(safe, op.entries[safe - first]!.term);
  }
}
