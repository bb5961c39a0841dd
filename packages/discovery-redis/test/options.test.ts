import { describe, expect, it } from 'vitest';
import { keyspace, parseRedisDiscoveryOptions, redisDiscovery } from '../src/index.js';

const base = { url: 'redis://127.0.0.1:6379', clusterId: 'c1' };

describe('options', () => {
  it('rejects bad options with a ConfigError naming the field, before connecting to anything', () => {
    const before = process.getActiveResourcesInfo().length;
    const bad: [unknown, string][] = [
      [{ clusterId: 'c1' }, 'redisDiscovery.url'],
      [{ ...base, url: 'http://127.0.0.1:6379' }, 'redisDiscovery.url'],
      [{ ...base, url: 'not a url' }, 'redisDiscovery.url'],
      [{ url: base.url }, 'redisDiscovery.clusterId'],
      [{ ...base, clusterId: 'a{b}' }, 'redisDiscovery.clusterId'],
      [{ ...base, clusterId: '' }, 'redisDiscovery.clusterId'],
      [{ ...base, keyPrefix: 'x:y' }, 'redisDiscovery.keyPrefix'],
      [{ ...base, ttlMs: 50 }, 'redisDiscovery.ttlMs'],
      [{ ...base, ttlMs: '15s' }, 'redisDiscovery.ttlMs'],
      [{ ...base, ttlMs: 1_000, refreshMs: 1_000 }, 'redisDiscovery.refreshMs'],
      [{ ...base, refreshMs: 20_000 }, 'redisDiscovery.refreshMs'],
      [{ ...base, syncIntervalMs: 0 }, 'redisDiscovery.syncIntervalMs'],
      [{ ...base, commandTimeoutMs: 1.5 }, 'redisDiscovery.commandTimeoutMs'],
      [{ ...base, reconnect: { initialMs: 500, maxMs: 100 } }, 'redisDiscovery.reconnect.initialMs'],
      [{ ...base, reconnect: { maxMs: -1 } }, 'redisDiscovery.reconnect.maxMs'],
      [{ ...base, tls: { cert: 'PEM' } }, 'redisDiscovery.tls.key'],
      [{ ...base, db: -1 }, 'redisDiscovery.db'],
      [{ ...base, logger: console.log }, 'redisDiscovery.logger'],
      [{ ...base, clock: {} }, 'redisDiscovery.clock'],
    ];
    for (const [input, path] of bad) {
      expect(() => redisDiscovery(input as never), path).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'CONFIG_INVALID', path }));
    }
    expect(() => redisDiscovery({ ...base, ttl: 5 } as never)).toThrow(/Unrecognized key.*ttl/);
    expect(() => redisDiscovery({ ...base, ttlMs: 50 })).toThrow(/^redisDiscovery\.ttlMs: /);
    expect(process.getActiveResourcesInfo().length).toBe(before);
  });

  it('fills defaults: refresh and sync every third of the TTL', () => {
    const o = parseRedisDiscoveryOptions(base);
    expect(o).toMatchObject({ keyPrefix: 'tessera', ttlMs: 15_000, refreshMs: 5_000, syncIntervalMs: 5_000, commandTimeoutMs: 2_000, reconnect: { initialMs: 100, maxMs: 5_000 } });
    expect(parseRedisDiscoveryOptions({ ...base, ttlMs: 900, syncIntervalMs: 2_000 })).toMatchObject({ refreshMs: 300, syncIntervalMs: 2_000 });
  });

  it('keys of one cluster share a hash tag and never collide with another cluster', () => {
    const k = keyspace('tessera', 'orders');
    expect([k.meta, k.index, k.node('n1'), k.channel]).toEqual(['tessera:{orders}:meta', 'tessera:{orders}:nodes', 'tessera:{orders}:node:n1', 'tessera:{orders}:events']);
    expect(keyspace('tessera', 'orders2').node('n1')).not.toBe(k.node('n1'));
  });
});
