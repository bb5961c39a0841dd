/**
 * The node configuration: one zod schema for the file `tessera node start --config FILE` reads
 * (JSON or YAML), the environment overrides laid over it, and the JSON Schema published next to
 * the package (`schema/node-config.schema.json`, generated from this schema at build time).
 * File paths in it (TLS material, secrets, network modules) are relative to the config file.
 */
import { raftConfigSchema } from '@tessera/raft';
import { z } from 'zod';

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;
const TOKEN = /^[A-Za-z0-9_.-]+$/;

/** `host:port` with a port in 1..65535 (IPv6 hosts in brackets). */
export const addressSchema = z
  .string()
  .regex(HOST_PORT, 'expected host:port (IPv6 hosts in brackets)')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'port must be 1..65535');

/** Where a server binds. Port 0 picks a free port (the bound address is reported in `/status` and logs). */
export const listenSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(0),
  })
  .strict();

const memberSchema = z
  .object({
    id: z.string().min(1).max(255),
    /** Where peers reach this member's Raft transport (static discovery, TCP). */
    raftAddress: addressSchema.optional().describe('Where peers reach this member\'s Raft transport (static discovery, TCP).'),
    /** Where clients reach it. */
    clientAddress: addressSchema.optional().describe('Where clients reach it.'),
    /** Where it serves /status, /metrics and /health. */
    adminAddress: addressSchema.optional().describe('Where it serves /status, /metrics and /health.'),
  })
  .strict();

const tlsSchema = z
  .object({
    /** PEM file of this node's certificate chain. */
    cert: z.string().min(1).describe('PEM file of this node\'s certificate chain.'),
    /** PEM file of its private key. */
    key: z.string().min(1).describe('PEM file of its private key.'),
    /** PEM file of the CA peers' certificates must chain to (default: the system roots). */
    ca: z.string().min(1).optional().describe('PEM file of the CA peers\' certificates must chain to (default: the system roots).'),
    /** Require and verify a client certificate on inbound connections. */
    mutual: z.boolean().default(true).describe('Require and verify a client certificate on inbound connections.'),
    /** Also require the peer certificate to name the node id the peer claims. */
    requireNodeIdInCert: z.boolean().default(false).describe('Also require the peer certificate to name the node id the peer claims.'),
  })
  .strict();

const secretFields = {
  /** Shared secret (at least 16 characters) authenticating peers. Prefer `secretFile`. */
  secret: z.string().min(16, 'must be at least 16 characters').optional().describe('Shared secret (at least 16 characters) authenticating peers. Prefer `secretFile`.'),
  /** File holding the shared secret (trailing whitespace is ignored). */
  secretFile: z.string().min(1).optional().describe('File holding the shared secret (trailing whitespace is ignored).'),
};

const tcpSchema = z
  .object({
    kind: z.literal('tcp'),
    /** Where the Raft transport listens. */
    listen: listenSchema.default({ host: '127.0.0.1', port: 0 }).describe('Where the Raft transport listens.'),
    /** The address announced to peers, if not the bound one. */
    advertise: addressSchema.optional().describe('The address announced to peers, if not the bound one.'),
    tls: tlsSchema.optional(),
    ...secretFields,
  })
  .strict();

const natsSchema = z
  .object({
    kind: z.literal('nats'),
    /** NATS server URLs, e.g. `nats://127.0.0.1:4222`. */
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).describe('NATS server URLs, e.g. `nats://127.0.0.1:4222`.'),
    /** Subject prefix (default `tessera`). */
    subjectPrefix: z.string().min(1).regex(TOKEN, 'must be letters, digits, "_", "." or "-"').optional().describe('Subject prefix (default `tessera`).'),
    token: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    pass: z.string().optional(),
    ...secretFields,
  })
  .strict();

const storageSchema = z.discriminatedUnion('engine', [
  z
    .object({
      engine: z.literal('file'),
      /** `always` fdatasyncs every append before acknowledging it (default); `interval` and `never` trade durability for speed. */
      sync: z.enum(['always', 'interval', 'never']).default('always').describe('`always` fdatasyncs every append before acknowledging it (default); `interval` and `never` trade durability for speed.'),
      syncIntervalMs: z.number().int().min(1).max(60_000).default(100),
    })
    .strict(),
  z
    .object({
      engine: z.literal('rocksdb'),
      sync: z.enum(['always', 'never']).default('always'),
    })
    .strict(),
  z.object({ engine: z.literal('memory') }).strict(),
]);

const discoverySchema = z.discriminatedUnion('kind', [
  /** The members' addresses come from `members` (or, under `tessera cluster up`, from the supervisor). */
  z.object({ kind: z.literal('static') }).strict().describe('The members\' addresses come from `members` (or, under `tessera cluster up`, from the supervisor).'),
  /** Nodes register in Redis with a TTL and find each other there (`@tessera/discovery-redis`). */
  z
    .object({
      kind: z.literal('redis'),
      /** `redis://host:port[/db]` or `rediss://...`. */
      url: z.string().min(1).describe('`redis://host:port[/db]` or `rediss://...`.'),
      keyPrefix: z.string().min(1).max(128).regex(TOKEN, 'must be letters, digits, "_", "." or "-"').optional(),
      /** A node that stops refreshing leaves everyone's view after this long. */
      ttlMs: z.number().int().min(100).max(86_400_000).optional().describe('A node that stops refreshing leaves everyone\'s view after this long.'),
      password: z.string().min(1).optional(),
    })
    .strict(),
]);

/** Log levels, as pino names them. */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** The configuration of one node (`tessera node start --config FILE`). */
export const nodeConfigSchema = z
  .object({
    /** This node's id; must be one of `members`. */
    id: z.string().min(1).max(255).describe('This node\'s id; must be one of `members`.'),
    /** Name of the cluster; peers and clients of another cluster are refused. */
    clusterId: z.string().min(1).max(128).regex(TOKEN, 'must be letters, digits, "_", "." or "-"').default('tessera').describe('Name of the cluster; peers and clients of another cluster are refused.'),
    /** Where the node keeps its data (file and rocksdb storage). Relative to the config file. */
    dataDir: z.string().min(1).optional().describe('Where the node keeps its data (file and rocksdb storage). Relative to the config file.'),
    /** Every node of the cluster, this one included: ids, or objects with addresses (static discovery). */
    members: z.array(z.union([z.string().min(1).max(255), memberSchema])).min(1).describe('Every node of the cluster, this one included: ids, or objects with addresses (static discovery).'),
    partitions: z
      .object({
        /** Number of partitions. Part of the data layout: never change it for an existing cluster. */
        count: z.number().int().min(1).max(65_536).default(8).describe('Number of partitions. Part of the data layout: never change it for an existing cluster.'),
        /** Replicas per partition, on distinct nodes (at most the number of members). */
        replicationFactor: z.number().int().min(1).max(15).default(3).describe('Replicas per partition, on distinct nodes (at most the number of members).'),
      })
      .strict()
      .default({ count: 8, replicationFactor: 3 })
      .describe('How many partitions and replicas of each.'),
    storage: storageSchema.default({ engine: 'file', sync: 'always', syncIntervalMs: 100 }).describe('The storage engine of every partition on this node: file (default), rocksdb or memory.'),
    transport: z.discriminatedUnion('kind', [tcpSchema, natsSchema]).default({ kind: 'tcp', listen: { host: '127.0.0.1', port: 0 } }).describe('The Raft transport between nodes: tcp (default) or nats.'),
    discovery: discoverySchema.default({ kind: 'static' }).describe('How nodes find each other\'s addresses: static (from members, the default) or redis.'),
    /** The client protocol server (what `@tessera/client` and `tessera kv` talk to). */
    client: z
      .object({
        listen: listenSchema.default({ host: '127.0.0.1', port: 0 }),
        advertise: addressSchema.optional(),
      })
      .strict()
      .default({ listen: { host: '127.0.0.1', port: 0 } })
      .describe('The client protocol server (what @tessera/client and tessera kv talk to).'),
    /** The admin HTTP server (`/status`, `/metrics`, `/health`); `false` for none. */
    admin: z
      .union([z.literal(false), z.object({ listen: listenSchema.default({ host: '127.0.0.1', port: 0 }) }).strict()])
      .default({ listen: { host: '127.0.0.1', port: 0 } })
      .describe('The admin HTTP server (/status, /metrics, /health); false for none.'),
    /** Raft settings of every partition group (see docs/raft.md). */
    raft: raftConfigSchema.optional().describe('Raft settings of every partition group (see docs/raft.md).'),
    balancer: z
      .object({
        /** Move each partition's leadership to its preferred replica when that one is healthy. */
        enabled: z.boolean().default(true).describe('Move each partition\'s leadership to its preferred replica when that one is healthy.'),
        intervalMs: z.number().int().min(10).default(1_000),
      })
      .strict()
      .default({ enabled: true, intervalMs: 1_000 })
      .describe('Leader balancing: moves each partition\'s leadership to its preferred replica.'),
    log: z
      .object({
        level: z.enum(logLevels).default('info'),
      })
      .strict()
      .default({ level: 'info' })
      .describe('Structured logs (pino, JSON lines on stdout).'),
    /**
     * Component networks this node hosts: ES modules exporting a network built with
     * `@tessera/components`. Every node of the cluster must host the same networks.
     */
    networks: z
      .array(
        z
          .object({
            /** Path of the module (relative to the config file) or a package specifier. */
            module: z.string().min(1).describe('Path of the module (relative to the config file) or a package specifier.'),
            /** The export holding the network. */
            export: z.string().min(1).default('default').describe('The export holding the network.'),
          })
          .strict(),
      )
      .default([])
      .describe('Component networks this node hosts: ES modules exporting a network built with @tessera/components.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ids = c.members.map((m) => (typeof m === 'string' ? m : m.id));
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['members', i], message: `duplicate member id ${JSON.stringify(id)}` });
      seen.add(id);
    });
    if (!seen.has(c.id)) ctx.addIssue({ code: 'custom', path: ['id'], message: `${JSON.stringify(c.id)} is not one of members (${ids.join(', ')})` });
    if (c.partitions.replicationFactor > ids.length) {
      ctx.addIssue({ code: 'custom', path: ['partitions', 'replicationFactor'], message: `${c.partitions.replicationFactor} replicas need at least as many members (there are ${ids.length})` });
    }
    if (c.storage.engine !== 'memory' && c.dataDir === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dataDir'], message: `required with ${c.storage.engine} storage` });
    }
    if (c.transport.kind === 'tcp' && c.transport.secret !== undefined && c.transport.secretFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['transport', 'secretFile'], message: 'give secret or secretFile, not both' });
    }
  });

/** A node configuration as written in a file. */
export type NodeConfigInput = z.input<typeof nodeConfigSchema>;
/** A validated node configuration, defaults filled in. */
export type NodeConfig = z.output<typeof nodeConfigSchema>;

/** The JSON Schema of the node configuration file. */
export function nodeConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(nodeConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { title: 'Tessera node configuration', ...schema };
}
