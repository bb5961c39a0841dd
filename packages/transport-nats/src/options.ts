import { z } from 'zod';
import type { Logger } from '@tessera/raft';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A subject token we generate subjects from: NATS forbids `.`, `*`, `>` and whitespace in tokens. */
const token = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-" (one NATS subject token)');

const logger = z.custom<Logger>(
  (v) => typeof v === 'object' && v !== null && ['debug', 'info', 'warn', 'error'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function'),
  'must be a logger with debug, info, warn and error methods',
);

/** TLS settings handed to the NATS client as they are. Any object (even `{}`) makes TLS required. */
export const natsTlsSchema = z
  .object({
    /** CA bundle (PEM) to verify the server with, as a file path or the PEM text. */
    caFile: z.string().min(1).optional(),
    ca: z.string().min(1).optional(),
    /** Client certificate (PEM) for mutual TLS, as a file path or the PEM text. */
    certFile: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    /** Client private key (PEM) for mutual TLS, as a file path or the PEM text. */
    keyFile: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** TLS handshake before the NATS INFO (the server must set `handshake_first`). */
    handshakeFirst: z.boolean().optional(),
    /** Verify the server certificate. Default true; turn off only in tests. */
    rejectUnauthorized: z.boolean().optional(),
  })
  .strict();

/** How the client reconnects after losing the server. */
export const natsReconnectSchema = z
  .object({
    /** Reconnect attempts per server before giving up; -1 (the default) never gives up: Raft needs the network back. */
    maxAttempts: z.number().int().min(-1).default(-1),
    /** Wait between attempts on one server. */
    timeWaitMs: z.number().int().min(0).default(500),
    /** Random extra wait (upper bound) so a restarted server is not hit by every node at once. */
    jitterMs: z.number().int().min(0).default(250),
    /** Random extra wait for TLS connections (handshakes are costlier). */
    jitterTlsMs: z.number().int().min(0).default(1_000),
    /** Keep retrying the first connection too, instead of failing `start()` when no server is reachable. */
    waitOnFirstConnect: z.boolean().default(false),
  })
  .strict();

export const natsTransportOptionsSchema = z
  .object({
    /** NATS server URL(s), e.g. `nats://10.0.0.5:4222` or `tls://nats.example:4222`. */
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Names the cluster; nodes of different clusters on one NATS fabric never see each other's messages. */
    clusterId: token,
    /** First subject token(s); each node listens on `<subjectPrefix>.<clusterId>.<nodeId>`. */
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated tokens of letters, digits, "_" or "-"')
      .default('tessera'),

    /** Token authentication (server `authorization { token }`). */
    token: z.string().min(1).optional(),
    /** User/password authentication; both or neither. */
    user: z.string().min(1).optional(),
    pass: z.string().optional(),
    /** NKey authentication: the user's seed (`SU...`), inline or as a file. */
    nkeySeed: z.string().min(1).optional(),
    nkeySeedFile: z.string().min(1).optional(),
    /** Decentralised JWT authentication: a `.creds` file, inline or as a path. */
    creds: z.string().min(1).optional(),
    credsFile: z.string().min(1).optional(),
    /** TLS to the NATS server. */
    tls: natsTlsSchema.optional(),

    /**
     * Shared cluster secret (at least 16 bytes). When set, every payload carries an HMAC-SHA256 under
     * it and payloads without a valid one are dropped, so only holders of the secret can inject messages.
     */
    secret: z.union([z.string().min(16, 'must be at least 16 characters'), z.instanceof(Uint8Array).refine((b) => b.byteLength >= 16, 'must be at least 16 bytes')]).optional(),

    /**
     * Bytes a peer may have queued or published-but-unconfirmed (no PING/PONG round trip since) before
     * further messages to it are dropped. Bounds memory when the server connection is slower than Raft.
     */
    maxPendingBytes: z.number().int().min(1 * KiB).default(64 * MiB),
    /** Caps each publish below the server's `max_payload` (which always applies). Mostly for tests. */
    maxPayloadBytes: z.number().int().min(256).optional(),
    /** Memory for partially received fragmented messages, all senders together. */
    maxReassemblyBytes: z.number().int().min(1 * KiB).default(256 * MiB),
    /** A fragmented message not complete within this time is discarded. */
    fragmentTimeoutMs: z.number().int().min(1).default(30_000),

    reconnect: natsReconnectSchema.default(natsReconnectSchema.parse({})),
    /** Client-initiated PING interval; a server silent for `maxPingOut` pings is treated as gone. */
    pingIntervalMs: z.number().int().min(1).default(5_000),
    maxPingOut: z.number().int().min(1).default(2),
    /** Time allowed for the TCP + TLS + NATS handshake of each connection attempt. */
    connectTimeoutMs: z.number().int().min(1).default(10_000),
    /** `close()` drains the connection (flushes queued publishes) for at most this long, then closes it. */
    drainTimeoutMs: z.number().int().min(0).default(2_000),
    /** Connection name shown in the server's monitoring; default `tessera-<clusterId>-<nodeId>`. */
    name: z.string().min(1).optional(),
    /** Overrides the logger the node passes to the transport. */
    logger: logger.optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if ((o.user === undefined) !== (o.pass === undefined)) {
      ctx.addIssue({ code: 'custom', path: [o.user === undefined ? 'user' : 'pass'], message: 'user and pass must be given together' });
    }
    const methods = [
      o.token !== undefined && 'token',
      o.user !== undefined && 'user',
      (o.nkeySeed !== undefined || o.nkeySeedFile !== undefined) && 'nkeySeed',
      (o.creds !== undefined || o.credsFile !== undefined) && 'creds',
    ].filter((m): m is string => typeof m === 'string');
    if (methods.length > 1) ctx.addIssue({ code: 'custom', path: [methods[1]!], message: `conflicts with ${methods[0]}: choose one authentication method` });
    if (o.nkeySeed !== undefined && o.nkeySeedFile !== undefined) ctx.addIssue({ code: 'custom', path: ['nkeySeedFile'], message: 'give nkeySeed or nkeySeedFile, not both' });
    if (o.creds !== undefined && o.credsFile !== undefined) ctx.addIssue({ code: 'custom', path: ['credsFile'], message: 'give creds or credsFile, not both' });
  });

/** Options of {@link natsTransport}, as the caller writes them (defaults optional). */
export type NatsTransportOptions = z.input<typeof natsTransportOptionsSchema>;
/** Options after validation, every default filled in. */
export type ResolvedNatsTransportOptions = z.output<typeof natsTransportOptionsSchema>;
