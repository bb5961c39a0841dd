/**
 * @tessera/transport-tcp: a Tessera {@link Transport} over TCP. One connection per pair of nodes
 * carries every Raft group, messages are coalesced into length-prefixed frames, queues are bounded
 * per peer, and peers authenticate with a cluster id, an optional shared secret (HMAC-SHA256
 * challenge-response) and optional (mutual) TLS. See docs/transport.md for the wire format.
 */
export { tcpTransport, type TcpTransport, type TcpTransportFactory, type ListenAddress } from './transport.js';
export { tcpTransportOptionsSchema, type TcpTransportOptions, type TcpTlsOptions, type PeerResolver } from './options.js';
export type { TcpTransportStats, DropCounts, CloseCounts, CloseReason, PeerStats } from './stats.js';
export { PROTOCOL_VERSION } from './frame.js';
