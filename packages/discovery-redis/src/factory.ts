import { RedisDiscovery } from './discovery.js';
import { parseRedisDiscoveryOptions, type RedisDiscoveryOptions } from './options.js';

/**
 * Creates a {@link RedisDiscovery}. Options are validated at once: a bad field throws a
 * `ConfigError` naming it (`redisDiscovery.ttlMs: ...`). The instance starts connecting (and
 * keeps reconnecting) in the background; `register()` and the first `list()` wait up to
 * `connectTimeoutMs` for the connection. Call `close()` to deregister and release it.
 *
 * @example
 * const discovery = redisDiscovery({ url: 'redis://127.0.0.1:6379', clusterId: 'orders' });
 * await discovery.register({ id: 'n1', raftAddress: '10.0.0.1:7000', partitions: ['p0', 'p3'] });
 * const transport = tcpTransport({ listen, clusterId: 'orders', peers: raftAddressResolver(discovery) });
 */
export function redisDiscovery(options: RedisDiscoveryOptions): RedisDiscovery {
  return new RedisDiscovery(parseRedisDiscoveryOptions(options));
}
