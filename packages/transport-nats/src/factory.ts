import { parseConfig, type TransportInit } from '@tessera/raft';
import { natsTransportOptionsSchema, type NatsTransportOptions } from './options.js';
import { NatsTransport } from './transport.js';

/**
 * Creates a NATS transport factory to hand to a node (`new RaftHost({ transport: natsTransport(...) })`).
 * Options are validated here, so a bad field fails at once with a `ConfigError` naming it
 * (`natsTransport.clusterId: ...`). Each call of the returned factory creates one
 * {@link NatsTransport} with its own connection.
 *
 * @example
 * const host = new RaftHost({
 *   nodeId: 'n1',
 *   transport: natsTransport({ servers: 'nats://127.0.0.1:4222', clusterId: 'orders', secret: process.env.TESSERA_SECRET }),
 * });
 * await host.start();
 */
export function natsTransport(options: NatsTransportOptions): (init: TransportInit) => NatsTransport {
  const resolved = parseConfig(natsTransportOptionsSchema, options, 'natsTransport');
  return (init) => new NatsTransport(resolved, init);
}
