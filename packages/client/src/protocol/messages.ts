/**
 * The client <-> node protocol messages. Every message is a MessagePack array; the first element
 * is the request id (0 for pushed events). Nodes validate every decoded request with the zod
 * schemas below; clients validate responses. See docs/partitions.md, "Client protocol".
 *
 * Requests (client -> node):
 *
 *   [id, 'hello', {version}]                                        -> ClusterMap
 *   [id, 'map']                                                     -> ClusterMap
 *   [id, 'cmd', partition, session, seq, ackBelow, open, timeoutMs,
 *        type, name, op, input, key | null]                         -> result      (index = log index)
 *   [id, 'query', partition, type, name, op, input, key | null,
 *        consistency, minIndex]                                     -> result      (index = applied index)
 *   [id, 'keepalive', partition, session, open, timeoutMs]          -> null
 *   [id, 'close', partition, session]                               -> null
 *   [id, 'sub', partition, type, name]                              -> current state (events follow)
 *   [id, 'unsub', subscriptionId]                                   -> null
 *   [id, 'ping']                                                    -> null
 *
 * Responses and events (node -> client):
 *
 *   [id, 0, result, index]            success
 *   [id, 1, WireError]                failure
 *   [0, 2, subscriptionId, event, index]  an event of a subscription (subscriptionId = the 'sub' request id)
 */
import { z } from 'zod';

/** Protocol version spoken by this build; a node refuses a hello with another major version. */
export const CLIENT_PROTOCOL_VERSION = 1;

export const ResponseKind = { Ok: 0, Error: 1, Event: 2 } as const;

/** How a read is served. */
export type Consistency = 'linearizable' | 'lease' | 'sequential' | 'stale';
export const consistencySchema = z.enum(['linearizable', 'lease', 'sequential', 'stale']);

const id = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const partition = z.number().int().min(0).max(1 << 20);
const session = z.string().min(1).max(128);
const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const name = z.string().min(1).max(1024);
const typeName = z.string().min(1).max(128);
const op = z.string().min(1).max(128);
const key = z.union([z.string().max(64 * 1024), z.null()]);
const timeoutMs = z.number().int().min(100).max(24 * 3600 * 1000);

export const helloRequest = z.tuple([id, z.literal('hello'), z.object({ version: z.number().int() }).passthrough()]);
export const mapRequest = z.tuple([id, z.literal('map')]);
export const commandRequest = z.tuple([
  id,
  z.literal('cmd'),
  partition,
  session,
  seq,
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z.boolean(),
  timeoutMs,
  typeName,
  name,
  op,
  z.unknown(),
  key,
]);
export const queryRequest = z.tuple([id, z.literal('query'), partition, typeName, name, op, z.unknown(), key, consistencySchema, z.number().int().min(0)]);
export const keepAliveRequest = z.tuple([id, z.literal('keepalive'), partition, session, z.boolean(), timeoutMs]);
export const closeRequest = z.tuple([id, z.literal('close'), partition, session]);
export const subscribeRequest = z.tuple([id, z.literal('sub'), partition, typeName, name]);
export const unsubscribeRequest = z.tuple([id, z.literal('unsub'), id]);
export const pingRequest = z.tuple([id, z.literal('ping')]);

export type HelloRequest = z.infer<typeof helloRequest>;
export type CommandRequest = z.infer<typeof commandRequest>;
export type QueryRequest = z.infer<typeof queryRequest>;

/** Request schemas by kind (element 1 of the array). */
export const requestSchemas = {
  hello: helloRequest,
  map: mapRequest,
  cmd: commandRequest,
  query: queryRequest,
  keepalive: keepAliveRequest,
  close: closeRequest,
  sub: subscribeRequest,
  unsub: unsubscribeRequest,
  ping: pingRequest,
} as const;
export type RequestKind = keyof typeof requestSchemas;

/** An error as it crosses the wire. `leader`/`leaderAddress` accompany NOT_LEADER when known. */
export const wireErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  leader: z.string().optional(),
  leaderAddress: z.string().optional(),
  partition: z.number().int().optional(),
});
export type WireError = z.infer<typeof wireErrorSchema>;

/** What a node tells a client about the cluster: the partition map and who leads each partition. */
export const clusterMapSchema = z.object({
  clusterId: z.string(),
  nodeId: z.string(),
  version: z.number().int(),
  partitions: z.number().int().min(1),
  replicationFactor: z.number().int().min(1),
  /** Client addresses ("host:port") of the members this node knows. */
  members: z.array(z.object({ id: z.string(), address: z.string().optional() })),
  /** Per partition: the node ids holding a replica, in placement order (the first is the preferred leader). */
  replicas: z.array(z.array(z.string())),
  /** Per partition: the leader as this node knows it, or null. */
  leaders: z.array(z.union([z.string(), z.null()])),
});
export type ClusterMap = z.infer<typeof clusterMapSchema>;

const isInt = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isStr = (v: unknown, min: number, max: number): boolean => typeof v === 'string' && v.length >= min && v.length <= max;

/**
 * The hot-path equivalent of `commandRequest.safeParse(m).success` (same constraints, no
 * allocation). Nodes use it first and fall back to the zod schema, which also produces the error
 * message; a test checks that both agree.
 */
export function isCommandRequest(m: readonly unknown[]): boolean {
  return (
    m.length === 13 &&
    isInt(m[0], 1, Number.MAX_SAFE_INTEGER) &&
    m[1] === 'cmd' &&
    isInt(m[2], 0, 1 << 20) &&
    isStr(m[3], 1, 128) &&
    isInt(m[4], 1, Number.MAX_SAFE_INTEGER) &&
    isInt(m[5], 0, Number.MAX_SAFE_INTEGER) &&
    typeof m[6] === 'boolean' &&
    isInt(m[7], 100, 24 * 3600 * 1000) &&
    isStr(m[8], 1, 128) &&
    isStr(m[9], 1, 1024) &&
    isStr(m[10], 1, 128) &&
    (m[12] === null || isStr(m[12], 0, 64 * 1024))
  );
}
