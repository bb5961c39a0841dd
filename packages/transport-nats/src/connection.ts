import { readFile } from 'node:fs/promises';
import { credsAuthenticator, nkeyAuthenticator, errors, type NodeConnectionOptions } from '@nats-io/transport-node';
import { TransportError, type NodeId } from '@tessera/raft';
import type { ResolvedNatsTransportOptions } from './options.js';

const textEncoder = new TextEncoder();

/** Translates validated options into the NATS client's connection options (reading key files). */
export async function connectionOptions(o: ResolvedNatsTransportOptions, nodeId: NodeId): Promise<NodeConnectionOptions> {
  const opts: NodeConnectionOptions = {
    servers: o.servers,
    name: o.name ?? `tessera-${o.clusterId}-${nodeId}`,
    timeout: o.connectTimeoutMs,
    pingInterval: o.pingIntervalMs,
    maxPingOut: o.maxPingOut,
    reconnect: true,
    maxReconnectAttempts: o.reconnect.maxAttempts,
    reconnectTimeWait: o.reconnect.timeWaitMs,
    reconnectJitter: o.reconnect.jitterMs,
    reconnectJitterTLS: o.reconnect.jitterTlsMs,
    waitOnFirstConnect: o.reconnect.waitOnFirstConnect,
  };
  if (o.token !== undefined) opts.token = o.token;
  if (o.user !== undefined) {
    opts.user = o.user;
    opts.pass = o.pass;
  }
  const seed = o.nkeySeed ?? (o.nkeySeedFile !== undefined ? (await readKeyFile(o.nkeySeedFile, 'nkeySeedFile')).trim() : undefined);
  if (seed !== undefined) opts.authenticator = nkeyAuthenticator(textEncoder.encode(seed));
  const creds = o.creds ?? (o.credsFile !== undefined ? await readKeyFile(o.credsFile, 'credsFile') : undefined);
  if (creds !== undefined) opts.authenticator = credsAuthenticator(textEncoder.encode(creds));
  if (o.tls !== undefined) opts.tls = { ...o.tls };
  return opts;
}

async function readKeyFile(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new TransportError(`cannot read ${field} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** A connect failure as a TransportError that says what to check. */
export function connectError(err: unknown, servers: string | string[]): TransportError {
  const where = Array.isArray(servers) ? servers.join(', ') : servers;
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof errors.AuthorizationError) {
    return new TransportError(`NATS server ${where} rejected this node's credentials (${detail}); check token, user/pass, nkey or creds`, { cause: err });
  }
  if (err instanceof errors.UserAuthenticationExpiredError) {
    return new TransportError(`NATS credentials expired (${detail})`, { cause: err });
  }
  return new TransportError(`cannot connect to NATS at ${where}: ${detail}`, { cause: err });
}
