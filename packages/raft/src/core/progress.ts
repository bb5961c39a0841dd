/** How the leader replicates to one follower (etcd raft's ProgressStateType). */
export const ProgressState = {
  /** Unknown match: one AppendEntries in flight at a time until a reply locates the follower's log. */
  Probe: 0,
  /** Known match: stream entries optimistically, up to the in-flight window. */
  Replicate: 1,
  /** The follower needs a snapshot; log replication waits for it to be installed. */
  Snapshot: 2,
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** A ring of the last index sent in each in-flight AppendEntries, bounding the pipeline. */
export class Inflights {
  private readonly buf: number[];
  private start = 0;
  count = 0;

  constructor(readonly size: number) {
    this.buf = new Array<number>(size).fill(0);
  }

  full(): boolean {
    return this.count >= this.size;
  }

  add(lastIndex: number): void {
    this.buf[(this.start + this.count) % this.size] = lastIndex;
    this.count++;
  }

  /** Frees every in-flight message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.buf[this.start]! <= index) {
      this.start = (this.start + 1) % this.size;
      this.count--;
    }
  }

  /** Frees the oldest in-flight message (its reply may be lost). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.size;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

/** The leader's view of one peer. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In Probe state: a message is outstanding, so wait for a reply or a heartbeat. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Leader tick at which the latest acknowledged heartbeat was sent (lease reads). */
  leaseAck = -Infinity;
  /** In Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const ps = this.pendingSnapshot;
      this.reset(ProgressState.Probe);
      this.next = Math.max(this.match + 1, ps + 1);
    } else {
      this.reset(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.reset(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.reset(ProgressState.Snapshot);
    this.pendingSnapshot = index;
  }

  private reset(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** A successful reply up to `n`. Returns whether it told us anything new. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * A rejection of the AppendEntries whose previous index was `rejected`; `matchHint` is where the
   * follower's log may match. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an AppendEntries sent with entries up to `last` (or none). */
  sentEntries(last: number, hadEntries: boolean): void {
    if (this.state === ProgressState.Replicate) {
      if (hadEntries) {
        this.next = last + 1;
        this.inflights.add(last);
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}
