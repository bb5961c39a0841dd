/** Why outbound messages were dropped; also keys in {@link NatsTransportStats.reasons}. */
export type DropReason = 'not-started' | 'closed' | 'disconnected' | 'peer-backlog' | 'publish-failed' | 'too-large';

/** Counters of one transport since it was created. Message counts are Raft messages; payloads are NATS publishes. */
export interface NatsTransportStats {
  /** True while the NATS connection is up. */
  readonly connected: boolean;
  /** Times the client reconnected after losing its server. */
  readonly reconnects: number;
  /** The publish size limit in force (server `max_payload`, capped by `maxPayloadBytes`); 0 while disconnected. */
  readonly maxPayload: number;
  /** Raft messages handed to NATS. */
  readonly published: number;
  /** NATS publishes, fragments included. */
  readonly payloadsPublished: number;
  /** Publishes that were fragments of a message larger than `max_payload`. */
  readonly fragmentsPublished: number;
  readonly bytesPublished: number;
  /** Raft messages delivered to the node. */
  readonly received: number;
  /** NATS messages that arrived on this node's subject, valid or not. */
  readonly payloadsReceived: number;
  readonly bytesReceived: number;
  /** Outbound Raft messages dropped (Raft retransmits what matters). */
  readonly dropped: number;
  /** Inbound payloads (or incomplete fragmented messages) dropped as invalid, unauthenticated or stale. */
  readonly rejected: number;
  /** `dropped` and `rejected` broken down by reason. */
  readonly reasons: Readonly<Record<string, number>>;
}

/** Mutable counters behind {@link NatsTransportStats}. */
export class Counters {
  reconnects = 0;
  published = 0;
  payloadsPublished = 0;
  fragmentsPublished = 0;
  bytesPublished = 0;
  received = 0;
  payloadsReceived = 0;
  bytesReceived = 0;
  dropped = 0;
  rejected = 0;
  readonly reasons: Record<string, number> = {};

  drop(reason: DropReason, messages: number): void {
    if (messages <= 0) return;
    this.dropped += messages;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + messages;
  }

  reject(reason: string): void {
    this.rejected++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
  }

  snapshot(connected: boolean, maxPayload: number): NatsTransportStats {
    return {
      connected,
      reconnects: this.reconnects,
      maxPayload,
      published: this.published,
      payloadsPublished: this.payloadsPublished,
      fragmentsPublished: this.fragmentsPublished,
      bytesPublished: this.bytesPublished,
      received: this.received,
      payloadsReceived: this.payloadsReceived,
      bytesReceived: this.bytesReceived,
      dropped: this.dropped,
      rejected: this.rejected,
      reasons: { ...this.reasons },
    };
  }
}
