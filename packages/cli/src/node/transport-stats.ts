/**
 * One shape for the counters of either transport, for /status and /metrics.
 */
import type { Transport } from '@tessera/raft';
import type { TcpTransportStats } from '@tessera/transport-tcp';
import type { NatsTransportStats } from '@tessera/transport-nats';

/** Transport counters since start, whichever transport the node runs. */
export interface TransportCounters {
  readonly kind: 'tcp' | 'nats';
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Messages dropped instead of sent or delivered, by reason. */
  readonly dropped: Readonly<Record<string, number>>;
  readonly droppedTotal: number;
  /** TCP: peers with an established connection; NATS: 1 while connected. */
  readonly connections: number;
}

/** Reads the counters of a TCP or NATS transport. */
export function transportCounters(kind: 'tcp' | 'nats', transport: Transport): TransportCounters {
  const stats = (transport as unknown as { stats(): unknown }).stats();
  if (kind === 'tcp') {
    const s = stats as TcpTransportStats;
    return {
      kind,
      messagesSent: s.messagesSent,
      messagesReceived: s.messagesReceived,
      bytesSent: s.bytesSent,
      bytesReceived: s.bytesReceived,
      dropped: { ...s.dropped },
      droppedTotal: s.droppedTotal,
      connections: s.connections.established,
    };
  }
  const s = stats as NatsTransportStats;
  return {
    kind,
    messagesSent: s.published,
    messagesReceived: s.received,
    bytesSent: s.bytesPublished,
    bytesReceived: s.bytesReceived,
    dropped: { ...s.reasons },
    droppedTotal: s.dropped + s.rejected,
    connections: s.connected ? 1 : 0,
  };
}
