import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { ClientTransport } from './connection.js';

function split(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  let host = address.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(address.slice(i + 1)) };
}

/** Plain TCP to the nodes' client ports (the default). */
export function tcp(): ClientTransport {
  return (address) => {
    const { host, port } = split(address);
    const s = netConnect({ host, port, noDelay: true });
    return s;
  };
}

/** TLS to the nodes' client ports. `options` are Node's `tls.connect` options (ca, cert, key, servername...). */
export function tls(options: Omit<ConnectionOptions, 'host' | 'port'> = {}): ClientTransport {
  return (address) => {
    const { host, port } = split(address);
    return tlsConnect({ ...options, host, port });
  };
}
