/**
 * Redis key and channel names of one cluster. Every name carries the cluster's `{hash tag}`, so on
 * a Redis Cluster all of them live in one slot and the Lua scripts may touch them together.
 *
 * - `<prefix>:{<cluster>}:meta`     hash: `epoch` (random id of this registry's lifetime), `rev` (change counter)
 * - `<prefix>:{<cluster>}:nodes`    set of registered node ids (the index; cleaned of expired ids when listed)
 * - `<prefix>:{<cluster>}:node:<id>` hash: `token`, `rev`, `record` (JSON), expiring after the TTL
 * - `<prefix>:{<cluster>}:events`   pub/sub channel of `up` and `down` notifications
 */
export interface Keyspace {
  readonly meta: string;
  readonly index: string;
  readonly nodePrefix: string;
  readonly channel: string;
  node(id: string): string;
}

export function keyspace(prefix: string, clusterId: string): Keyspace {
  const ns = `${prefix}:{${clusterId}}`;
  const nodePrefix = `${ns}:node:`;
  return {
    meta: `${ns}:meta`,
    index: `${ns}:nodes`,
    nodePrefix,
    channel: `${ns}:events`,
    node: (id) => nodePrefix + id,
  };
}
