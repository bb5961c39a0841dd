import type { TransportHarness } from '@tessera/testing/transport';
import { tcpTransport, type TcpTransport, type TcpTransportOptions } from '../../src/index.js';

/** Options every test transport shares: loopback, port 0, fast reconnects. */
export function baseOptions(overrides: Partial<TcpTransportOptions> = {}): TcpTransportOptions {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    peers: {},
    clusterId: 'test-cluster',
    reconnect: { initialMs: 10, maxMs: 200 },
    ...overrides,
  };
}

/**
 * A conformance harness: endpoints publish their bound address in a shared map that every
 * endpoint's resolver reads (a stand-in for discovery), so a restarted endpoint on a new port is found.
 */
export function tcpHarness(perNode: (nodeId: string) => Partial<TcpTransportOptions> = () => ({})): TransportHarness & { transports: TcpTransport[] } {
  const addresses = new Map<string, string>();
  const transports: TcpTransport[] = [];
  return {
    transports,
    async create(nodeId, deliver) {
      const t = tcpTransport(baseOptions({ peers: (id) => addresses.get(id), ...perNode(nodeId) }))({ nodeId, deliver });
      await t.start();
      addresses.set(nodeId, `127.0.0.1:${t.address!.port}`);
      transports.push(t);
      return t;
    },
    async destroy() {},
  };
}
