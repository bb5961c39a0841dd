import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from '@tessera/testing/servers';
import { redisDiscovery } from '../src/index.js';
import { discoverySuite } from '@tessera/testing/discovery';
import { fast, freshClusterId } from './helpers.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

// One redis-server for the file; each test gets a cluster id of its own, which isolates it.
discoverySuite(
  'redis',
  async () => {
    const clusterId = freshClusterId();
    return { create: () => redisDiscovery({ url: server.url, clusterId, ...fast }) };
  },
  { shared: true },
);
