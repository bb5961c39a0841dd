import type { Logger, NodeId } from '@tessera/raft';

/** Why messages were dropped instead of sent. */
export interface DropCounts {
  /** The peer's queue held `maxQueueBytes` already. */
  queueFull: number;
  /** The last dial to the peer failed and the redial backoff has not expired (or its queue was discarded on failure). */
  unreachable: number;
  /** No address for the peer and no connection from it. */
  unknownPeer: number;
  /** One message larger than the frame limit (ours or the peer's). */
  oversize: number;
  /** Addressed to this node itself. */
  self: number;
  /** Queued when the transport closed. */
  closed: number;
}

/** Why connections were refused or closed by this node. Keys are the reason codes used in logs. */
export interface CloseCounts {
  /** Too many inbound connections were still handshaking. */
  pendingLimit: number;
  handshakeTimeout: number;
  idleTimeout: number;
  connectTimeout: number;
  /** Malformed, oversize or out-of-order frames. */
  protocol: number;
  version: number;
  cluster: number;
  /** Wrong or missing shared secret. */
  auth: number;
  /** TLS handshake or certificate verification failed. */
  tls: number;
  /** The peer was not the node we dialed, claimed our own id, or its certificate names another node. */
  identity: number;
  /** A second connection between the same pair; the lower node id kept the other one. */
  duplicate: number;
  /** A newer connection (e.g. from a restarted peer) took over. */
  replaced: number;
  /** Socket errors and peer disconnects. */
  error: number;
}
export type CloseReason = keyof CloseCounts;

/** Counters of a TCP transport, from `transport.stats()`. Totals since start. */
export interface TcpTransportStats {
  messagesSent: number;
  messagesReceived: number;
  /** Frame bytes written/read, headers included (TLS overhead not included). */
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Messages dropped, by reason (sum in `droppedTotal`). */
  dropped: DropCounts;
  droppedTotal: number;
  connections: {
    /** Peers with an established connection now. */
    established: number;
    /** Inbound connections not yet authenticated now. */
    pendingInbound: number;
    /** Dials started. */
    dials: number;
    /** Dials that failed before the connection was established. */
    dialFailures: number;
    /** Inbound connections accepted (before the pending limit). */
    accepted: number;
    /** Connections that completed the handshake (either direction). */
    handshakes: number;
  };
  /** Connections this node closed or refused, by reason. */
  closed: CloseCounts;
  /** Peers that failed authentication here (wrong secret, bad certificate, wrong identity). */
  authFailures: number;
  /** Times a peer refused us (it sent a Reject). */
  refusedByPeers: number;
  /** Per peer this node knows of. */
  peers: Record<NodeId, PeerStats>;
}

export interface PeerStats {
  connected: boolean;
  queuedMessages: number;
  queuedBytes: number;
  /** Consecutive failed dials (0 when connected). */
  failedDials: number;
}

export function emptyDrops(): DropCounts {
  return { queueFull: 0, unreachable: 0, unknownPeer: 0, oversize: 0, self: 0, closed: 0 };
}

export function emptyCloses(): CloseCounts {
  return {
    pendingLimit: 0,
    handshakeTimeout: 0,
    idleTimeout: 0,
    connectTimeout: 0,
    protocol: 0,
    version: 0,
    cluster: 0,
    auth: 0,
    tls: 0,
    identity: 0,
    duplicate: 0,
    replaced: 0,
    error: 0,
  };
}

/**
 * Logs at warn, but at most `burst` times per second per key; the rest go to debug and are summarised
 * in the next warn. A flood of bad connections must not become a flood of log lines.
 */
export class WarnLimiter {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly burst = 10,
  ) {}

  warn(key: string, fields: object, msg: string): void {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= 1000) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (suppressed > 0) fields = { ...fields, suppressedSinceLastWarning: suppressed };
      if (this.windows.size > 1000) this.windows.clear();
    }
    if (w.count < this.burst) {
      w.count++;
      this.logger.warn(fields, msg);
    } else {
      w.suppressed++;
      this.logger.debug(fields, msg);
    }
  }
}
