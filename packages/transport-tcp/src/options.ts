import { parseConfig, type Logger, type NodeId } from '@tessera/raft';
import { z } from 'zod';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Resolves a node id to `host:port` (IPv6 hosts in brackets), or `undefined` if unknown. Called on every dial, so it may follow discovery. */
export type PeerResolver = (nodeId: NodeId) => string | undefined;

/** `host:port` with a port in 1..65535; IPv6 hosts in brackets (`[::1]:7000`). */
export const peerAddressSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port (IPv6 hosts in brackets)')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'port must be 1..65535');

const pem = z.union([z.string().min(1), z.instanceof(Uint8Array)]);

/** TLS settings. Certificates and keys are PEM (string or bytes). */
export const tlsOptionsSchema = z
  .object({
    /** This node's certificate chain, presented both when accepting and (with `mutual`) when dialing. */
    cert: pem,
    /** Private key of `cert`. */
    key: pem,
    /** Passphrase of `key`, if encrypted. */
    passphrase: z.string().optional(),
    /** CA certificate(s) peers' certificates must chain to. Without it, the system roots are used. */
    ca: z.union([pem, z.array(pem).min(1)]).optional(),
    /** Require and verify a client certificate on inbound connections (mutual TLS). */
    mutual: z.boolean().default(true),
    /** Check the dialed host name / IP against the server certificate (Node's default check). */
    checkServerIdentity: z.boolean().default(true),
    /**
     * Also require the peer certificate's common name or a DNS subject-alt-name to equal the node id
     * the peer claims, so one node's certificate cannot impersonate another node.
     */
    requireNodeIdInCert: z.boolean().default(false),
  })
  .strict();

const reconnectSchema = z
  .object({
    /** Delay before the first redial after a failed dial. */
    initialMs: z.number().int().min(1).default(50),
    /** Cap of the exponential backoff. Each delay is jittered into [delay/2, delay]. */
    maxMs: z.number().int().min(1).default(5_000),
  })
  .strict()
  .refine((r) => r.initialMs <= r.maxMs, { message: 'must not exceed maxMs', path: ['initialMs'] });

/** Options of {@link tcpTransport}. Only `listen`, `peers` and `clusterId` are required. */
export const tcpTransportOptionsSchema = z
  .object({
    /** Where to accept connections. Nothing else is listened on. Port 0 picks a free port (see `transport.address`). */
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535),
      })
      .strict(),
    /** Peer addresses: a record of nodeId -> "host:port", or a resolver consulted on every dial. */
    peers: z.union([
      z.record(z.string().min(1), peerAddressSchema),
      z.custom<PeerResolver>((v) => typeof v === 'function', 'expected a record of nodeId -> "host:port" or a function (nodeId) => "host:port" | undefined'),
    ]),
    /** Peers with a different cluster id are refused. */
    clusterId: z.string().min(1).max(255),
    /** Shared secret (at least 16 bytes) for HMAC-SHA256 challenge-response authentication in both directions. */
    secret: z
      .union([z.string().min(16, 'must be at least 16 characters'), z.instanceof(Uint8Array).refine((b) => b.byteLength >= 16, 'must be at least 16 bytes')])
      .optional(),
    tls: tlsOptionsSchema.optional(),
    /** Largest frame accepted from (and sent to) a peer; larger messages are dropped and counted. */
    maxFrameBytes: z.number().int().min(64 * KiB).max(1024 * MiB).default(64 * MiB),
    /** Bytes of messages queued per peer; beyond that new messages are dropped (and counted). */
    maxQueueBytes: z.number().int().min(1).default(64 * MiB),
    /** Target size of one coalesced frame: messages queued for a peer are packed into frames of about this size. */
    maxBatchBytes: z.number().int().min(1 * KiB).max(64 * MiB).default(256 * KiB),
    /** Inbound connections allowed between accept and authentication; more are closed at once. */
    maxPendingConnections: z.number().int().min(1).default(64),
    /** Time allowed for TCP (and TLS) connection establishment when dialing. */
    connectTimeoutMs: z.number().int().min(1).default(5_000),
    /** Time allowed from accept/connect until the handshake completes. */
    handshakeTimeoutMs: z.number().int().min(1).default(5_000),
    /** An established connection that delivers no frame for this long is closed; pings are sent after a third of it. */
    idleTimeoutMs: z.number().int().min(100).default(30_000),
    reconnect: reconnectSchema.default({ initialMs: 50, maxMs: 5_000 }),
    /** Overrides the logger the node passes in. */
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && ['debug', 'info', 'warn', 'error'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function'), 'expected a logger with debug/info/warn/error')
      .optional(),
  })
  .strict();

export type TcpTransportOptions = z.input<typeof tcpTransportOptionsSchema>;
export type ResolvedTcpOptions = z.output<typeof tcpTransportOptionsSchema>;
export type TcpTlsOptions = z.input<typeof tlsOptionsSchema>;

/** Validates options, throwing ConfigError naming the field (e.g. `tcpTransport.listen.port`). */
export function parseTcpOptions(input: unknown): ResolvedTcpOptions {
  return parseConfig(tcpTransportOptionsSchema, input, 'tcpTransport');
}

/** Splits "host:port" / "[v6]:port" into parts (the string was validated or comes from a resolver). */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const r = peerAddressSchema.safeParse(address);
  if (!r.success) return undefined;
  const i = address.lastIndexOf(':');
  let host = address.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(address.slice(i + 1)) };
}
