import type { NodeId } from '../types.js';

/** A read-index request waiting for a quorum to confirm the leader's leadership. */
export interface ReadRequest {
  /** Requester's context (its own numbering). */
  readonly ctx: number;
  /** Requesting node (the leader itself for local reads). */
  readonly from: NodeId;
  /** Commit index when the request arrived: the read must observe at least this. */
  readonly index: number;
  /** Heartbeat round that confirms it. */
  readonly round: number;
}

/**
 * ReadIndex bookkeeping on the leader (Raft thesis section 6.4). Requests are grouped into heartbeat
 * rounds; once a quorum acknowledges round r, every request in rounds <= r is confirmed, because
 * those acknowledgements prove no other leader had been elected when the round was sent.
 */
export class ReadOnly {
  private queue: ReadRequest[] = [];
  private acks = new Map<number, Set<NodeId>>();
  private round = 0;
  /** Round being filled by requests arriving before its heartbeat is sent. */
  private open = 0;

  /** Adds a request; returns the round to broadcast, or 0 if the open round will be sent anyway. */
  add(ctx: number, from: NodeId, index: number): number {
    let fresh = 0;
    if (this.open === 0) {
      this.open = ++this.round;
      this.acks.set(this.open, new Set());
      fresh = this.open;
    }
    this.queue.push({ ctx, from, index, round: this.open });
    return fresh;
  }

  /** Closes the open round (its heartbeat has been sent). */
  seal(): void {
    this.open = 0;
  }

  /** Records `from` acknowledging `round`; returns confirmed requests if `round` reached quorum. */
  ack(round: number, from: NodeId, hasQuorum: (acks: Set<NodeId>) => boolean): ReadRequest[] {
    const set = this.acks.get(round);
    if (!set) return [];
    set.add(from);
    if (!hasQuorum(set)) return [];
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.round <= round) n++;
    const done = this.queue.splice(0, n);
    for (const r of this.acks.keys()) if (r <= round) this.acks.delete(r);
    if (this.open !== 0 && this.open <= round) this.open = 0;
    return done;
  }

  /** Drops everything (leadership lost); returns what was pending so it can be failed. */
  reset(): ReadRequest[] {
    const q = this.queue;
    this.queue = [];
    this.acks.clear();
    this.open = 0;
    return q;
  }

  get pending(): number {
    return this.queue.length;
  }
}
