/**
 * @tessera/discovery-redis: node discovery through Redis. Nodes register with a TTL and refresh
 * it; everyone lists, resolves and watches the cluster's nodes; a node that stops refreshing expires.
 */
export { redisDiscovery } from './factory.js';
export { RedisDiscovery, type RedisDiscoveryStatus } from './discovery.js';
export { redisDiscoveryOptionsSchema, parseRedisDiscoveryOptions, type RedisDiscoveryOptions, type ResolvedRedisDiscoveryOptions } from './options.js';
export { keyspace, type Keyspace } from './keys.js';
