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
 *   [id, 'cmds', partition, session, open, timeoutMs, ackBelow,
 *        type, name, op, ids[], seqs[], inputs[], keys[]]           -> one result per command
 *        (a run of commands that differ only in id, seq, input and key: one message instead of
 *        one each; `id` is ids[0], each command is answered under its own id; ackBelow holds
 *        for every command of the run)
 *   [id, 'query', partition, type, name, op, input, key | null,
 *        consistency, minIndex]                                     -> result      (index = applied index)
 *   [id, 'keepalive', partition, session, open, timeoutMs]          -> null
 *   [id, 'close', partition, session]                               -> null
 *   [id, 'sub', partition, type, name]                              -> current state (events follow;
 *        served by the partition's leader only: a replica that lags could skip events by installing
 *        a snapshot)
 *   [id, 'unsub', subscriptionId]                                   -> null
 *   [id, 'ping']                                                    -> null
 *
 * Responses and events (node -> client):
 *
 *   [id, 0, result, index]            success
 *   [id, 1, WireError]                failure
 *   [0, 2, subscriptionId, event, index]  an event of a subscription (subscriptionId = the 'sub' request id)
 *   [0, 3, ids[], results[], index]   success of several commands at the same log index (one entry)
 *   [0, 4, subscriptionId, reason]    the subscription ended on this node (its replica replaced its
 *                                     state with a snapshot, skipping events): subscribe again
 */
import { z } from 'zod';

/** Protocol version spoken by this build; a node refuses a hello with another major version. */
export const CLIENT_PROTOCOL_VERSION = 1;

export const ResponseKind = { Ok: 0, Error: 1, Event: 2, OkMany: 3, SubscriptionEnded: 4 } as const;

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
/** Most commands in one `cmds` run. */
export const MAX_RUN = 4096;
export const commandRunRequest = z
  .tuple([
    id,
    z.literal('cmds'),
    partition,
    session,
    z.boolean(),
    timeoutMs,
    z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    typeName,
    name,
    op,
    z.array(id).min(1).max(MAX_RUN),
    z.array(seq).min(1).max(MAX_RUN),
    z.array(z.unknown()).min(1).max(MAX_RUN),
    z.array(key).min(1).max(MAX_RUN),
  ])
  .refine((m) => m[10][0] === m[0] && m[11].length === m[10].length && m[12].length === m[10].length && m[13].length === m[10].length, {
    message: 'ids, seqs, inputs and keys must have the same length and ids[0] must be the request id',
  });
export const queryRequest = z.tuple([id, z.literal('query'), partition, typeName, name, op, z.unknown(), key, consistencySchema, z.number().int().min(0)]);
export const keepAliveRequest = z.tuple([id, z.literal('keepalive'), partition, session, z.boolean(), timeoutMs]);
export const closeRequest = z.tuple([id, z.literal('close'), partition, session]);
export const subscribeRequest = z.tuple([id, z.literal('sub'), partition, typeName, name]);
export const unsubscribeRequest = z.tuple([id, z.literal('unsub'), id]);
export const pingRequest = z.tuple([id, z.literal('ping')]);

export type HelloRequest = z.infer<typeof helloRequest>;
export type CommandRequest = z.infer<typeof commandRequest>;
export type CommandRunRequest = z.infer<typeof commandRunRequest>;
export type QueryRequest = z.infer<typeof queryRequest>;

/** Request schemas by kind (element 1 of the array). */
export const requestSchemas = {
  hello: helloRequest,
  map: mapRequest,
  cmd: commandRequest,
  cmds: commandRunRequest,
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

const allInts = (a: unknown, min: number, max: number): boolean => {
  if (!Array.isArray(a) || a.length < 1 || a.length > MAX_RUN) return false;
  for (let i = 0; i < a.length; i++) if (!isInt(a[i], min, max)) return false;
  return true;
};

/** The hot-path equivalent of `commandRunRequest.safeParse(m).success`; a test checks that both agree. */
export function isCommandRunRequest(m: readonly unknown[]): boolean {
  if (
    !(
      m.length === 14 &&
      isInt(m[0], 1, Number.MAX_SAFE_INTEGER) &&
      m[1] === 'cmds' &&
      isInt(m[2], 0, 1 << 20) &&
      isStr(m[3], 1, 128) &&
      typeof m[4] === 'boolean' &&
      isInt(m[5], 100, 24 * 3600 * 1000) &&
      isInt(m[6], 0, Number.MAX_SAFE_INTEGER) &&
      isStr(m[7], 1, 128) &&
      isStr(m[8], 1, 1024) &&
      isStr(m[9], 1, 128) &&
      allInts(m[10], 1, Number.MAX_SAFE_INTEGER) &&
      allInts(m[11], 1, Number.MAX_SAFE_INTEGER)
    )
  )
    return false;
  const ids = m[10] as number[];
  const inputs = m[12];
  const keys = m[13];
  if (ids[0] !== m[0] || (m[11] as number[]).length !== ids.length || !Array.isArray(inputs) || inputs.length !== ids.length || !Array.isArray(keys) || keys.length !== ids.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k !== null && !isStr(k, 0, 64 * 1024)) return false;
  }
  return true;
}

/**
 * Merges `cmd` requests into `cmds` runs: consecutive commands (per partition, so the order of a
 * partition's commands is kept) that agree on everything but id, seq, input and key travel as one
 * message. The run's ackBelow is the largest of its commands': every command of the run is still
 * waiting for its answer, so all their seqs are at or above it. Other messages pass unchanged.
 */
export function coalesceCommands(msgs: unknown[][]): unknown[][] {
  let out: unknown[][] | undefined;
  let open: Map<number, unknown[]> | undefined;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m[1] !== 'cmd' || m.length !== 13) {
      if (out) out.push(m);
      continue;
    }
    open ??= new Map();
    const p = m[2] as number;
    const run = open.get(p);
    if (run && run[3] === m[3] && run[4] === m[6] && run[5] === m[7] && run[7] === m[8] && run[8] === m[9] && run[9] === m[10]) {
      if ((m[5] as number) > (run[6] as number)) run[6] = m[5];
      (run[10] as unknown[]).push(m[0]);
      (run[11] as unknown[]).push(m[4]);
      (run[12] as unknown[]).push(m[11]);
      (run[13] as unknown[]).push(m[12]);
      if ((run[10] as unknown[]).length >= MAX_RUN) open.delete(p);
      continue;
    }
    if (!out) out = msgs.slice(0, i);
    const next = [m[0], 'cmds', p, m[3], m[6], m[7], m[5], m[8], m[9], m[10], [m[0]], [m[4]], [m[11]], [m[12]]];
    open.set(p, next);
    out.push(next);
  }
  if (!out) return msgs;
  // A run of one goes as the plain command it was.
  for (let i = 0; i < out.length; i++) {
    const r = out[i]!;
    if (r[1] === 'cmds' && (r[10] as unknown[]).length === 1) out[i] = [r[0], 'cmd', r[2], r[3], (r[11] as unknown[])[0], r[6], r[4], r[5], r[7], r[8], r[9], (r[12] as unknown[])[0], (r[13] as unknown[])[0]];
  }
  return out;
}
