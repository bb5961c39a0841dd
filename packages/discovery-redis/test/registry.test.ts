import { describe, expect, it } from 'vitest';
import { raftAddressResolver } from '@tessera/raft';
import { keyspace } from '../src/index.js';
import { childNode, discovery, freshClusterId, killChild, memoryLogger, rawClient, record, recorder, redisServer, until } from './helpers.js';

describe('registration, listing and expiry', () => {
  it('records round-trip through Redis with every field, and feed a transport resolver', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const [a, b] = [discovery(redis, cluster), discovery(redis, cluster)];
    const full = {
      id: 'node-a',
      raftAddress: '[::1]:7000',
      clientAddress: '127.0.0.1:7001',
      adminAddress: 'http://127.0.0.1:7002',
      partitions: ['orders/0', 'orders/3'],
      meta: { zone: 'eu-1', version: '1.2.3' },
    };
    await a.register(full);
    expect(await b.list()).toEqual([full]);
    expect(raftAddressResolver(b)('node-a')).toBe('[::1]:7000');
    expect(raftAddressResolver(b)('node-x')).toBeUndefined();
  });

  it('a node that stops refreshing (SIGKILLed) expires and leaves every view', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const ttlMs = 600;
    const observer = discovery(redis, cluster, { ttlMs });
    await observer.register(record('o'));
    const seen = recorder(observer);
    const child = await childNode(redis, cluster, 'k', ttlMs);
    await until(() => observer.resolve('k') !== undefined);
    expect((await observer.list()).map((n) => n.id)).toEqual(['k', 'o']);

    await killChild(child);
    const killedAt = performance.now();
    await until(() => observer.resolve('k') === undefined);
    // It did not vanish before its registration could have expired (Redis expires, not us).
    expect(performance.now() - killedAt).toBeGreaterThanOrEqual(ttlMs / 2);
    expect(seen.of('k')).toEqual(['join', 'leave']);
    // The index no longer holds it, and the observer itself is still registered.
    const raw = rawClient(redis);
    const k = keyspace('tessera', cluster);
    expect(await raw.smembers(k.index)).toEqual(['o']);
    expect(await raw.exists(k.node('k'))).toBe(0);
    expect((await observer.list()).map((n) => n.id)).toEqual(['o']);
  });

  it('refreshing keeps a node registered far beyond its TTL', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const a = discovery(redis, cluster, { ttlMs: 400 });
    const b = discovery(redis, cluster, { ttlMs: 400 });
    await a.register(record('a'));
    expect((await b.list()).map((n) => n.id)).toEqual(['a']);
    const seen = recorder(b);
    // Twenty refreshes at ttl/6 span more than three TTLs.
    await until(() => a.status().refreshes >= 20);
    expect(await rawClient(redis).pttl(keyspace('tessera', cluster).node('a'))).toBeGreaterThan(0);
    expect(b.resolve('a')).toBeDefined();
    expect(seen.events).toEqual([]);
    expect(a.status()).toMatchObject({ registered: true, displaced: false, reregistrations: 0, refreshFailures: 0 });
  });

  it('updates racing with background refreshes never bring back an older record', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    // Refreshing every 10 ms, so that many refreshes fall between an update's write and its reply.
    const a = discovery(redis, cluster, { ttlMs: 1_000, refreshMs: 10 });
    const observer = discovery(redis, cluster);
    await observer.list();
    const versions: number[] = [];
    observer.watch((e) => versions.push(Number(e.node.partitions?.[0]?.slice(1) ?? -1)));
    const updates = 150;
    for (let i = 0; i < updates; i++) await a.register(record('a', { partitions: [`p${i}`] }));
    await until(() => versions.at(-1) === updates - 1);
    // Notifications of one node arrive in write order, so the versions seen only ever go up.
    expect(versions.every((v, i) => i === 0 || v > versions[i - 1]!)).toBe(true);
    const refreshes = a.status().refreshes;
    await until(() => a.status().refreshes >= refreshes + 5);
    expect((await observer.list())[0]!.partitions).toEqual([`p${updates - 1}`]);
  });

  it('clusters sharing one Redis do not see each other', async () => {
    const redis = await redisServer();
    const a = discovery(redis, freshClusterId());
    const b = discovery(redis, freshClusterId());
    const c = discovery(redis, freshClusterId(), { keyPrefix: 'other' });
    await a.register(record('a'));
    await b.register(record('b'));
    await c.register(record('c'));
    expect((await a.list()).map((n) => n.id)).toEqual(['a']);
    expect((await b.list()).map((n) => n.id)).toEqual(['b']);
    expect((await c.list()).map((n) => n.id)).toEqual(['c']);
  });

  it('two processes with one node id: the later registration wins, the earlier one backs off', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const log1 = memoryLogger();
    const first = discovery(redis, cluster, { ttlMs: 600, logger: log1 });
    const second = discovery(redis, cluster, { ttlMs: 600 });
    const observer = discovery(redis, cluster, { ttlMs: 600 });
    await first.register(record('x'));
    await second.register(record('x', { raftAddress: '127.0.0.1:9999' }));
    await until(() => first.status().displaced);
    expect(first.status().registered).toBe(false);
    expect(log1.lines.some((l) => l.level === 'error' && /registered by another process/.test(l.msg))).toBe(true);
    // The registry settles on the second process's record and stays there.
    const refreshesBefore = second.status().refreshes;
    await until(() => second.status().refreshes >= refreshesBefore + 3);
    await observer.list();
    expect(observer.resolve('x')?.raftAddress).toBe('127.0.0.1:9999');
    // Closing the displaced instance does not remove the other's registration.
    await first.close();
    expect((await observer.list()).map((n) => n.raftAddress)).toEqual(['127.0.0.1:9999']);
  });

  it('malformed notifications and registrations are logged and skipped; the node keeps serving', async () => {
    const redis = await redisServer();
    const cluster = freshClusterId();
    const k = keyspace('tessera', cluster);
    const log = memoryLogger();
    const a = discovery(redis, cluster, { logger: log });
    const b = discovery(redis, cluster);
    await a.register(record('a'));
    const raw = rawClient(redis);
    for (const garbage of ['not json', '{"t":"up"}', JSON.stringify({ t: 'up', e: 'x', r: 1, id: 'evil', k: 't', rec: '{"id":"evil"}' }), '[]']) {
      await raw.publish(k.channel, garbage);
    }
    await raw.hset(k.node('bad1'), 'token', 't', 'rev', '1', 'record', '{"id":"bad1","raftAddress":"nowhere"}');
    await raw.hset(k.node('bad2'), 'token', 't', 'rev', '1', 'record', '{"id":"someone-else","raftAddress":"127.0.0.1:1"}');
    await raw.hset(k.node('bad3'), 'token', 't', 'rev', 'NaN', 'record', '{}');
    await raw.sadd(k.index, 'bad1', 'bad2', 'bad3');
    await until(() => a.status().malformed >= 4);
    expect((await a.list()).map((n) => n.id)).toEqual(['a']);
    expect(a.status().malformed).toBeGreaterThanOrEqual(7);
    expect(a.resolve('evil')).toBeUndefined();
    expect(log.lines.filter((l) => l.level === 'warn').length).toBeGreaterThanOrEqual(7);
    // Still working: a new node is seen.
    await b.register(record('b'));
    await until(() => a.resolve('b') !== undefined);
  });
});
