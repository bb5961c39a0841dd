import type { Message, NodeId } from '@tessera/raft';
import type { Connection } from './connection.js';

/**
 * Upper bound of a message's encoded size in @tessera/raft's codec (every varint counted at its
 * maximum), so a batch whose estimate fits a frame limit is guaranteed to encode within it. It is
 * also at least the message's share of the codec's `batchBound`, which sizes write buffers (tested).
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

/** Placeholder for taken arrays (never written: see `take`). */
const EMPTY_CHUNK: Message[] = Object.freeze([]) as unknown as Message[];

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

  /*
   * The queue holds the callers' arrays as they were sent (the transport owns them once sent), with
   * each array's estimated bytes: a send costs one push, not one per message, and a frame made of
   * whole arrays is sized without looking at its messages again. `first`/`offset` mark the oldest
   * unsent message; a partly taken array keeps the estimate of its unsent rest.
   */
  private chunks: Message[][] = [];
  private chunkBytes: number[] = [];
  private first = 0;
  private offset = 0;
  private count = 0;
  queuedBytes = 0;

  constructor(readonly id: NodeId) {}

  get queued(): number {
    return this.count;
  }

  /** Queues messages in order until `maxBytes` would be exceeded; returns how many were dropped. A lone message may exceed the limit when the queue is empty. */
  enqueue(messages: Message[], maxBytes: number): number {
    const n = messages.length;
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += wireSize(messages[i]!);
    if (this.queuedBytes + bytes <= maxBytes || (n === 1 && this.count === 0)) {
      this.push(messages, bytes);
      return 0;
    }
    // Over the limit: keep the longest prefix that fits (at least one message into an empty queue).
    let kept = 0;
    bytes = 0;
    for (; kept < n; kept++) {
      const size = wireSize(messages[kept]!);
      if (this.queuedBytes + bytes + size > maxBytes && this.count + kept > 0) break;
      bytes += size;
    }
    if (kept > 0) this.push(messages.slice(0, kept), bytes);
    return n - kept;
  }

  private push(messages: Message[], bytes: number): void {
    if (messages.length === 0) return;
    this.chunks.push(messages);
    this.chunkBytes.push(bytes);
    this.count += messages.length;
    this.queuedBytes += bytes;
  }

  /**
   * Takes the next run of messages whose estimated size stays within `targetBytes` (at least one
   * message). Returns undefined when the queue is empty.
   */
  take(targetBytes: number): { messages: Message[]; bytes: number } | undefined {
    if (this.count === 0) return undefined;
    const chunks = this.chunks;
    let out: Message[] = EMPTY_CHUNK;
    // `out` is a caller's array returned as it is (the common case: one send per frame) until a
    // second array joins it; then the messages are copied into a new array.
    let borrowed = false;
    let bytes = 0;
    while (this.first < chunks.length) {
      const chunk = chunks[this.first]!;
      const rest = this.chunkBytes[this.first]!;
      if (bytes + rest <= targetBytes) {
        // Every unsent message of this array fits.
        if (out.length === 0 && this.offset === 0) {
          out = chunk;
          borrowed = true;
        } else {
          if (out.length === 0 || borrowed) out = out.slice();
          borrowed = false;
          for (let i = this.offset; i < chunk.length; i++) out.push(chunk[i]!);
        }
        bytes += rest;
        this.count -= chunk.length - this.offset;
        chunks[this.first] = EMPTY_CHUNK;
        this.first++;
        this.offset = 0;
        continue;
      }
      // Only part of this array fits: take its messages one by one (at least one into an empty frame).
      if (out.length === 0 || borrowed) out = out.slice();
      let i = this.offset;
      let taken = 0;
      while (i < chunk.length) {
        const size = wireSize(chunk[i]!);
        if (out.length > 0 && bytes + size > targetBytes) break;
        out.push(chunk[i]!);
        bytes += size;
        taken += size;
        i++;
      }
      this.chunkBytes[this.first] = rest - taken;
      this.count -= i - this.offset;
      this.offset = i;
      break;
    }
    this.queuedBytes -= bytes;
    if (this.count === 0) this.reset();
    else if (this.first > 1024 && this.first * 2 > chunks.length) {
      this.chunks = chunks.slice(this.first);
      this.chunkBytes = this.chunkBytes.slice(this.first);
      this.first = 0;
    }
    return { messages: out, bytes };
  }

  /** Empties the queue, returning how many messages were discarded. */
  clear(): number {
    const n = this.queued;
    this.reset();
    return n;
  }

  private reset(): void {
    this.chunks = [];
    this.chunkBytes = [];
    this.first = 0;
    this.offset = 0;
    this.count = 0;
    this.queuedBytes = 0;
  }
}
