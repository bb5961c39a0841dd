/**
 * @tessera/transport-nats: Raft messages over NATS core pub/sub, one subject per node.
 */
export { natsTransport } from './factory.js';
export { NatsTransport } from './transport.js';
export { natsTransportOptionsSchema, natsTlsSchema, natsReconnectSchema, type NatsTransportOptions, type ResolvedNatsTransportOptions } from './options.js';
export type { NatsTransportStats, DropReason } from './stats.js';
export type { RejectReason } from './envelope.js';
export { nodeSubject, nodeToken } from './subjects.js';
