import type { Message, NodeId } from '@tessera/raft';
import type { Connection } from './connection.js';

/**
 * Upper bound of a message's encoded size in @tessera/raft's codec (every varint counted at its
 * maximum), so a batch whose estimate fits a frame limit is guaranteed to encode within it.
 */
export function wireSize(m: Message): number {
  let n = 80 + m.group.length * 3;
  const ents = m.entries;
  for (let i = 0; i < ents.length; i++) n += ents[i]!.data.byteLength + 24;
  const s = m.snapshot;
  if (s) {
    n += s.data.byteLength + 48;
    for (const id of s.meta.membership.voters) n += id.length * 3 + 5;
    for (const id of s.meta.membership.learners) n += id.length * 3 + 5;
  }
  return n;
}

/** Per-peer state: the outbound queue and the connections to that peer. */
export class Peer {
  /** The connection carrying traffic (both directions), once selected. */
  active: Connection | undefined;
  /** Our dial in progress, until it becomes active or fails. */
  dialing: Connection | undefined;
  /** Every open, identified connection with this peer other than `active` (handshaking or waiting for selection). */
  readonly others = new Set<Connection>();
  /** Higher node id: the selection id of the connection last used, sent when redialing. */
  lastSelect: number | undefined;
  /** Consecutive failed dials; drives the backoff. */
  failedDials = 0;
  /** Pending redial after a failure; while set, sends are dropped as unreachable. */
  retryTimer: NodeJS.Timeout | undefined;
  /** Something was sent (and dropped) during the backoff, so redial when it ends. */
  wanted = false;

  private msgs: Message[] = [];
  private sizes: number[] = [];
  private head = 0;
  queuedBytes = 0;

  constructor(readonly id: NodeId) {}

  get queued(): number {
    return this.msgs.length - this.head;
  }

  /** Queues messages in order until `maxBytes` would be exceeded; returns how many were dropped. A lone message may exceed the limit when the queue is empty. */
  enqueue(messages: readonly Message[], maxBytes: number): number {
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const size = wireSize(m);
      if (this.queuedBytes + size > maxBytes && this.queued > 0) return messages.length - i;
      this.msgs.push(m);
      this.sizes.push(size);
      this.queuedBytes += size;
    }
    return 0;
  }

  /**
   * Takes the next run of messages whose estimated size stays within `targetBytes` (at least one
   * message). Returns undefined when the queue is empty.
   */
  take(targetBytes: number): { messages: Message[]; bytes: number } | undefined {
    if (this.head >= this.msgs.length) return undefined;
    const start = this.head;
    let i = start;
    let bytes = 0;
    while (i < this.msgs.length) {
      const s = this.sizes[i]!;
      if (i > start && bytes + s > targetBytes) break;
      bytes += s;
      i++;
    }
    const messages = start === 0 && i === this.msgs.length ? this.msgs : this.msgs.slice(start, i);
    this.head = i;
    this.queuedBytes -= bytes;
    if (this.head === this.msgs.length) this.reset();
    else if (this.head > 4096 && this.head * 2 > this.msgs.length) {
      this.msgs = this.msgs.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return { messages, bytes };
  }

  /** Empties the queue, returning how many messages were discarded. */
  clear(): number {
    const n = this.queued;
    this.reset();
    return n;
  }

  private reset(): void {
    this.msgs = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
  }
}
