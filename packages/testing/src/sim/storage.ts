import {
  EMPTY_HARD_STATE,
  LogCompactedError,
  LogRangeError,
  StorageError,
  type GroupStorage,
  type HardState,
  type LogEntry,
  type LogStore,
  type SnapshotMeta,
  type SnapshotReader,
  type SnapshotStore,
  type SnapshotWriter,
} from '@tessera/raft';
import type { Rng } from './rng.js';
import type { Owner, Scheduler } from './scheduler.js';

interface LogImage {
  first: number;
  entries: LogEntry[];
}

interface SnapImage {
  meta: SnapshotMeta;
  data: Uint8Array;
}

type Op =
  | { kind: 'append'; entries: LogEntry[] }
  | { kind: 'truncate'; from: number }
  | { kind: 'compact'; upTo: number }
  | { kind: 'hs'; state: HardState }
  | { kind: 'snap'; image: SnapImage }
  | { kind: 'prune'; keep: number };

/**
 * What survives a crash of a simulated node: the durable images of its log, hard state and
 * snapshots. Writes become durable only when their completion event fires; a crash keeps every
 * completed write, a random prefix of the one in progress (a torn batch), and nothing after.
 */
export class SimDisk {
  log: LogImage = { first: 1, entries: [] };
  hs: HardState = EMPTY_HARD_STATE;
  snaps: SnapImage[] = [];
  /** Writes issued but not yet durable, oldest first. */
  inflight: Op[] = [];

  applyDurable(op: Op, fraction = 1): void {
    applyOp(this.log, this, op, fraction);
  }

  /** The node died: keep a random prefix of the write in progress, lose the rest. */
  crash(rng: Rng): void {
    const first = this.inflight[0];
    if (first && first.kind === 'append' && rng.chance(0.5)) this.applyDurable(first, rng.next());
    this.inflight = [];
  }
}

function applyOp(log: LogImage, disk: { hs: HardState; snaps: SnapImage[] }, op: Op, fraction: number): void {
  switch (op.kind) {
    case 'append': {
      const n = fraction >= 1 ? op.entries.length : Math.floor(op.entries.length * fraction);
      for (let i = 0; i < n; i++) log.entries.push(op.entries[i]!);
      return;
    }
    case 'truncate':
      if (op.from <= log.first + log.entries.length - 1) log.entries.length = Math.max(0, op.from - log.first);
      return;
    case 'compact': {
      if (op.upTo < log.first) return;
      const last = log.first + log.entries.length - 1;
      log.entries = op.upTo >= last ? [] : log.entries.slice(op.upTo + 1 - log.first);
      log.first = op.upTo + 1;
      return;
    }
    case 'hs':
      disk.hs = op.state;
      return;
    case 'snap':
      disk.snaps = disk.snaps.filter((s) => s.meta.index !== op.image.meta.index);
      disk.snaps.push(op.image);
      disk.snaps.sort((a, b) => a.meta.index - b.meta.index);
      return;
    case 'prune':
      if (disk.snaps.length > op.keep) disk.snaps = disk.snaps.slice(disk.snaps.length - op.keep);
      return;
  }
}

/**
 * A group's stores on a {@link SimDisk}. Reads see every write at once (like a page cache); a write's
 * promise resolves, in issue order, after a random virtual latency, when it also becomes durable.
 */
export class SimGroupStorage implements GroupStorage {
  readonly log: LogStore;
  readonly hardState: SimHardState;
  readonly snapshots: SnapshotStore;
  private readonly vlog: LogImage;
  private vhs: HardState;
  private lastCompletion = 0;
  syncs = 0;

  constructor(
    readonly disk: SimDisk,
    private readonly sched: Scheduler,
    private readonly rng: Rng,
    private readonly owner: Owner,
    private readonly maxLatencyMs: number,
  ) {
    this.vlog = { first: disk.log.first, entries: disk.log.entries.slice() };
    this.vhs = disk.hs;
    this.log = new SimLogStore(this);
    this.hardState = new SimHardState(this);
    this.snapshots = new SimSnapshotStore(this);
  }

  get volatileLog(): LogImage {
    return this.vlog;
  }

  get volatileHardState(): HardState {
    return this.vhs;
  }

  /** Applies `op` to the volatile image now and to the durable image when its completion fires. */
  write(op: Op): Promise<void> {
    if (op.kind === 'hs') this.vhs = op.state;
    else if (op.kind !== 'snap' && op.kind !== 'prune') applyOp(this.vlog, { hs: this.vhs, snaps: [] }, op, 1);
    this.disk.inflight.push(op);
    const at = Math.max(this.lastCompletion, this.sched.now + this.rng.int(0, this.maxLatencyMs));
    this.lastCompletion = at;
    const epoch = this.owner.epoch;
    return new Promise((resolve) => {
      this.sched.schedule(
        at - this.sched.now,
        () => {
          if (this.owner.epoch !== epoch) return;
          const i = this.disk.inflight.indexOf(op);
          if (i >= 0) this.disk.inflight.splice(i, 1);
          this.disk.applyDurable(op);
          this.syncs++;
          resolve();
        },
        this.owner,
      );
    });
  }

  async close(): Promise<void> {}
}

class SimLogStore implements LogStore {
  constructor(private readonly s: SimGroupStorage) {}

  firstIndex(): number {
    return this.s.volatileLog.first;
  }

  lastIndex(): number {
    const l = this.s.volatileLog;
    return l.first + l.entries.length - 1;
  }

  append(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const expect = this.lastIndex() + 1;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.index !== expect + i) return Promise.reject(new LogRangeError(`append: expected ${expect + i}, got ${entries[i]!.index}`));
    }
    return this.s.write({ kind: 'append', entries: entries.slice() });
  }

  truncateSuffix(from: number): Promise<void> {
    if (from < this.firstIndex()) return Promise.reject(new LogRangeError(`truncate below first index`));
    return this.s.write({ kind: 'truncate', from });
  }

  compactPrefix(upTo: number): Promise<void> {
    return this.s.write({ kind: 'compact', upTo });
  }

  async entries(lo: number, hi: number, maxBytes = Infinity): Promise<LogEntry[]> {
    const l = this.s.volatileLog;
    if (lo < l.first) throw new LogCompactedError(lo, l.first);
    if (hi > this.lastIndex() + 1) throw new LogRangeError(`range beyond last index`);
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = l.entries[i - l.first]!;
      out.push(e);
      bytes += e.data.byteLength;
      if (bytes >= maxBytes) break;
    }
    return out;
  }

  async term(index: number): Promise<number> {
    const [e] = await this.entries(index, index + 1);
    return e!.term;
  }
}

class SimHardState {
  constructor(private readonly s: SimGroupStorage) {}
  async load(): Promise<HardState> {
    return this.s.volatileHardState;
  }
  save(state: HardState): Promise<void> {
    return this.s.write({ kind: 'hs', state: { ...state } });
  }
}

class SimSnapshotStore implements SnapshotStore {
  constructor(private readonly s: SimGroupStorage) {}

  async create(meta: SnapshotMeta): Promise<SnapshotWriter> {
    const chunks: Uint8Array[] = [];
    let done = false;
    const s = this.s;
    return {
      meta,
      async write(chunk) {
        if (done) throw new StorageError('snapshot writer closed');
        chunks.push(chunk.slice());
      },
      async commit() {
        if (done) throw new StorageError('snapshot writer closed');
        done = true;
        const size = chunks.reduce((n, c) => n + c.byteLength, 0);
        const data = new Uint8Array(size);
        let off = 0;
        for (const c of chunks) {
          data.set(c, off);
          off += c.byteLength;
        }
        await s.write({ kind: 'snap', image: { meta, data } });
        return size;
      },
      async abort() {
        done = true;
      },
    };
  }

  async latest(): Promise<SnapshotReader | undefined> {
    // Snapshots are read from the durable image: an uncommitted one is never visible.
    const snap = this.s.disk.snaps[this.s.disk.snaps.length - 1];
    if (!snap) return undefined;
    return {
      meta: snap.meta,
      size: snap.data.byteLength,
      async read(offset, length) {
        return snap.data.subarray(offset, Math.min(snap.data.byteLength, offset + length));
      },
      async close() {},
    };
  }

  async list(): Promise<SnapshotMeta[]> {
    return this.s.disk.snaps.map((x) => x.meta);
  }

  async prune(keep: number): Promise<void> {
    await this.s.write({ kind: 'prune', keep });
  }
}
