import { parseConfig, type Clock, type Logger } from '@tessera/raft';
import { z } from 'zod';

/** Letters, digits and `_ . -`: ids end up inside Redis keys and a `{hash tag}`, so no braces or colons. */
const TOKEN = /^[A-Za-z0-9_.-]+$/;

const reconnectSchema = z
  .object({
    /** Delay before the first reconnect attempt. */
    initialMs: z.number().int().min(1).default(100),
    /** Cap of the exponential backoff. Each delay is jittered into [delay/2, delay]. */
    maxMs: z.number().int().min(1).default(5_000),
  })
  .strict()
  .refine((r) => r.initialMs <= r.maxMs, { message: 'must not exceed maxMs', path: ['initialMs'] });

const pem = z.union([z.string().min(1), z.instanceof(Uint8Array)]);

const tlsSchema = z
  .object({
    /** CA certificate(s) the server's certificate must chain to; default the system roots. */
    ca: z.union([pem, z.array(pem).min(1)]).optional(),
    /** Client certificate, for servers that require one. */
    cert: pem.optional(),
    /** Private key of `cert`. */
    key: pem.optional(),
    /** Server name to verify (and send as SNI), if not the URL's host. */
    servername: z.string().min(1).optional(),
    /** Verify the server certificate. Turn off only for tests. */
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together', path: ['key'] });

const isLogger = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && ['debug', 'info', 'warn', 'error'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function');
const isClock = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && ['now', 'setTimer', 'setInterval'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function');

/**
 * Options of {@link redisDiscovery}. Only `url` and `clusterId` are required. Times are milliseconds.
 * Every node of a cluster should use the same `ttlMs`.
 */
export const redisDiscoveryOptionsSchema = z
  .object({
    /** `redis://[user:password@]host:port[/db]` or `rediss://...` for TLS. */
    url: z.string().refine((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
      } catch {
        return false;
      }
    }, 'expected a redis:// or rediss:// URL with a host'),
    /** ACL user name (overrides the URL's). */
    username: z.string().min(1).optional(),
    /** Password (overrides the URL's). */
    password: z.string().min(1).optional(),
    /** Database number (overrides the URL's path). */
    db: z.number().int().min(0).max(1_000_000).optional(),
    /** TLS settings; implied (with defaults) by a `rediss://` URL. */
    tls: tlsSchema.optional(),
    /** Clusters sharing one Redis never see each other's nodes. */
    clusterId: z.string().min(1).max(128).regex(TOKEN, 'must be letters, digits, "_", "." or "-"'),
    /** First part of every key and channel name. */
    keyPrefix: z.string().min(1).max(128).regex(TOKEN, 'must be letters, digits, "_", "." or "-"').default('tessera'),
    /** A registration not refreshed for this long expires, and the node leaves everyone's view. */
    ttlMs: z.number().int().min(100).max(86_400_000).default(15_000),
    /** How often this node refreshes its registration; default a third of `ttlMs`. Must be less than `ttlMs`. */
    refreshMs: z.number().int().min(10).optional(),
    /** How often the whole registry is read (the fallback for missed notifications, and how expiries are seen); default `refreshMs`. */
    syncIntervalMs: z.number().int().min(10).optional(),
    /** A Redis command not answered within this time fails (and is retried by the next refresh). */
    commandTimeoutMs: z.number().int().min(1).default(2_000),
    /** How long `register()` and the first `list()` wait for a connection before failing with DiscoveryUnavailableError. */
    connectTimeoutMs: z.number().int().min(1).default(10_000),
    reconnect: reconnectSchema.default({ initialMs: 100, maxMs: 5_000 }),
    /** Where connection problems (rate-limited), expiries and conflicts are reported. */
    logger: z.custom<Logger>(isLogger, 'expected a logger with debug/info/warn/error').optional(),
    /** Time source for timers; the system clock by default. Expiry itself runs on Redis's clock. */
    clock: z.custom<Clock>(isClock, 'expected a Clock (now, setTimer, setInterval)').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.refreshMs !== undefined && o.refreshMs >= o.ttlMs) {
      ctx.addIssue({ code: 'custom', message: `must be less than ttlMs (${o.ttlMs})`, path: ['refreshMs'] });
    }
  })
  .transform((o) => {
    const refreshMs = o.refreshMs ?? Math.max(10, Math.floor(o.ttlMs / 3));
    return { ...o, refreshMs, syncIntervalMs: o.syncIntervalMs ?? refreshMs };
  });

export type RedisDiscoveryOptions = z.input<typeof redisDiscoveryOptionsSchema>;
export type ResolvedRedisDiscoveryOptions = z.output<typeof redisDiscoveryOptionsSchema>;

/** Validates options, throwing a ConfigError naming the field (e.g. `redisDiscovery.ttlMs: ...`). */
export function parseRedisDiscoveryOptions(input: unknown): ResolvedRedisDiscoveryOptions {
  return parseConfig(redisDiscoveryOptionsSchema, input, 'redisDiscovery');
}
