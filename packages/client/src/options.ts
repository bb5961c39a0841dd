import { parseConfig } from '@tessera/raft';
import { z } from 'zod';
import type { ClientTransport } from './connection.js';
import { consistencySchema } from './protocol/messages.js';

const address = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port (IPv6 hosts in brackets)');

/** Options of {@link connect}. Only `endpoints` is required. */
export const connectOptionsSchema = z
  .object({
    /** Client addresses ("host:port") of some nodes; the client learns the rest from them. */
    endpoints: z.array(address).min(1),
    /** How bytes reach a node: `tcp()` (default) or `tls({...})`. */
    transport: z.custom<ClientTransport>((v) => typeof v === 'function', 'expected a client transport such as tcp() or tls({...})').optional(),
    /** Refuse nodes of another cluster. */
    clusterId: z.string().min(1).optional(),
    /**
     * A session silent for this long (in the cluster's log time) expires: its locks and election
     * candidacies are released. The client sends keep-alives every third of it.
     */
    sessionTimeoutMs: z.number().int().min(1_000).max(24 * 3600_000).default(30_000),
    /** An operation not answered within this time (retries included) fails; a command's outcome is then unknown. */
    requestTimeoutMs: z.number().int().min(10).default(15_000),
    /** One attempt waits at most this long for its answer before retrying (elsewhere). */
    attemptTimeoutMs: z.number().int().min(10).default(5_000),
    /** Dialing a node gives up after this long. */
    connectTimeoutMs: z.number().int().min(10).default(3_000),
    /** Backoff between retries: starts at initialMs, doubles, capped at maxMs, jittered. */
    retry: z
      .object({ initialMs: z.number().int().min(1).default(10), maxMs: z.number().int().min(1).default(500) })
      .strict()
      .default({ initialMs: 10, maxMs: 500 }),
    /** Consistency of reads that do not ask for one. */
    consistency: consistencySchema.default('linearizable'),
    /** Largest frame accepted from a node. */
    maxFrameBytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024),
  })
  .strict()
  .refine((o) => o.requestTimeoutMs < o.sessionTimeoutMs, {
    message: 'must be less than sessionTimeoutMs (a retried command must reach the cluster while its session is still alive)',
    path: ['requestTimeoutMs'],
  });

export type ConnectOptions = z.input<typeof connectOptionsSchema>;
export type ResolvedConnectOptions = z.output<typeof connectOptionsSchema>;

export function parseConnectOptions(input: unknown): ResolvedConnectOptions {
  return parseConfig(connectOptionsSchema, input, 'connect');
}
