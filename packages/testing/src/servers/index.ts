/**
 * `@tessera/testing/servers`: real nats-server and redis-server processes for tests, each on an
 * ephemeral loopback port with its own temp dir, ready when the promise resolves, and killed by
 * `stop()` (or, as a safety net, when the test process exits).
 */
export { startNatsServer, type NatsServer, type NatsServerOptions, type NatsServerAuth } from './nats.js';
export { startRedisServer, type RedisServer, type RedisServerOptions } from './redis.js';
export type { TestServer } from './managed.js';
export { freePort } from './free-port.js';
export { findBinary } from './binary.js';
export { liveServerCount } from './process.js';
